import { type ChatResponse, Ollama } from 'ollama';
import { request as undiciRequest } from 'undici';
import { describe, expect, it } from 'vitest';
import { useEmulator } from '../../../test/helpers/emulator.js';
import { replayBody, textOf } from '../../../test/helpers/replay.js';
import { chatRequest as baseRequest } from '../../../test/helpers/requests.js';
import type { ChatRequest } from '../../protocol/request.js';
import type { CodecPart } from '../types.js';
import { createOllamaDialect } from './emulator.js';
import { ollama } from './index.js';

const WEATHER_TOOL = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } } },
  },
};

const emulator = useEmulator(createOllamaDialect());

const client = () => new Ollama({ host: emulator.baseUrl('ollama') });

async function collect(stream: AsyncIterable<ChatResponse>): Promise<ChatResponse[]> {
  const lines: ChatResponse[] = [];
  for await (const line of stream) lines.push(line);
  return lines;
}

function chatRequest(overrides: Partial<ChatRequest> = {}): ChatRequest {
  return baseRequest({
    provider: 'ollama',
    model: 'llama3.2',
    messages: [{ role: 'user', content: 'What is the weather in Paris?' }],
    ...overrides,
  });
}

/** The gateway's path in miniature: our request mapping, a real socket, our framing and codec. */
async function throughGateway(
  chat: ChatRequest,
  model: string,
): Promise<{ status: number; parts: CodecPart[]; body: string }> {
  const upstream = ollama.buildRequest(chat, model, {
    apiKey: undefined,
    baseUrl: emulator.baseUrl('ollama'),
  });
  const response = await undiciRequest(upstream.url, {
    method: 'POST',
    headers: upstream.headers,
    body: upstream.body,
    signal: AbortSignal.timeout(10_000),
  });
  if (response.statusCode !== 200) {
    return { status: response.statusCode, parts: [], body: await response.body.text() };
  }
  expect(response.headers['content-type']).toBe('application/x-ndjson');
  const parts = await replayBody(ollama, response.body as AsyncIterable<Uint8Array>);
  return { status: 200, parts, body: '' };
}

