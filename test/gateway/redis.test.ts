import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { openLive, streamRequest } from '../helpers/live.js';
import { type RedisServer, startRedis } from '../helpers/redis.js';
import { chatBody, invariantViolation, readResponse } from '../helpers/sse.js';

let redis: RedisServer;
let first: TestGateway;
let second: TestGateway;

beforeAll(async () => {
  redis = await startRedis();
  first = await startTestGateway({ redisUrl: redis.url, resumeGraceMs: 2000 });
  second = await startTestGateway({ redisUrl: redis.url, resumeGraceMs: 2000 });
}, 20_000);
afterAll(async () => {
  await first?.close();
  await second?.close();
  await redis?.stop();
});

describe('generations in Redis, shared by two gateway instances', () => {
  it('resumes on another instance with nothing lost or repeated', async () => {
    first.emulator.enqueue('openai', { chunkDelayMs: 30, chunks: 30 });
    const live = await openLive(`${first.url}/api/v1/chat/stream`, streamRequest(chatBody()));
    await live.waitForFrames(5);
    live.cut();
    await live.ended;
    const id = live.headers.get('x-generation-id');
    const lastId = live.frames.at(-1)?.id ?? 0;
    const rest = await readResponse(
      await fetch(`${second.url}/api/v1/chat/stream/${id}`, { headers: { 'last-event-id': String(lastId) } }),
    );
    expect(rest.status).toBe(200);
    const assembled = [...live.frames, ...rest.frames];
    expect(assembled.map((frame) => frame.id)).toEqual(assembled.map((_, index) => index + 1));
    expect(assembled.at(-1)?.event).toBe('done');
    const whole = await readResponse(await fetch(`${first.url}/api/v1/chat/stream/${id}`));
    expect(invariantViolation(whole)).toBeUndefined();
    expect(assembled).toEqual(whole.frames);
    // After the end, the other instance still serves the whole stream and the result.
    const replay = await readResponse(await fetch(`${second.url}/api/v1/chat/stream/${id}`));
    expect(replay.frames).toEqual(whole.frames);
    expect(replay.raw.endsWith('data: [DONE]\n\n')).toBe(true);
    const local = await (await fetch(`${first.url}/api/v1/generations/${id}`)).json();
    const remote = await (await fetch(`${second.url}/api/v1/generations/${id}`)).json();
    expect(remote).toEqual(local);
    expect(remote.status).toBe('done');
  });

  it('cancels from another instance', async () => {
    first.emulator.enqueue('openai', { chunkDelayMs: 50, chunks: 100 });
    const live = await openLive(`${first.url}/api/v1/chat/stream`, streamRequest(chatBody()));
    await live.waitForFrames(4);
    const id = live.headers.get('x-generation-id');
    const cancel = await fetch(`${second.url}/api/v1/chat/stream/${id}/cancel`, { method: 'POST' });
    expect(cancel.status).toBe(200);
    expect(await cancel.json()).toEqual({ cancelled: true });
    await live.ended;
    expect(live.frames.at(-1)?.data.finish_reason).toBe('cancelled');
    // Once the end reached Redis, a second cancel is a conflict.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const again = await fetch(`${second.url}/api/v1/chat/stream/${id}/cancel`, { method: 'POST' });
    expect(again.status).toBe(409);
  });

  it('follows a running generation live from another instance while its first reader stays', async () => {
    first.emulator.enqueue('openai', { chunkDelayMs: 20, chunks: 20 });
    const live = await openLive(`${first.url}/api/v1/chat/stream`, streamRequest(chatBody()));
    await live.waitForFrames(2);
    const id = live.headers.get('x-generation-id');
    const follower = await readResponse(await fetch(`${second.url}/api/v1/chat/stream/${id}`));
    await live.ended;
    expect(follower.frames).toEqual(live.frames);
  });

  it('answers 404 for ids no instance knows', async () => {
    const missing = await fetch(`${second.url}/api/v1/chat/stream/gen_unknown`);
    expect(missing.status).toBe(404);
    const result = await fetch(`${second.url}/api/v1/generations/gen_unknown`);
    expect(result.status).toBe(404);
    const cancel = await fetch(`${second.url}/api/v1/chat/stream/gen_unknown/cancel`, { method: 'POST' });
    expect(cancel.status).toBe(404);
  });
});
