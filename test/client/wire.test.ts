import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type ChatRequestBody,
  SluiceConnectionError,
  SluiceProtocolError,
  type StreamFrame,
  streamChat,
} from '../../src/client/index.js';

/**
 * The client's wire handling against scripted responses (a `fetch` stand-in): framing split at
 * any byte, duplicate frames after a resume, backoff from `retry:`, bounded attempts.
 */

const request: ChatRequestBody = { provider: 'openai', messages: [{ role: 'user', content: 'hi' }] };
const envelope = { provider: 'openai', model: 'gpt-4o-mini' };
const encoder = new TextEncoder();

function frame(id: number, event: string, data: Record<string, unknown>, eol = '\n'): string {
  return `id: ${id}${eol}event: ${event}${eol}data: ${JSON.stringify({ ...envelope, ...data })}${eol}${eol}`;
}

const chunk = (id: number, text: string, eol?: string): string =>
  frame(id, 'chunk', { delta_text: text, finish_reason: null, usage: null }, eol);
const start = (id = 1): string =>
  frame(id, 'start', { generation_id: 'gen_test', created: 1, emulated: true });
const usage = { input_tokens: 1, output_tokens: 3, thinking_tokens: null, total_tokens: 4, estimated: false };
const done = (id: number): string =>
  frame(id, 'done', {
    finish_reason: 'stop',
    usage,
    stats: { ttft_ms: 1, duration_ms: 2, output_tokens_per_second: 3, attempts: 1 },
  });

function sseResponse(pieces: readonly Uint8Array[]): Response {
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const piece of pieces) controller.enqueue(piece);
      controller.close();
    },
  });
  return new Response(body, {
    headers: { 'content-type': 'text/event-stream; charset=utf-8', 'x-generation-id': 'gen_test' },
  });
}

interface Call {
  url: string;
  lastEventId: string | null;
  at: number;
}

/** A `fetch` answering each call with the next scripted response (or throwing it). */
function scriptedFetch(script: (() => Response)[]): { fetch: typeof fetch; calls: Call[] } {
  const calls: Call[] = [];
  const fetchStub = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const headers = new Headers(init?.headers);
    calls.push({ url: String(input), lastEventId: headers.get('last-event-id'), at: performance.now() });
    const next = script[Math.min(calls.length - 1, script.length - 1)];
    if (next === undefined) throw new TypeError('fetch failed');
    return next();
  };
  return { fetch: fetchStub as typeof fetch, calls };
}

async function collect(iterable: AsyncIterable<StreamFrame>): Promise<StreamFrame[]> {
  const frames: StreamFrame[] = [];
  for await (const item of iterable) frames.push(item);
  return frames;
}

const options = { baseUrl: 'http://127.0.0.1:1', reconnect: { baseDelayMs: 1, maxDelayMs: 50 } };

