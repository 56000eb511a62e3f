import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config-file.js';
import { type Gateway, startGateway } from '../../src/server/gateway.js';
import { eventually } from '../helpers/gateway.js';
import { openLive, streamRequest } from '../helpers/live.js';
import { chatBody, postStream } from '../helpers/sse.js';

let gateway: Gateway | undefined;
afterEach(async () => {
  await gateway?.close(200);
  gateway = undefined;
});

async function start(env: Record<string, string>, config?: unknown): Promise<string> {
  gateway = await startGateway({
    env: { SLUICE_DEMO: '1', ...env },
    ...(config !== undefined ? { config: parseConfig(config) } : {}),
    settings: { port: 0, host: '127.0.0.1', resumeGraceMs: 500 },
    webRoot: null,
  });
  gateway.emulator?.setDefaults({ ttftMs: 0, chunkDelayMs: 0, chunks: 8 });
  return gateway.url;
}

const limitHeaders = (headers: Headers) => ({
  limit: headers.get('ratelimit-limit'),
  remaining: headers.get('ratelimit-remaining'),
  reset: Number(headers.get('ratelimit-reset')),
});

describe('requests per window', () => {
  it('answer with RateLimit headers, then 429 rate_limited with Retry-After past the limit', async () => {
    const url = await start({ SLUICE_RATE_LIMIT: '3/min' });
    const remaining: (string | null)[] = [];
    for (let index = 0; index < 3; index++) {
      const result = await postStream(url, chatBody());
      expect(result.status).toBe(200);
      const headers = limitHeaders(result.headers);
      expect(headers.limit).toBe('3');
      expect(headers.reset).toBeGreaterThan(0);
      expect(headers.reset).toBeLessThanOrEqual(60);
      remaining.push(headers.remaining);
    }
    expect(remaining).toEqual(['2', '1', '0']);
    const refused = await postStream(url, chatBody());
    expect(refused.status).toBe(429);
    expect(refused.json.error.code).toBe('rate_limited');
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(limitHeaders(refused.headers)).toMatchObject({ limit: '3', remaining: '0' });
    // Starting without streaming counts the same; health never does.
    const created = await fetch(`${url}/api/v1/generations`, streamRequest(chatBody()));
    expect(created.status).toBe(429);
    expect((await fetch(`${url}/api/v1/chat/stream/health`)).status).toBe(200);
  });

  it('hold per key, with a key of the configuration file keeping limits of its own', async () => {
    const url = await start(
      { SLUICE_RATE_LIMIT: '1/h' },
      {
        keys: ['sk-gw-plain-1', { key: 'sk-gw-team-2', name: 'team', limits: { rate: '3/h' } }],
      },
    );
    const as = (key: string) => ({ headers: { authorization: `Bearer ${key}` } });
    expect((await postStream(url, chatBody(), as('sk-gw-plain-1'))).status).toBe(200);
    expect((await postStream(url, chatBody(), as('sk-gw-plain-1'))).status).toBe(429);
    for (let index = 0; index < 3; index++) {
      expect((await postStream(url, chatBody(), as('sk-gw-team-2'))).status).toBe(200);
    }
    const refused = await postStream(url, chatBody(), as('sk-gw-team-2'));
    expect(refused.status).toBe(429);
    expect(refused.headers.get('ratelimit-limit')).toBe('3');
  });

  it('do not count a resume (an EventSource reconnecting must never be refused)', async () => {
    const url = await start({ SLUICE_RATE_LIMIT: '1/min' });
    const result = await postStream(url, chatBody());
    const id = result.headers.get('x-generation-id');
    for (let index = 0; index < 3; index++) {
      const resumed = await fetch(`${url}/api/v1/chat/stream/${id}`);
      expect(resumed.status).toBe(200);
      await resumed.text();
    }
  });
});

describe('running generations per key', () => {
  it('refuse one more while the limit runs, and admit again once one ends', async () => {
    const url = await start({ SLUICE_MAX_STREAMS_PER_KEY: '1' });
    gateway?.emulator?.enqueue('openai', { chunkDelayMs: 20, chunks: 40 });
    const live = await openLive(`${url}/api/v1/chat/stream`, streamRequest(chatBody()));
    expect(live.status).toBe(200);
    expect(live.headers.get('ratelimit-limit')).toBe('1');
    expect(live.headers.get('ratelimit-remaining')).toBe('0');
    await live.waitForFrames(3);
    const refused = await postStream(url, chatBody());
    expect(refused.status).toBe(429);
    expect(refused.json.error.code).toBe('rate_limited');
    expect(refused.headers.get('retry-after')).toBe('1');
    const id = live.headers.get('x-generation-id');
    expect((await fetch(`${url}/api/v1/chat/stream/${id}/cancel`, { method: 'POST' })).status).toBe(200);
    await live.ended;
    await eventually(() => gateway?.store.running().length === 0, 2000, 'the generation to end');
    expect((await postStream(url, chatBody())).status).toBe(200);
  });
});

describe('output tokens per minute', () => {
  it('are counted live: a long answer closes the budget before it ends', async () => {
    const url = await start({ SLUICE_TOKENS_PER_MIN: '40' });
    // About 400 tokens at 10 ms a word: four seconds of answer.
    gateway?.emulator?.enqueue('openai', { chunkDelayMs: 10, chunks: 400 });
    const live = await openLive(`${url}/api/v1/chat/stream`, streamRequest(chatBody()));
    expect(live.status).toBe(200);
    expect(live.headers.get('ratelimit-limit')).toBe('40');
    await live.waitForFrames(120, 10_000);
    // The count reaches the limiter a quarter second at a time.
    let refused: Awaited<ReturnType<typeof postStream>> | undefined;
    for (let attempt = 0; attempt < 20 && refused === undefined; attempt++) {
      const result = await postStream(url, chatBody());
      if (result.status === 429) refused = result;
      else await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(refused?.json.error.code).toBe('rate_limited');
    expect(refused?.headers.get('ratelimit-remaining')).toBe('0');
    expect(Number(refused?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // Refused while the first answer still streams.
    expect(live.frames.at(-1)?.event).not.toBe('done');
    live.cut();
  });

  it('settle to the usage a generation ends with', async () => {
    const url = await start({ SLUICE_TOKENS_PER_MIN: '30' });
    // One quick answer of about 50 output tokens (the emulator reports its usage).
    gateway?.emulator?.enqueue('openai', { chunks: 45 });
    const first = await postStream(url, chatBody());
    expect(first.status).toBe(200);
    expect(first.frames.at(-1)?.data.usage.output_tokens).toBeGreaterThan(30);
    const refused = await postStream(url, chatBody());
    expect(refused.status).toBe(429);
  });
});
