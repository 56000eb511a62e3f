import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadSettings } from '../../src/config.js';
import { HTTP_PROVIDERS } from '../../src/providers/registry.js';
import { startGateway } from '../../src/server/gateway.js';
import { eventually, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { openLive, streamRequest } from '../helpers/live.js';
import { chatBody, invariantViolation, postStream, type ReceivedFrame } from '../helpers/sse.js';

/**
 * Upstream HTTP/2 with prior knowledge (h2c) against the dual-protocol emulator: the same frames
 * as over HTTP/1.1, many streams on one connection, cancellation of one stream only, Ollama kept
 * on HTTP/1.1, and connection-level failures before the first token retried.
 */
let h2c: TestGateway;
let http1: TestGateway;
beforeAll(async () => {
  [h2c, http1] = await Promise.all([
    startTestGateway({ upstreamHttp2: 'h2c', resumeGraceMs: 200 }),
    startTestGateway({ upstreamHttp2: 'off' }),
  ]);
});
afterAll(() => Promise.all([h2c.close(), http1.close()]));
beforeEach(() => {
  h2c.emulator.reset();
  http1.emulator.reset();
});

/** The frames without what differs between any two runs (ids, clocks, timings). */
function comparable(frames: readonly ReceivedFrame[]): unknown[] {
  const volatile = new Set(['generation_id', 'request_id', 'created', 'upstream_id', 'stats']);
  return frames.map((frame) => ({
    id: frame.id,
    event: frame.event,
    data: Object.fromEntries(Object.entries(frame.data).filter(([key]) => !volatile.has(key))),
  }));
}

const MULTIPLEXED = HTTP_PROVIDERS.filter((provider) => provider.http1Only !== true).map(
  (provider) => provider.id,
);

describe('the same stream over h2c and HTTP/1.1', () => {
  for (const provider of MULTIPLEXED) {
    it(`${provider}: identical frames, and the h2c one came over HTTP/2`, async () => {
      const body = chatBody(provider, { max_tokens: 200 });
      const [overH2, overHttp1] = await Promise.all([postStream(h2c.url, body), postStream(http1.url, body)]);
      expect(invariantViolation(overH2)).toBeUndefined();
      expect(invariantViolation(overHttp1)).toBeUndefined();
      expect(overH2.frames.filter((frame) => frame.event === 'chunk').length).toBeGreaterThan(3);
      expect(comparable(overH2.frames)).toEqual(comparable(overHttp1.frames));
      expect(h2c.emulator.stats(provider)).toMatchObject({ requests: 1, http2Requests: 1 });
      expect(http1.emulator.stats(provider)).toMatchObject({ requests: 1, http2Requests: 0 });
      expect(h2c.emulator.connections().http1).toBe(0);
      expect(http1.emulator.connections().http2).toBe(0);
    });
  }

  it('with reasoning on: identical frames', async () => {
    const body = chatBody('anthropic', { model: 'claude-sonnet-4-5', thinking_budget: 1024 });
    const [overH2, overHttp1] = await Promise.all([postStream(h2c.url, body), postStream(http1.url, body)]);
    expect(overH2.frames.some((frame) => frame.event === 'thinking')).toBe(true);
    expect(comparable(overH2.frames)).toEqual(comparable(overHttp1.frames));
  });
});

describe('multiplexing', () => {
  it('24 concurrent streams share one upstream connection', async () => {
    h2c.emulator.setDefaults({ chunkDelayMs: 20, chunks: 10 });
    try {
      const results = await Promise.all(
        Array.from({ length: 24 }, () => postStream(h2c.url, chatBody('openai'))),
      );
      for (const result of results) {
        expect(invariantViolation(result)).toBeUndefined();
        expect(result.frames.at(-1)?.data.finish_reason).toBe('stop');
      }
      expect(h2c.emulator.stats('openai')).toMatchObject({ requests: 24, http2Requests: 24, connections: 1 });
      expect(h2c.emulator.connections()).toMatchObject({ http1: 0, open: 1 });
    } finally {
      h2c.emulator.setDefaults({ chunkDelayMs: 0, chunks: 12 });
    }
  });

  it('the same streams over HTTP/1.1 hold one connection each', async () => {
    http1.emulator.setDefaults({ chunkDelayMs: 20, chunks: 10 });
    try {
      await Promise.all(Array.from({ length: 8 }, () => postStream(http1.url, chatBody('openai'))));
      expect(http1.emulator.stats('openai')).toMatchObject({ requests: 8, http2Requests: 0, connections: 8 });
    } finally {
      http1.emulator.setDefaults({ chunkDelayMs: 0, chunks: 12 });
    }
  });
});

describe('cancellation', () => {
  it('a client that leaves resets only its own stream: the upstream sees it end, the others finish', async () => {
    const slow = { chunkDelayMs: 40, chunks: 25 };
    h2c.emulator.enqueue('openai', slow, slow, slow);
    const body = chatBody('openai', { cancel_on_disconnect: true });
    const leaving = await openLive(`${h2c.url}/api/v1/chat/stream`, streamRequest(body));
    const staying = [
      await openLive(`${h2c.url}/api/v1/chat/stream`, streamRequest(body)),
      await openLive(`${h2c.url}/api/v1/chat/stream`, streamRequest(body)),
    ];
    await leaving.waitForFrames(4);
    expect(h2c.emulator.stats('openai').active).toBe(3);
    leaving.cut();
    await eventually(
      () => h2c.emulator.stats('openai').closedByClient === 1,
      3000,
      'the upstream stream reset',
    );
    expect(h2c.emulator.stats('openai').active).toBe(2);
    for (const live of staying) {
      await live.ended;
      expect(live.frames.at(-1)?.data.finish_reason).toBe('stop');
    }
    expect(h2c.emulator.stats('openai')).toMatchObject({
      requests: 3,
      http2Requests: 3,
      closedByClient: 1,
      connections: 1,
    });
    // The reset was one stream's: the connection stayed, and the next request uses it.
    const next = await postStream(h2c.url, chatBody('openai'));
    expect(next.frames.at(-1)?.data.finish_reason).toBe('stop');
    expect(h2c.emulator.stats('openai')).toMatchObject({ requests: 4, connections: 1 });
    expect(h2c.emulator.connections()).toMatchObject({ http1: 0, http2: 0, open: 1 });
  });

  it('cancel through the API resets the upstream stream', async () => {
    h2c.emulator.enqueue('gemini', { chunkDelayMs: 40, chunks: 30 });
    const live = await openLive(`${h2c.url}/api/v1/chat/stream`, streamRequest(chatBody('gemini')));
    await live.waitForFrames(4);
    const id = live.headers.get('x-generation-id');
    const cancel = await fetch(`${h2c.url}/api/v1/chat/stream/${id}/cancel`, { method: 'POST' });
    expect(cancel.status).toBe(200);
    await live.ended;
    expect(live.frames.at(-1)?.data.finish_reason).toBe('cancelled');
    await eventually(() => h2c.emulator.stats('gemini').closedByClient === 1, 2000, 'upstream stream reset');
    expect(h2c.emulator.stats('gemini').http2Requests).toBe(1);
  });
});

describe('Ollama', () => {
  it('goes over HTTP/1.1 even with h2c on', async () => {
    const results = await Promise.all([
      postStream(h2c.url, chatBody('ollama')),
      postStream(h2c.url, chatBody('ollama')),
    ]);
    for (const result of results) {
      expect(invariantViolation(result)).toBeUndefined();
      expect(result.frames.at(-1)?.data.finish_reason).toBe('stop');
    }
    expect(h2c.emulator.stats('ollama')).toMatchObject({ requests: 2, http2Requests: 0 });
    expect(h2c.emulator.connections().http1).toBeGreaterThanOrEqual(1);
  });
});

describe('connection failures over HTTP/2', () => {
  for (const type of ['reset', 'goaway'] as const) {
    it(`a ${type} before the first token is retried`, async () => {
      h2c.emulator.enqueue('openai', { fault: { type, afterChunks: 0 } });
      const result = await postStream(h2c.url, chatBody('openai'));
      expect(invariantViolation(result)).toBeUndefined();
      const done = result.frames.at(-1)?.data;
      expect(done.finish_reason).toBe('stop');
      expect(done.stats.attempts).toBe(2);
      expect(result.frames.some((frame) => frame.event === 'error')).toBe(false);
      expect(h2c.emulator.stats('openai')).toMatchObject({ requests: 2, http2Requests: 2 });
      // A reset ends one stream and keeps the connection; a GOAWAY takes the connection with it.
      expect(h2c.emulator.stats('openai').connections).toBe(type === 'goaway' ? 2 : 1);
    });

    it(`a ${type} after tokens ends with upstream_disconnected, never a retry`, async () => {
      h2c.emulator.enqueue('anthropic', { fault: { type, afterChunks: 3 } });
      const result = await postStream(h2c.url, chatBody('anthropic', { thinking_budget: 0 }));
      expect(invariantViolation(result)).toBeUndefined();
      const errors = result.frames.filter((frame) => frame.event === 'error');
      expect(errors.map((frame) => frame.data.code)).toEqual(['upstream_disconnected']);
      expect(result.frames.at(-1)?.data.finish_reason).toBe('error');
      expect(result.frames.at(-1)?.data.stats.attempts).toBe(1);
      expect(h2c.emulator.stats('anthropic').requests).toBe(1);
    });
  }

  it('a GOAWAY ends every stream on that connection; those before their first token are retried', async () => {
    h2c.emulator.enqueue(
      'openai',
      { ttftMs: 300, chunkDelayMs: 20 },
      { ttftMs: 300, chunkDelayMs: 20 },
      { fault: { type: 'goaway', afterChunks: 0 } },
    );
    const results = await Promise.all(
      Array.from({ length: 3 }, async (_, index) => {
        // In order, so the third request is the one that meets the GOAWAY.
        await new Promise((resolve) => setTimeout(resolve, index * 40));
        return postStream(h2c.url, chatBody('openai'));
      }),
    );
    for (const result of results) {
      expect(invariantViolation(result)).toBeUndefined();
      expect(result.frames.at(-1)?.data.finish_reason).toBe('stop');
    }
    expect(results.map((result) => result.frames.at(-1)?.data.stats.attempts)).toEqual([2, 2, 2]);
    // The three first attempts on one connection, the three retries on a new one.
    expect(h2c.emulator.stats('openai')).toMatchObject({ requests: 6, connections: 2 });
  });
});

describe('SLUICE_UPSTREAM_HTTP2', () => {
  it('takes auto, h2c and off; defaults to auto, and to h2c in demo mode', () => {
    expect(loadSettings({}).upstreamHttp2).toBe('auto');
    expect(loadSettings({ SLUICE_DEMO: '1' }).upstreamHttp2).toBe('h2c');
    expect(loadSettings({ SLUICE_DEMO: '1', SLUICE_UPSTREAM_HTTP2: 'off' }).upstreamHttp2).toBe('off');
    expect(loadSettings({ SLUICE_UPSTREAM_HTTP2: ' H2C ' }).upstreamHttp2).toBe('h2c');
    expect(loadSettings({ SLUICE_UPSTREAM_HTTP2: '' }).upstreamHttp2).toBe('auto');
  });

  it('refuses anything else, naming the setting and the values it takes', async () => {
    expect(() => loadSettings({ SLUICE_UPSTREAM_HTTP2: 'bogus' })).toThrow(
      'SLUICE_UPSTREAM_HTTP2 must be one of auto, h2c, off, got "bogus"',
    );
    expect(() => loadSettings({ SLUICE_UPSTREAM_HTTP2: '1' })).toThrow(/SLUICE_UPSTREAM_HTTP2/);
    await expect(
      startGateway({ env: { SLUICE_UPSTREAM_HTTP2: 'bogus' }, settings: { port: 0 }, webRoot: null }),
    ).rejects.toThrow(/SLUICE_UPSTREAM_HTTP2 must be one of/);
  });
});
