import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { openLive, streamRequest } from '../helpers/live.js';
import { type RedisServer, startRedis } from '../helpers/redis.js';
import { chatBody, invariantViolation, readResponse } from '../helpers/sse.js';

let redis: RedisServer;
let owner: TestGateway;
let other: TestGateway;

beforeAll(async () => {
  redis = await startRedis();
  owner = await startTestGateway({ redisUrl: redis.url, ownerLeaseMs: 1000, resumeGraceMs: 5000 });
  other = await startTestGateway({ redisUrl: redis.url, ownerLeaseMs: 1000, resumeGraceMs: 5000 });
}, 20_000);
afterAll(async () => {
  await owner?.close();
  await other?.close();
  await redis?.stop();
});

describe('Redis that restarts mid-stream', () => {
  it('breaks no running stream, answers resumes elsewhere with a clear 503 meanwhile, and loses nothing once back', async () => {
    owner.emulator.enqueue('openai', { chunkDelayMs: 25, chunks: 120 });
    const live = await openLive(`${owner.url}/api/v1/chat/stream`, streamRequest(chatBody()));
    await live.waitForFrames(10);
    const id = live.headers.get('x-generation-id');
    const port = Number(new URL(redis.url).port);

    await redis.stop();
    const framesAtOutage = live.frames.length;
    // The owner's reader goes on while Redis is down.
    await eventually(() => live.frames.length >= framesAtOutage + 10, 3000, 'frames during the outage');
    const refused = await fetch(`${other.url}/api/v1/chat/stream/${id}`);
    expect(refused.status).toBe(503);
    const body = (await refused.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('unavailable');
    expect(body.error.message).toContain('Redis');

    // Back, empty (no persistence): the owner sends Redis everything it lacks.
    redis = await startRedis(port);
    const raw = await live.ended;
    expect(raw.endsWith('data: [DONE]\n\n')).toBe(true);
    const local = await readResponse(await fetch(`${owner.url}/api/v1/chat/stream/${id}`));
    expect(invariantViolation(local)).toBeUndefined();

    let elsewhere = await readResponse(await fetch(`${other.url}/api/v1/chat/stream/${id}`));
    const deadline = Date.now() + 5000;
    while (elsewhere.status !== 200 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      elsewhere = await readResponse(await fetch(`${other.url}/api/v1/chat/stream/${id}`));
    }
    expect(elsewhere.status).toBe(200);
    expect(invariantViolation(elsewhere)).toBeUndefined();
    expect(elsewhere.frames).toEqual(local.frames);
    const result = await (await fetch(`${other.url}/api/v1/generations/${id}`)).json();
    expect(result).toMatchObject({ status: 'done', finish_reason: 'stop' });
  });
});
