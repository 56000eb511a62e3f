import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLive, streamRequest } from '../helpers/live.js';
import { type RedisServer, startRedis } from '../helpers/redis.js';
import { chatBody, postStream } from '../helpers/sse.js';
import { type Child, spawnEmulator, spawnGateway } from './processes.js';

const KEY = 'sk-gw-shared-limit-0001';
const OTHER = 'sk-gw-shared-limit-0002';

let redis: RedisServer;
let emulator: Awaited<ReturnType<typeof spawnEmulator>>;
let first: Child;
let second: Child;

beforeAll(async () => {
  redis = await startRedis();
  emulator = await spawnEmulator();
  const env = {
    REDIS_URL: redis.url,
    SLUICE_API_KEYS: `${KEY},${OTHER}`,
    SLUICE_RATE_LIMIT: '4/min',
    SLUICE_MAX_STREAMS_PER_KEY: '1',
    SLUICE_LOG_LEVEL: 'silent',
  };
  [first, second] = await Promise.all([spawnGateway(emulator.url, env), spawnGateway(emulator.url, env)]);
}, 30_000);
afterAll(async () => {
  await Promise.all([first?.stop(), second?.stop(), emulator?.stop()]);
  await redis?.stop();
});

const as = (key: string) => ({ headers: { authorization: `Bearer ${key}` } });

describe('two gateway processes sharing one Redis', () => {
  it('enforce one rate limit between them', async () => {
    const statuses: number[] = [];
    const remaining: (string | null)[] = [];
    for (let index = 0; index < 6; index++) {
      const gateway = index % 2 === 0 ? first : second;
      const result = await postStream(gateway.url, chatBody(), as(KEY));
      statuses.push(result.status);
      remaining.push(result.headers.get('ratelimit-remaining'));
      if (result.status === 429) {
        expect(result.json.error.code).toBe('rate_limited');
        expect(Number(result.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      }
    }
    // Four requests a minute in all, not four per instance.
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
    expect(remaining.slice(0, 4)).toEqual(['3', '2', '1', '0']);
    // Another key has a budget of its own.
    expect((await postStream(second.url, chatBody(), as(OTHER))).status).toBe(200);
  });

  it('count running generations across instances', async () => {
    await emulator.script('openai', { chunkDelayMs: 30, chunks: 60, ttftMs: 0 });
    // The slot of this key's earlier generation is given back through Redis just after its
    // `done`: wait for it rather than race it.
    let live = await openLive(`${first.url}/api/v1/chat/stream`, {
      ...streamRequest(chatBody()),
      headers: { 'content-type': 'application/json', authorization: `Bearer ${OTHER}` },
    });
    for (let attempt = 0; attempt < 25 && live.status === 429; attempt++) {
      await live.ended;
      await new Promise((resolve) => setTimeout(resolve, 100));
      live = await openLive(`${first.url}/api/v1/chat/stream`, {
        ...streamRequest(chatBody()),
        headers: { 'content-type': 'application/json', authorization: `Bearer ${OTHER}` },
      });
    }
    expect(live.status).toBe(200);
    await live.waitForFrames(3);
    const refused = await postStream(second.url, chatBody(), as(OTHER));
    expect(refused.status).toBe(429);
    expect(refused.json.error.message).toMatch(/at once/);
    const id = live.headers.get('x-generation-id');
    // Cancelled through the other instance: the slot is given back.
    const cancel = await fetch(`${second.url}/api/v1/chat/stream/${id}/cancel`, {
      method: 'POST',
      ...as(OTHER),
    });
    expect(cancel.status).toBe(200);
    await live.ended;
    let status = 0;
    for (let attempt = 0; attempt < 25 && status !== 200; attempt++) {
      const result = await postStream(second.url, chatBody(), as(OTHER));
      status = result.status;
      if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(status).toBe(200);
  }, 20_000);
});
