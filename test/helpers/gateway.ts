import type { Settings } from '../../src/config.js';
import type { EmulatorServer } from '../../src/emulators/server.js';
import { type Gateway, startGateway } from '../../src/server/gateway.js';

export interface TestGateway {
  gateway: Gateway;
  url: string;
  emulator: EmulatorServer;
  close(): Promise<void>;
}

/**
 * A real gateway on an ephemeral loopback port in demo mode: every provider is served by the
 * in-process emulator, which tests script (pace, content, faults) through `emulator.enqueue`.
 */
export async function startTestGateway(
  settings: Partial<Settings> = {},
  env: Record<string, string> = {},
): Promise<TestGateway> {
  const gateway = await startGateway({
    env: { SLUICE_DEMO: '1', ...env },
    settings: {
      port: 0,
      host: '127.0.0.1',
      retryBaseMs: 5,
      idleTimeoutMs: 2000,
      resumeGraceMs: 1000,
      shutdownGraceMs: 1000,
      ...settings,
    },
    webRoot: null,
  });
  const emulator = gateway.emulator;
  if (emulator === undefined) throw new Error('demo gateway without emulator');
  emulator.setDefaults({ ttftMs: 0, chunkDelayMs: 0, chunks: 12 });
  return { gateway, url: gateway.url, emulator, close: () => gateway.close(200) };
}

/** Polls until `check` holds, bounded. */
export async function eventually(check: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