describe('client wire handling', () => {
  const text = ['Hé', 'llo\u2028', ' wörld 😀', ' line\nbreak', ' \r\nend'];
  const transcript =
    `retry: 5\n: ping\n\n${start()}` +
    text.map((piece, index) => chunk(index + 2, piece, index % 2 === 0 ? '\r\n' : '\n')).join('') +
    done(text.length + 2) +
    'data: [DONE]\n\n';
  const bytes = encoder.encode(transcript);

  it('gives identical frames wherever the bytes are split', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 12 }),
        async (cuts) => {
          const offsets = [0, ...cuts.sort((a, b) => a - b), bytes.length];
          const pieces = offsets.slice(1).map((end, index) => bytes.subarray(offsets[index], end));
          const { fetch } = scriptedFetch([() => sseResponse(pieces)]);
          const stream = await streamChat(request, { ...options, fetch });
          const frames = await collect(stream);
          expect(frames.map((item) => item.id)).toEqual([1, 2, 3, 4, 5, 6, 7]);
          expect(stream.text).toBe(text.join(''));
          expect(stream.finishReason).toBe('stop');
        },
      ),
      { numRuns: 150, seed: 7 },
    );
  });

  it('drops frames a resume repeats and sends Last-Event-ID', async () => {
    const { fetch, calls } = scriptedFetch([
      () => sseResponse([encoder.encode(`retry: 30\n${start()}${chunk(2, 'a')}${chunk(3, 'b')}`)]),
      () => sseResponse([encoder.encode(`${chunk(2, 'a')}${chunk(3, 'b')}${chunk(4, 'c')}${done(5)}`)]),
    ]);
    const stream = await streamChat(request, { ...options, fetch });
    const frames = await collect(stream);
    expect(frames.map((item) => item.id)).toEqual([1, 2, 3, 4, 5]);
    expect(stream.text).toBe('abc');
    expect(calls).toHaveLength(2);
    expect(calls[1]?.url).toBe('http://127.0.0.1:1/api/v1/chat/stream/gen_test');
    expect(calls[1]?.lastEventId).toBe('3');
    // The server's retry (30 ms) is the backoff base, over the client's own 1 ms.
    expect((calls[1]?.at ?? 0) - (calls[0]?.at ?? 0)).toBeGreaterThanOrEqual(29);
  });

  it('retries a resume the gateway answers 503, then goes on', async () => {
    const { fetch, calls } = scriptedFetch([
      () => sseResponse([encoder.encode(`${start()}${chunk(2, 'a')}`)]),
      () => new Response('{"error":{"code":"unavailable","message":"busy"}}', { status: 503 }),
      () => sseResponse([encoder.encode(`${chunk(3, 'b')}${done(4)}`)]),
    ]);
    const stream = await streamChat(request, { ...options, fetch });
    expect((await collect(stream)).map((item) => item.id)).toEqual([1, 2, 3, 4]);
    expect(calls.map((call) => call.lastEventId)).toEqual([null, '2', '2']);
  });

  it('gives up after maxAttempts resumes without progress', async () => {
    const { fetch, calls } = scriptedFetch([
      () => sseResponse([encoder.encode(`${start()}${chunk(2, 'a')}`)]),
      () => {
        throw new TypeError('fetch failed');
      },
    ]);
    const stream = await streamChat(request, {
      ...options,
      fetch,
      reconnect: { ...options.reconnect, maxAttempts: 3 },
    });
    const frames: StreamFrame[] = [];
    const error = await (async () => {
      for await (const item of stream) frames.push(item);
    })().catch((reason: unknown) => reason);
    expect(frames.map((item) => item.id)).toEqual([1, 2]);
    expect(error).toBeInstanceOf(SluiceConnectionError);
    expect((error as SluiceConnectionError).code).toBe('interrupted');
    expect(calls).toHaveLength(4);
    expect(stream.text).toBe('a');
  });

  it('skips frames of unknown types but counts their ids', async () => {
    const { fetch } = scriptedFetch([
      () =>
        sseResponse([encoder.encode(`${start()}${frame(2, 'future_thing', {})}${chunk(3, 'x')}${done(4)}`)]),
    ]);
    const frames = await collect(await streamChat(request, { ...options, fetch }));
    expect(frames.map((item) => `${item.id}:${item.event}`)).toEqual(['1:start', '3:chunk', '4:done']);
  });

  it('refuses a response that is not an event stream', async () => {
    const { fetch } = scriptedFetch([
      () => new Response('<html></html>', { headers: { 'content-type': 'text/html' } }),
    ]);
    await expect(streamChat(request, { ...options, fetch })).rejects.toBeInstanceOf(SluiceProtocolError);
  });

  it('reports a frame whose data is not JSON as a protocol error', async () => {
    const { fetch } = scriptedFetch([
      () => sseResponse([encoder.encode(`${start()}id: 2\nevent: chunk\ndata: {oops\n\n`)]),
    ]);
    const stream = await streamChat(request, { ...options, fetch });
    await expect(collect(stream)).rejects.toBeInstanceOf(SluiceProtocolError);
  });
});
