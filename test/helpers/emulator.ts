import { afterAll, beforeAll, beforeEach } from 'vitest';
import { EmulatorServer } from '../../src/emulators/server.js';
import type { EmulatorDialect } from '../../src/emulators/types.js';

/**
 * One emulator on a loopback port for a test file, unpaced (no delay before or between chunks),
 * with scripts and counters reset before each test.
 */
export function useEmulator(...dialects: EmulatorDialect[]): EmulatorServer {
  const emulator = new EmulatorServer({ dialects, defaults: { ttftMs: 0, chunkDelayMs: 0 } });
  beforeAll(async () => {
    await emulator.listen();
  });
  afterAll(() => emulator.close());
  beforeEach(() => emulator.reset());
  return emulator;
}
