import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatBody, postStream } from '../helpers/sse.js';
import { type Child, spawnEmulator, spawnGateway } from './processes.js';

/**
 * Log lines are written in batches (4 KB, or every half second): the ones still held when the
 * gateway is told to stop are written before it exits.
 */

let emulator: Awaited<ReturnType<typeof spawnEmulator>>;
let gateway: Child;

beforeAll(async () => {
  emulator = await spawnEmulator();
  gateway = await spawnGateway(emulator.url, { SLUICE_SHUTDOWN_GRACE_MS: '500' });
}, 20_000);
afterAll(async () => {
  await Promise.all([gateway?.stop(), emulator?.stop()]);
});

describe('log lines at shutdown', () => {
  it('are all written after SIGTERM, the last ones included', async () => {
    const ids = Array.from({ length: 6 }, (_, index) => `req-flush-${index}`);
    const answers = await Promise.all(
      ids.map((id) => postStream(gateway.url, chatBody(), { headers: { 'x-request-id': id } })),
    );
    expect(answers.map((answer) => answer.status)).toEqual(ids.map(() => 200));
    // At once: six lines are far from a 4 KB batch, and the half-second flush has likely not come.
    gateway.process.kill('SIGTERM');
    expect(await gateway.exited).toBe(0);
    const lines = gateway
      .stdout()
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const ended = lines.filter((line) => line.msg === 'generation ended').map((line) => line.request_id);
    expect(ended.sort()).toEqual([...ids].sort());
    expect(lines.at(-1)).toMatchObject({ msg: 'shutting down', signal: 'SIGTERM' });
  }, 20_000);
});

describe('log lines at a fatal exit', () => {
  it('are written when an uncaught error ends the process', async () => {
    const logging = fileURLToPath(new URL('../../dist/ops/logging.js', import.meta.url));
    const script = `
      const { createLogger } = await import(${JSON.stringify(logging)});
      const logger = createLogger({ level: 'info' });
      for (let index = 0; index < 5; index++) logger.info({ index }, 'held');
      setTimeout(() => {
        logger.info({ index: 5 }, 'the last line');
        throw new Error('fatal');
      }, 20);
    `;
    const failed = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script]).then(
      () => undefined,
      (error: { code?: number; stdout?: string }) => error,
    );
    expect(failed?.code).toBe(1);
    const lines = (failed?.stdout ?? '').split('\n').filter((line) => line !== '');
    expect(lines.map((line) => (JSON.parse(line) as { index: number }).index)).toEqual([0, 1, 2, 3, 4, 5]);
  });
});