describe('Ollama emulator through the official ollama client', () => {
  it('streams chat lines; the last has done, done_reason and eval_count', async () => {
    emulator.enqueue('ollama', { text: 'Sunny in Paris.' });
    const lines = await collect(
      await client().chat({
        model: 'llama3.2',
        messages: [{ role: 'user', content: 'Weather in Paris?' }],
        stream: true,
      }),
    );
    expect(lines.map((line) => line.message.content).join('')).toBe('Sunny in Paris.');
    for (const line of lines) {
      expect(line.model).toBe('llama3.2');
      expect(line.message.role).toBe('assistant');
      expect(String(line.created_at)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/);
    }
    const last = lines.at(-1);
    expect(last).toMatchObject({ done: true, done_reason: 'stop' });
    expect(last?.eval_count).toBeGreaterThan(0);
    expect(last?.prompt_eval_count).toBeGreaterThan(0);
    expect(last?.eval_duration).toBeGreaterThan(0);
    expect(Number.isInteger(last?.total_duration)).toBe(true);
    expect(lines.slice(0, -1).every((line) => line.done === false)).toBe(true);
  });

  it('with think: true, thinking lines come before the answer', async () => {
    emulator.enqueue('ollama', { text: 'Four.', thinkingChunks: 5 });
    const lines = await collect(
      await client().chat({
        model: 'qwen3',
        messages: [{ role: 'user', content: '2+2?' }],
        think: true,
        stream: true,
      }),
    );
    const thinking = lines.map((line) => line.message.thinking ?? '').join('');
    expect(thinking).toBe('Let me think about this');
    expect(lines.map((line) => line.message.content).join('')).toBe('Four.');
    const lastThinking = lines.findLastIndex((line) => (line.message.thinking ?? '') !== '');
    const firstContent = lines.findIndex((line) => line.message.content !== '');
    expect(lastThinking).toBeLessThan(firstContent);
    expect(lines.at(-1)?.eval_count).toBeGreaterThan(0);
  });

  it('with tools, a tool call arrives whole with object arguments', async () => {
    const lines = await collect(
      await client().chat({
        model: 'llama3.2',
        messages: [{ role: 'user', content: 'Weather in Paris?' }],
        tools: [WEATHER_TOOL],
        stream: true,
      }),
    );
    const calls = lines.flatMap((line) => line.message.tool_calls ?? []);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.function).toMatchObject({ name: 'get_weather', arguments: { city: 'Paris', days: 1 } });
    expect(lines.at(-1)).toMatchObject({ done: true, done_reason: 'stop' });
  });

  it('a scripted 404 is a ResponseError with Ollama’s model-not-found message', async () => {
    emulator.enqueue('ollama', { fault: { type: 'http', status: 404 } });
    const attempt = client().chat({
      model: 'llama9',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    await expect(attempt).rejects.toMatchObject({
      name: 'ResponseError',
      status_code: 404,
      error: "model 'llama9' not found, try pulling it first",
    });
  });

  it('a scripted 500 is a ResponseError; an error line mid-stream is thrown by the iterator', async () => {
    emulator.enqueue('ollama', { fault: { type: 'http', status: 500 } });
    await expect(
      client().chat({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }], stream: true }),
    ).rejects.toMatchObject({ name: 'ResponseError', status_code: 500 });

    emulator.enqueue('ollama', { chunks: 5, fault: { type: 'midstream_error', afterChunks: 2 } });
    const stream = await client().chat({
      model: 'llama3.2',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    let received = 0;
    const consume = async () => {
      for await (const _line of stream) received++;
    };
    await expect(consume()).rejects.toThrow(/model runner has unexpectedly stopped/);
    expect(received).toBe(2);
  });
});

describe('Ollama emulator through the Ollama provider (request mapping, framing, codec)', () => {
  it('maps the request the way Ollama reads it', async () => {
    await throughGateway(chatRequest({ temperature: 0.4, max_tokens: 32 }), 'llama3.2');
    const body = emulator.stats('ollama').bodies.at(-1) as Record<string, unknown>;
    expect(body).toMatchObject({
      model: 'llama3.2',
      stream: true,
      options: { temperature: 0.4, num_predict: 32 },
    });
    expect(body).not.toHaveProperty('think');
  });

  it('text: metadata with created_at as the upstream id, text, usage, finish', async () => {
    emulator.enqueue('ollama', { text: 'Bonjour, ça va ?' });
    const { parts } = await throughGateway(chatRequest(), 'llama3.2');
    expect(parts[0]).toMatchObject({
      type: 'metadata',
      upstreamModel: 'llama3.2',
      upstreamId: expect.any(String),
    });
    expect(textOf(parts, 'text')).toBe('Bonjour, ça va ?');
    expect(parts.at(-2)).toMatchObject({ type: 'usage', usage: { inputTokens: expect.any(Number) } });
    expect(parts.at(-1)).toEqual({ type: 'finish', reason: 'stop', rawReason: 'stop' });
  });

  it('a thinking model streams thinking by default, and none with thinking_budget 0', async () => {
    emulator.enqueue('ollama', { text: 'Four.', thinkingChunks: 3 });
    const thinking = await throughGateway(chatRequest(), 'qwen3');
    expect(textOf(thinking.parts, 'thinking')).toBe('Let me think');
    expect(textOf(thinking.parts, 'text')).toBe('Four.');
    emulator.enqueue('ollama', { text: 'Four.', thinkingChunks: 3 });
    const direct = await throughGateway(chatRequest({ thinking_budget: 0 }), 'qwen3');
    expect(direct.parts.some((part) => part.type === 'thinking')).toBe(false);
    expect((emulator.stats('ollama').bodies.at(-1) as { think?: unknown }).think).toBe(false);
  });

  it('tools: one tool call, finish stop (the generation layer makes it tool_calls)', async () => {
    const { parts } = await throughGateway(chatRequest({ tools: [WEATHER_TOOL] }), 'llama3.2');
    const calls = parts.filter((part) => part.type === 'tool_call_start' || part.type === 'tool_call');
    expect(calls).toEqual([
      { type: 'tool_call_start', index: 0, id: expect.stringMatching(/^call_\w{8}$/), name: 'get_weather' },
      {
        type: 'tool_call',
        index: 0,
        id: expect.stringMatching(/^call_\w{8}$/),
        name: 'get_weather',
        arguments: '{"city":"Paris","days":1}',
      },
    ]);
    expect(parts.at(-1)).toMatchObject({ type: 'finish', reason: 'stop' });
  });

  it('length finish, mid-stream error, malformed line and a body with no done line', async () => {
    emulator.enqueue('ollama', { chunks: 3, finish: 'length' });
    const length = await throughGateway(chatRequest(), 'llama3.2');
    expect(length.parts.at(-1)).toEqual({ type: 'finish', reason: 'length', rawReason: 'length' });

    emulator.enqueue('ollama', {
      chunks: 4,
      fault: { type: 'midstream_error', afterChunks: 2, kind: 'server_error' },
    });
    const failed = await throughGateway(chatRequest(), 'llama3.2');
    expect(failed.parts.filter((part) => part.type === 'text')).toHaveLength(2);
    expect(failed.parts.at(-1)).toMatchObject({ type: 'error', code: 'upstream_error', retryable: true });

    emulator.enqueue('ollama', { chunks: 4, fault: { type: 'malformed', afterChunks: 1 } });
    const malformed = await throughGateway(chatRequest(), 'llama3.2');
    expect(malformed.parts.at(-1)).toMatchObject({ type: 'error', code: 'upstream_error' });

    emulator.enqueue('ollama', { chunks: 4, fault: { type: 'no_finish', afterChunks: 3 } });
    const cut = await throughGateway(chatRequest(), 'llama3.2');
    expect(cut.parts.filter((part) => part.type === 'text')).toHaveLength(3);
    expect(cut.parts.some((part) => part.type === 'finish' || part.type === 'error')).toBe(false);
  });

  it('HTTP errors: 404 model not found is bad_request, 500 is retryable', async () => {
    emulator.enqueue('ollama', { fault: { type: 'http', status: 404 } });
    const missing = await throughGateway(chatRequest(), 'llama9');
    expect(missing.status).toBe(404);
    expect(ollama.mapHttpError(404, missing.body, {})).toMatchObject({
      code: 'bad_request',
      retryable: false,
      message: "Ollama answered HTTP 404: model 'llama9' not found, try pulling it first",
    });
    emulator.enqueue('ollama', { fault: { type: 'http', status: 500 } });
    const crashed = await throughGateway(chatRequest(), 'llama3.2');
    expect(ollama.mapHttpError(500, crashed.body, {})).toMatchObject({
      code: 'upstream_error',
      retryable: true,
    });
  });
});
