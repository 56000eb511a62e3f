import { existsSync, mkdirSync } from 'node:fs';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import type { Settings } from '../../src/config.js';
import type { EmulatorServer } from '../../src/emulators/server.js';
import { type Gateway, startGateway } from '../../src/server/gateway.js';
import { CHROMIUM_PATH } from '../helpers/system.js';

export const REPOSITORY = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/**
 * Screenshots go to test-results/ (ignored by git) on every run; with
 * SLUICE_UPDATE_SCREENSHOTS=1 they refresh the committed ones in docs/screenshots/.
 */
export const SCREENSHOTS =
  process.env.SLUICE_UPDATE_SCREENSHOTS === '1'
    ? join(REPOSITORY, 'docs', 'screenshots')
    : join(REPOSITORY, 'test-results', 'screenshots');

/**
 * Flags for headless Chromium as root on a machine with a closed network: no sandbox (root),
 * and none of the background traffic (updates, sync, QUIC) that would only be refused.
 * playwright-core adds --headless and its own empty --user-data-dir.
 */
const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_FLAGS,
    timeout: 20_000,
  });
}

export interface PageGateway {
  gateway: Gateway;
  url: string;
  emulator: EmulatorServer;
  close(): Promise<void>;
}

/**
 * A demo gateway on 127.0.0.1 (ephemeral port) serving the real web/ folder, the page script
 * from dist/web/ and the client from dist/client/.
 */
export async function startPageGateway(settings: Partial<Settings> = {}): Promise<PageGateway> {
  for (const built of [join('dist', 'client', 'index.js'), join('dist', 'web', 'app.js')]) {
    if (!existsSync(join(REPOSITORY, built))) {
      throw new Error(`${built} is missing: run \`npm run build\` before the browser tests`);
    }
  }
  const gateway = await startGateway({
    env: { SLUICE_DEMO: '1' },
    settings: {
      port: 0,
      host: '127.0.0.1',
      maxRetries: 0,
      retryBaseMs: 5,
      idleTimeoutMs: 5000,
      shutdownGraceMs: 500,
      ...settings,
    },
    webRoot: join(REPOSITORY, 'web'),
  });
  const emulator = gateway.emulator;
  if (emulator === undefined) throw new Error('a demo gateway has an emulator');
  emulator.setDefaults({ ttftMs: 50, chunkDelayMs: 10, chunks: 12, thinkingChunks: 12 });
  return { gateway, url: gateway.url, emulator, close: () => gateway.close(500) };
}

export interface CuttingProxy {
  url: string;
  /** Request lines (`GET /path HTTP/1.1`) seen from the browser, in order. */
  requests: string[];
  /** Destroys every open connection, both sides, as a dropped network would. */
  cutAll(): number;
  close(): Promise<void>;
}

/**
 * A TCP proxy on 127.0.0.1 between the browser and the gateway, so a test can drop the
 * browser's connections mid-stream without the gateway or the page knowing in advance.
 */
export async function startCuttingProxy(target: string): Promise<CuttingProxy> {
  const { hostname, port } = new URL(target);
  const pairs = new Set<[Socket, Socket]>();
  const requests: string[] = [];
  const server: Server = createServer((client) => {
    const upstream = connect({ host: hostname, port: Number(port) });
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    client.on('data', (bytes: Buffer) => {
      const line = /^(GET|POST|PUT|DELETE|OPTIONS|HEAD) [^\r\n]+/.exec(bytes.toString('latin1', 0, 512));
      if (line !== null) requests.push(line[0]);
    });
    client.pipe(upstream);
    upstream.pipe(client);
    const drop = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => done());
  });
  const address = server.address() as AddressInfo;
  const cutAll = (): number => {
    const count = pairs.size;
    for (const [client, upstream] of [...pairs]) {
      client.destroy();
      upstream.destroy();
    }
    pairs.clear();
    return count;
  };
  return {
    url: `http://127.0.0.1:${address.port}`,
    requests,
    cutAll,
    async close() {
      cutAll();
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, name), animations: 'disabled', caret: 'hide' });
}

/** Polls a condition in the test process (emulator counters), bounded. */
export async function eventually(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 20));
  }
}
