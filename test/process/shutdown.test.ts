import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLive, streamRequest } from '../helpers/live.js';
import { chatBody, parseSse } from '../helpers/sse.js';
import { type Child, spawnEmulator, spawnGateway } from './processes.js';

let emulator: Awaited<ReturnType<typeof spawnEmulator>>;
let gateway: Child;

beforeAll(async () => {
  emulator = await spawnEmulator();
  gateway = await spawnGateway(emulator.url, { SLUICE_SHUTDOWN_GRACE_MS: '600' });
}, 20_000);
afterAll(async () => {
  await gateway?.stop();
  await emulator?.stop();
});

describe('graceful shutdown on SIGTERM', () => {
  it('lets short streams finish, ends long ones with error then done, refuses new ones, exits 0', async () => {
    await emulator.script('openai', { chunkDelayMs: 40, chunks: 8 }, { chunkDelayMs: 50, chunks: 400 });
    const short = await openLive(`${gateway.url}/api/v1/chat/stream`, streamRequest(chatBody()));
    const long = await openLive(`${gateway.url}/api/v1/chat/stream`, streamRequest(chatBody()));
    await Promise.all([short.waitForFrames(3), long.waitForFrames(3)]);
    gateway.process.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const refused = await fetch(`${gateway.url}/api/v1/chat/stream`, streamRequest(chatBody())).then(
      (response) => response.status,
      () => 'connection refused',
    );
    expect([503, 'connection refused']).toContain(refused);

    const shortFrames = parseSse(await short.ended).frames;
    expect(shortFrames.at(-1)?.data.finish_reason).toBe('stop');
    const longRaw = await long.ended;
    const longFrames = parseSse(longRaw).frames;
    expect(longFrames.at(-2)?.event).toBe('error');
    expect(longFrames.at(-2)?.data).toMatchObject({ code: 'internal', retryable: true, partial: true });
    expect(longFrames.at(-1)?.data.finish_reason).toBe('error');
    expect(longRaw.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(await gateway.exited).toBe(0);
  }, 20_000);
});
