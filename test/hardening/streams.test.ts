import { connect, type Socket } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadTokenizer } from '../../src/generation/usage.js';
import { startGateway } from '../../src/server/gateway.js';
import { eventually, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { openLive, streamRequest } from '../helpers/live.js';
import { chatBody, parseSse, postStream, readResponse } from '../helpers/sse.js';

let harness: TestGateway;
beforeAll(async () => {
  harness = await startTestGateway({
    resumeGraceMs: 300,
    stallTimeoutMs: 300,
    bufferFrames: 4,
    maxBodyBytes: 2 * 1024 * 1024,
    maxStoredBytes: 1 << 30,
  });
});
afterAll(() => harness.close());
beforeEach(() => harness.emulator.reset());

/** A raw HTTP/1.1 GET on a socket that never reads what comes back. */
function nonReadingGet(url: string, path: string): Promise<Socket> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: Number(port) }, () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      socket.pause();
      resolve(socket);
    });
    socket.on('error', () => {});
    socket.once('error', reject);
  });
}

describe('Last-Event-ID at or past the end', () => {
  it('answers 204 for a finished generation read from its last frame on', async () => {
    const first = await postStream(harness.url, chatBody());
    const id = first.headers.get('x-generation-id');
    const lastId = first.frames.at(-1)?.id ?? 0;
    for (const after of [lastId, lastId + 5]) {
      const response = await fetch(`${harness.url}/api/v1/chat/stream/${id}`, {
        headers: { 'last-event-id': String(after) },
      });
      expect(response.status).toBe(204);
      expect(await response.text()).toBe('');
    }
    const before = await fetch(`${harness.url}/api/v1/chat/stream/${id}?last_event_id=${lastId - 1}`);
    expect(parseSse(await before.text()).frames.map((frame) => frame.id)).toEqual([lastId]);
  });

  it('never replays frames below the given id of a running generation', async () => {
    harness.emulator.enqueue('openai', { chunkDelayMs: 20, chunks: 20 });
    const live = await openLive(`${harness.url}/api/v1/chat/stream`, streamRequest(chatBody()));
    await live.waitForFrames(3);
    const id = live.headers.get('x-generation-id');
    const resumed = await readResponse(
      await fetch(`${harness.url}/api/v1/chat/stream/${id}`, { headers: { 'last-event-id': '15' } }),
    );
    expect(resumed.status).toBe(200);
    expect(resumed.frames.length).toBeGreaterThan(0);
    expect(resumed.frames.every((frame) => frame.id > 15)).toBe(true);
    expect(resumed.frames.at(-1)?.event).toBe('done');
    await live.ended;
  });
});

describe('token counts', () => {
  it('do not stall the event loop when a generation with a 1 MB body is cancelled', async () => {
    harness.emulator.enqueue('openai', { chunkDelayMs: 50, chunks: 40 });
    // One long run without whitespace: the tokenizer's worst case.
    const body = chatBody('openai', { messages: [{ role: 'user', content: 'a'.repeat(1_000_000) }] });
    const live = await openLive(`${harness.url}/api/v1/chat/stream`, streamRequest(body));
    expect(live.status).toBe(200);
    await live.waitForFrames(3);
    const id = live.headers.get('x-generation-id');
    expect(live.frames.map((frame) => frame.event)).toEqual(['start', 'metadata', 'chunk']);
    // The gateway loads the tokenizer at start; this measures the count, so wait for that load.
    await loadTokenizer();
    const histogram = monitorEventLoopDelay({ resolution: 5 });
    histogram.enable();
    const cancel = await fetch(`${harness.url}/api/v1/chat/stream/${id}/cancel`, { method: 'POST' });
    expect(cancel.status).toBe(200);
    const { frames } = parseSse(await live.ended);
    await new Promise((resolve) => setTimeout(resolve, 200));
    histogram.disable();
    const done = frames.at(-1);
    expect(done?.event).toBe('done');
    expect(done?.data.usage).toMatchObject({ estimated: true });
    expect(done?.data.usage.input_tokens).toBeGreaterThan(1000);
    expect(histogram.percentile(99) / 1e6).toBeLessThan(50);
  });
});

describe('readers that stop reading', () => {
  it('hold a bounded slice of a finished answer each, and are dropped past the stall bound', async () => {
    // About 16 MB of answer in long words: more than the slice a reader may hold and more than
    // the kernel's socket buffers take, so the gateway's own writes must wait.
    harness.emulator.enqueue('openai', { text: `${'x'.repeat(4000)} `.repeat(4000) });
    const done = await postStream(harness.url, chatBody());
    expect(done.frames.at(-1)?.event).toBe('done');
    const id = done.headers.get('x-generation-id') ?? '';
    const serverSockets: Socket[] = [];
    const onConnection = (socket: Socket): void => {
      serverSockets.push(socket);
    };
    harness.gateway.server.on('connection', onConnection);
    const clients = await Promise.all(
      Array.from({ length: 5 }, () => nonReadingGet(harness.url, `/api/v1/chat/stream/${id}`)),
    );
    try {
      await eventually(() => serverSockets.length === 5, 2000, 'connections');
      await new Promise((resolve) => setTimeout(resolve, 100));
      for (const socket of serverSockets) expect(socket.writableLength).toBeLessThan(300 * 1024);
      // Past the stall bound the gateway lets them go: no socket of theirs is left open.
      await eventually(
        () => serverSockets.every((socket) => socket.destroyed),
        3000,
        'stalled readers dropped',
      );
    } finally {
      harness.gateway.server.off('connection', onConnection);
      for (const client of clients) client.destroy();
    }
  });
});

describe('error messages', () => {
  it('name the provider, never the upstream address', async () => {
    // A port nothing listens on: the connection is refused.
    const gateway = await startGateway({
      env: { OPENAI_API_KEY: 'sk-test-key-0000', OPENAI_BASE_URL: 'http://127.0.0.1:9/v1' },
      settings: { port: 0, host: '127.0.0.1', retryBaseMs: 1, maxRetries: 0 },
      webRoot: null,
    });
    try {
      const result = await postStream(gateway.url, chatBody());
      const error = result.frames.find((frame) => frame.event === 'error');
      expect(error?.data.message).toContain('OpenAI');
      expect(result.raw).not.toMatch(/127\.0\.0\.1|localhost|http:\/\//);
    } finally {
      await gateway.close(100);
    }
  });
});
