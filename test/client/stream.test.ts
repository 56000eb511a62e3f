import { createServer } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type ChatRequestBody,
  getGeneration,
  health,
  resumeStream,
  SluiceConnectionError,
  SluiceRequestError,
  type StreamFrame,
  startGeneration,
  streamChat,
} from '../../src/client/index.js';
import type { Gateway } from '../../src/server/gateway.js';
import { emulatorOf, startDemoGateway, waitFor } from './helpers.js';

const hello: ChatRequestBody = { provider: 'openai', messages: [{ role: 'user', content: 'Hello' }] };

async function collect(iterable: AsyncIterable<StreamFrame>): Promise<StreamFrame[]> {
  const frames: StreamFrame[] = [];
  for await (const frame of iterable) frames.push(frame);
  return frames;
}

async function refusal(promise: Promise<unknown>): Promise<SluiceRequestError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(SluiceRequestError);
  return error as SluiceRequestError;
}

describe('client against a demo gateway', () => {
  let gateway: Gateway;
  let baseUrl: string;

  beforeAll(async () => {
    gateway = await startDemoGateway();
    baseUrl = gateway.url;
  });
  afterAll(() => gateway.close(1000));
  beforeEach(() => {
    emulatorOf(gateway).reset();
    emulatorOf(gateway).setDefaults({ ttftMs: 5, chunkDelayMs: 2 });
  });

  it('streams frames in order with ids 1..n and accumulates the text', async () => {
    emulatorOf(gateway).enqueue('openai', { text: 'The quick brown fox jumps over the lazy dog.' });
    const stream = await streamChat(hello, { baseUrl });
    expect(stream.generationId).toMatch(/^gen_/);
    const frames = await collect(stream);

    expect(frames.map((frame) => frame.id)).toEqual(frames.map((_, index) => index + 1));
    expect(frames[0]?.event).toBe('start');
    expect(frames.at(-1)?.event).toBe('done');
    const chunks = frames.flatMap((frame) => (frame.event === 'chunk' ? [frame.data.delta_text] : []));
    expect(chunks.length).toBeGreaterThan(3);
    expect(stream.text).toBe('The quick brown fox jumps over the lazy dog.');
    expect(stream.text).toBe(chunks.join(''));
    expect(stream.finishReason).toBe('stop');
    expect(stream.usage?.output_tokens).toBeGreaterThan(0);
    expect(stream.stats.ttftMs).toBeGreaterThan(0);
    expect(stream.stats.final?.duration_ms).toBeGreaterThanOrEqual(0);

    const result = await stream.result;
    expect(result).toMatchObject({
      text: stream.text,
      finishReason: 'stop',
      aborted: false,
      provider: 'openai',
      generationId: stream.generationId,
    });
  });

  it('resolves result without anyone iterating', async () => {
    emulatorOf(gateway).enqueue('openai', { text: 'only the result' });
    const stream = await streamChat(hello, { baseUrl });
    const result = await stream.result;
    expect(result.text).toBe('only the result');
    expect(result.done?.finish_reason).toBe('stop');
  });

  it('keeps error frames as frames, followed by done', async () => {
    emulatorOf(gateway).enqueue('openai', { chunks: 5, fault: { type: 'content_filter', afterChunks: 2 } });
    const stream = await streamChat(hello, { baseUrl });
    const events = (await collect(stream)).map((frame) => frame.event);
    expect(events).toContain('error');
    expect(events.at(-1)).toBe('done');
    expect(stream.error?.code).toBe('content_filter');
    expect(stream.finishReason).toBe('content_filter');
  });

  it('throws a typed error for a bad temperature', async () => {
    const error = await refusal(streamChat({ ...hello, temperature: 5 }, { baseUrl }));
    expect(error).toMatchObject({ status: 400, code: 'invalid_request', field: 'temperature' });
    expect(error.message).toMatch(/temperature/);
  });

  it('throws a typed error for an unknown provider', async () => {
    const error = await refusal(streamChat({ ...hello, provider: 'nope' }, { baseUrl }));
    expect(error).toMatchObject({ status: 400, code: 'unknown_provider', field: 'provider' });
  });

  it('throws a connection error when no gateway listens', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address ? address.port : 1));
      });
    });
    const error = await streamChat(hello, { baseUrl: `http://127.0.0.1:${closedPort}` }).catch(
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(SluiceConnectionError);
    expect((error as SluiceConnectionError).code).toBe('unreachable');
  });

  it('abort() stops at once and cancels upstream', async () => {
    const emulator = emulatorOf(gateway);
    emulator.enqueue('openai', { chunkDelayMs: 200, chunks: 100 });
    const stream = await streamChat(hello, { baseUrl });
    const seen: string[] = [];
    let aborted: Promise<boolean> | undefined;
    for await (const frame of stream) {
      seen.push(frame.event);
      if (frame.event === 'chunk') aborted ??= stream.abort();
    }
    expect(await aborted).toBe(true);
    expect(seen.filter((event) => event === 'chunk')).toHaveLength(1);
    expect(stream.aborted).toBe(true);
    expect(await waitFor(() => emulator.stats('openai').closedByClient >= 1, 3000)).toBe(true);
    const result = await stream.result;
    expect(result.aborted).toBe(true);
    expect(result.finishReason).toBeNull();
    // The gateway ended the generation as cancelled.
    const id = stream.generationId ?? '';
    expect(
      await waitFor(() => !gateway.store.running().some((generation) => generation.id === id), 3000),
    ).toBe(true);
    expect((await getGeneration(id, { baseUrl })).finish_reason).toBe('cancelled');
  });

  it('an aborted signal does the same as abort()', async () => {
    const emulator = emulatorOf(gateway);
    emulator.enqueue('openai', { chunkDelayMs: 200, chunks: 100 });
    const controller = new AbortController();
    const stream = await streamChat(hello, { baseUrl, signal: controller.signal });
    for await (const frame of stream) {
      if (frame.event === 'chunk') controller.abort();
    }
    expect(stream.aborted).toBe(true);
    expect(await waitFor(() => emulator.stats('openai').closedByClient >= 1, 3000)).toBe(true);
  });

  it('breaking out of the loop aborts the stream', async () => {
    const emulator = emulatorOf(gateway);
    emulator.enqueue('openai', { chunkDelayMs: 200, chunks: 100 });
    const stream = await streamChat(hello, { baseUrl });
    for await (const frame of stream) {
      if (frame.event === 'chunk') break;
    }
    expect(stream.aborted).toBe(true);
    expect(await waitFor(() => emulator.stats('openai').closedByClient >= 1, 3000)).toBe(true);
  });

  it('starts a generation, resumes it after a frame id, and reads its result', async () => {
    emulatorOf(gateway).enqueue('openai', { text: 'one two three four five six' });
    const started = await startGeneration(hello, { baseUrl });
    expect(started.stream_url).toBe(`/api/v1/chat/stream/${started.generation_id}`);

    const full = await collect(await resumeStream(started.generation_id, { baseUrl }));
    const tail = await collect(await resumeStream(started.generation_id, { baseUrl, lastEventId: 3 }));
    expect(tail.map((frame) => frame.id)).toEqual(full.slice(3).map((frame) => frame.id));
    expect(tail[0]?.id).toBe(4);

    const result = await getGeneration(started.generation_id, { baseUrl });
    expect(result).toMatchObject({
      status: 'done',
      text: 'one two three four five six',
      finish_reason: 'stop',
    });
  });

  it('answers 404 for an unknown generation as a typed error', async () => {
    const error = await refusal(resumeStream('gen_unknown', { baseUrl }));
    expect(error).toMatchObject({ status: 404, code: 'not_found' });
    expect(await refusal(getGeneration('gen_unknown', { baseUrl }))).toMatchObject({ status: 404 });
  });

  it('reads health', async () => {
    const answer = await health({ baseUrl });
    expect(answer.status).toBe('ok');
    expect(answer.providers.openai).toMatchObject({ configured: true, emulated: true });
    expect(typeof answer.providers.openai?.default_model).toBe('string');
  });
  it('yields fallback and recovered frames and exposes served_by, reasoning_state and both in its result', async () => {
    emulatorOf(gateway).enqueue('openai', { fault: { type: 'http', status: 503 } });
    const fallen = await streamChat(
      { ...hello, fallbacks: [{ provider: 'gemini', model: 'gemini-2.5-flash' }] },
      { baseUrl },
    );
    const events = (await collect(fallen)).map((frame) => frame.event);
    expect(events).toContain('fallback');
    const result = await fallen.result;
    expect(fallen.servedBy).toEqual({ provider: 'gemini', model: 'gemini-2.5-flash' });
    expect(result.servedBy).toEqual(fallen.servedBy);
    expect(result.fallbacks).toEqual([
      expect.objectContaining({ to: { provider: 'gemini', model: 'gemini-2.5-flash' }, code: 'overloaded' }),
    ]);
    expect(result.reasoningState).toBeNull();

    emulatorOf(gateway).enqueue(
      'openai',
      { chunks: 20, fault: { type: 'reset', afterChunks: 6 } },
      { chunks: 20 },
    );
    const recovered = await streamChat({ ...hello, recover: true }, { baseUrl });
    expect((await collect(recovered)).map((frame) => frame.event)).toContain('recovered');
    expect((await recovered.result).recoveries).toBe(1);

    emulatorOf(gateway).enqueue('anthropic', { thinkingChunks: 3 });
    const thinking = await streamChat(
      {
        provider: 'anthropic',
        model: 'claude-sonnet-4-5',
        thinking_budget: 1024,
        tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }],
        messages: [{ role: 'user', content: 'Weather?' }],
      },
      { baseUrl },
    );
    await collect(thinking);
    expect(thinking.reasoningState).toMatchObject({ provider: 'anthropic', items: [{ type: 'thinking' }] });
    expect((await thinking.result).reasoningState).toEqual(thinking.reasoningState);
  });
});
