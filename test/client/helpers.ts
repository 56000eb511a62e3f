import { createServer, type Server, Socket } from 'node:net';
import type { Settings } from '../../src/config.js';
import { type Gateway, startGateway } from '../../src/server/gateway.js';

/**
 * A demo gateway on 127.0.0.1 with a random port; every provider is the in-process emulator.
 * It serves dist/client (and a page from `webRoot`) only when `webRoot` is given.
 */
export function startDemoGateway(
  settings: Partial<Settings> = {},
  webRoot: string | null = null,
): Promise<Gateway> {
  return startGateway({
    env: { SLUICE_DEMO: '1' },
    // A short `retry:` so resume tests do not wait the default second per reconnect.
    settings: { port: 0, host: '127.0.0.1', clientRetryMs: 20, ...settings },
    webRoot,
  });
}

/** The gateway's emulator (always present in demo mode). */
export function emulatorOf(gateway: Gateway): NonNullable<Gateway['emulator']> {
  if (gateway.emulator === undefined) throw new Error('the gateway is not in demo mode');
  return gateway.emulator;
}

/** Polls `check` until it holds or `timeoutMs` passes; returns whether it held. */
export async function waitFor(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return check();
}

export interface CuttingProxy {
  url: string;
  /** Connections accepted so far. */
  connections: number;
  /** Connections this proxy cut. */
  cuts: number;
  close(): Promise<void>;
}

/**
 * A TCP proxy in front of the gateway that kills connection number k (0-based) after
 * `cutAfter[k]` bytes from the gateway have been forwarded, mid-frame if that is where the
 * count falls: with a clean TCP close (`end`), a reset, or by going silent with the sockets
 * left open (`stall`). Connections past the list pass through untouched.
 */
export async function startCuttingProxy(
  target: string,
  cutAfter: readonly number[],
  options: { mode?: 'end' | 'reset' | 'stall'; onCut?: () => void } = {},
): Promise<CuttingProxy> {
  const { mode = 'end', onCut } = options;
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  const state = { connections: 0, cuts: 0 };
  const server: Server = createServer((client) => {
    const limit = cutAfter[state.connections++];
    const upstream = new Socket();
    sockets.add(client);
    sockets.add(upstream);
    const destroyBoth = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', () => {
      sockets.delete(client);
      upstream.destroy();
    });
    upstream.on('close', () => {
      sockets.delete(upstream);
      client.destroy();
    });
    client.on('error', destroyBoth);
    upstream.on('error', destroyBoth);
    upstream.connect(Number(port), hostname);
    client.pipe(upstream);
    let forwarded = 0;
    upstream.on('data', (data: Buffer) => {
      if (limit === undefined) {
        client.write(data);
        return;
      }
      if (forwarded >= limit) return;
      const room = limit - forwarded;
      client.write(data.subarray(0, room));
      forwarded += data.length;
      if (forwarded >= limit) {
        state.cuts++;
        onCut?.();
        // Let the partial bytes reach the client, then drop both sides like a broken network.
        if (mode === 'reset') client.resetAndDestroy();
        else if (mode === 'end') client.end(() => destroyBoth());
        // 'stall': forward nothing more but keep both sockets open, like a half-open connection.
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no proxy address');
  return {
    url: `http://127.0.0.1:${address.port}`,
    get connections() {
      return state.connections;
    },
    get cuts() {
      return state.cuts;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
