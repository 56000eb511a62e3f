import Together from 'together-ai';
import { request as undiciRequest } from 'undici';
import { describe, expect, it } from 'vitest';
import { useEmulator } from '../../../test/helpers/emulator.js';
import { replayBody, textOf } from '../../../test/helpers/replay.js';
import { chatRequest as baseRequest } from '../../../test/helpers/requests.js';
import type { ChatRequest } from '../../protocol/request.js';
import type { CodecPart } from '../types.js';
import { createTogetherDialect } from './emulator.js';
import { together } from './index.js';

const MODEL = together.defaultModel;
const WEATHER_TOOL = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } } },
  },
};

const emulator = useEmulator(createTogetherDialect());

const sdk = () =>
  new Together({ apiKey: 'test-key', baseURL: emulator.baseUrl('together'), maxRetries: 0, timeout: 10_000 });

function chatRequest(overrides: Partial<ChatRequest> = {}): ChatRequest {
  return baseRequest({
    provider: 'together',
    model: MODEL,
    messages: [{ role: 'user', content: 'What is the weather in Paris?' }],
    temperature: 0.2,
    max_tokens: 256,
    ...overrides,
  });
}

/** The gateway's path in miniature: our request mapping, a real socket, our framing and codec. */
async function throughGateway(
  request: ChatRequest,
): Promise<{ status: number; parts: CodecPart[]; body: string }> {
  const upstream = together.buildRequest(request, MODEL, {
    apiKey: 'test-key',
    baseUrl: emulator.baseUrl('together'),
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
  const parts = await replayBody(together, response.body as AsyncIterable<Uint8Array>);
  return { status: 200, parts, body: '' };
}

describe('Together emulator through the official together-ai SDK', () => {
  it('streams text, finish_reason eos and usage on the finish chunk', async () => {
    emulator.enqueue('together', { text: 'Sunny and mild in Paris today.' });
    const stream = await sdk().chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'What is the weather in Paris?' }],
      stream: true,
    });
    let text = '';
    const finishReasons: (string | null)[] = [];
    let usage: unknown = null;
    const ids = new Set<string>();
    for await (const chunk of stream) {
      ids.add(chunk.id);
      const choice = chunk.choices[0];
      expect(choice?.delta.role).toBe('assistant');
      text += choice?.delta.content ?? '';
      finishReasons.push(choice?.finish_reason ?? null);
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe('Sunny and mild in Paris today.');
    expect(finishReasons.at(-1)).toBe('eos');
    expect(finishReasons.slice(0, -1).every((reason) => reason === null)).toBe(true);
    expect(usage).toMatchObject({ prompt_tokens: expect.any(Number), completion_tokens: expect.any(Number) });
    expect([...ids]).toHaveLength(1);
    expect([...ids][0]).toMatch(/^[0-9a-f]{16}-SJC$/);
    const body = emulator.stats('together').bodies.at(-1) as { stream?: unknown };
    expect(body.stream).toBe(true);
  });

  it('streams a tool call whose arguments assemble into JSON', async () => {
    const stream = await sdk().chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'Weather in Paris for 3 days?' }],
      tools: [WEATHER_TOOL],
      stream: true,
    });
    let name = '';
    let id = '';
    const pieces: string[] = [];
    let finish: string | null = null;
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      for (const call of choice?.delta.tool_calls ?? []) {
        if (call.id) id = call.id;
        if (call.function?.name) name = call.function.name;
        pieces.push(call.function?.arguments ?? '');
      }
      finish = choice?.finish_reason ?? finish;
    }
    expect(name).toBe('get_weather');
    expect(id).toMatch(/^call_/);
    expect(JSON.parse(pieces.join(''))).toEqual({ city: 'Paris', days: 1 });
    expect(finish).toBe('tool_calls');
  });

  it('a scripted 401 surfaces as the SDK AuthenticationError with Together’s message', async () => {
    emulator.enqueue('together', { fault: { type: 'http', status: 401 } });
    const attempt = sdk().chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    await expect(attempt).rejects.toBeInstanceOf(Together.AuthenticationError);
    await expect(attempt).rejects.toMatchObject({ status: 401 });
    await expect(attempt).rejects.toThrow(/Invalid API key provided/);
  });

  it('a mid-stream capacity error is thrown by the SDK as an APIError', async () => {
    emulator.enqueue('together', {
      chunks: 4,
      fault: { type: 'midstream_error', afterChunks: 2, kind: 'capacity' },
    });
    const stream = await sdk().chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    let received = 0;
    const consume = async () => {
      for await (const _chunk of stream) received++;
    };
    await expect(consume()).rejects.toThrow(/Model is at capacity/);
    expect(received).toBe(2);
  });
});

describe('Together emulator through the Together provider (request mapping, framing, codec)', () => {
  it('maps the request the way Together reads it', async () => {
    const result = await throughGateway(chatRequest());
    expect(result.status).toBe(200);
    const body = emulator.stats('together').bodies.at(-1) as Record<string, unknown>;
    expect(body).toMatchObject({ model: MODEL, stream: true, max_tokens: 256, temperature: 0.2 });
    expect(body).not.toHaveProperty('max_completion_tokens');
    expect(body).not.toHaveProperty('reasoning_effort');
    expect(emulator.stats('together').headers.at(-1)?.authorization).toBe('Bearer test-key');
  });

  it('text: metadata, text, usage, finish stop (raw eos)', async () => {
    emulator.enqueue('together', { text: 'Hello from Llama.' });
    const { parts } = await throughGateway(chatRequest());
    expect(parts[0]).toMatchObject({ type: 'metadata', upstreamModel: MODEL });
    expect(textOf(parts, 'text')).toBe('Hello from Llama.');
    expect(parts.at(-2)).toMatchObject({ type: 'usage', usage: { inputTokens: expect.any(Number) } });
    expect(parts.at(-1)).toEqual({ type: 'finish', reason: 'stop', rawReason: 'eos' });
  });

  it('tool call: one start and one complete call, finish tool_calls', async () => {
    const { parts } = await throughGateway(chatRequest({ tools: [WEATHER_TOOL] }));
    const calls = parts.filter((part) => part.type === 'tool_call_start' || part.type === 'tool_call');
    expect(calls).toHaveLength(2);
    expect(calls[0]).toMatchObject({ type: 'tool_call_start', index: 0, name: 'get_weather' });
    expect(calls[1]).toMatchObject({ type: 'tool_call', index: 0, arguments: '{"city":"Paris","days":1}' });
    expect(parts.at(-1)).toEqual({ type: 'finish', reason: 'tool_calls', rawReason: 'tool_calls' });
  });

  it('capacity mid-stream: an overloaded error part after the text, no finish', async () => {
    emulator.enqueue('together', {
      chunks: 5,
      fault: { type: 'midstream_error', afterChunks: 3, kind: 'capacity' },
    });
    const { parts } = await throughGateway(chatRequest());
    expect(parts.filter((part) => part.type === 'text')).toHaveLength(3);
    expect(parts.at(-1)).toEqual({
      type: 'error',
      code: 'overloaded',
      message: 'Together: Model is at capacity',
      retryable: true,
    });
    expect(parts.some((part) => part.type === 'finish')).toBe(false);
  });

  it('malformed bytes and a body cut without a finish', async () => {
    emulator.enqueue('together', { chunks: 3, fault: { type: 'malformed', afterChunks: 1 } });
    const malformed = await throughGateway(chatRequest());
    expect(malformed.parts.at(-1)).toMatchObject({ type: 'error', code: 'upstream_error' });
    emulator.enqueue('together', { chunks: 3, fault: { type: 'no_finish', afterChunks: 2 } });
    const cut = await throughGateway(chatRequest());
    expect(cut.parts.filter((part) => part.type === 'text')).toHaveLength(2);
    expect(cut.parts.some((part) => part.type === 'finish' || part.type === 'error')).toBe(false);
  });

  it('HTTP errors map onto stream errors, with Retry-After honoured', async () => {
    emulator.enqueue('together', { fault: { type: 'http', status: 401 } });
    const unauthorized = await throughGateway(chatRequest());
    expect(unauthorized.status).toBe(401);
    const auth = together.mapHttpError(401, unauthorized.body, {});
    expect(auth).toMatchObject({ code: 'provider_auth', retryable: false, status: 401 });
    expect(auth.message).toContain('Together answered HTTP 401: Invalid API key provided');

    emulator.enqueue('together', { fault: { type: 'http', status: 429, retryAfter: '2' } });
    const limited = await throughGateway(chatRequest());
    const rate = together.mapHttpError(429, limited.body, { 'retry-after': '2' });
    expect(rate).toMatchObject({ code: 'rate_limited', retryable: true, retryAfterMs: 2000 });

    emulator.enqueue('together', { fault: { type: 'http', status: 503 } });
    const busy = await throughGateway(chatRequest());
    expect(together.mapHttpError(503, busy.body, {})).toMatchObject({ code: 'overloaded', retryable: true });
  });
});

describe('Together definition', () => {
  it('whitelists the Llama models and describes their capabilities', () => {
    expect(together.models).toContain(together.defaultModel);
    expect(together.models).toContain('meta-llama/Llama-4-Scout-17B-16E-Instruct');
    expect(together.models).not.toContain('gpt-4o');
    for (const model of together.models ?? []) {
      expect(together.capabilities(model)).toMatchObject({
        reasoning: false,
        tools: true,
        reportsUsage: true,
      });
    }
    expect(together.idleTimeoutMs).toBeGreaterThan(30_000);
    expect(together.apiKeyEnv).toEqual(['TOGETHER_API_KEY']);
  });

  it('never puts the API key in a mapped error message', () => {
    const key = 'sk-together-secret-0123456789abcdef';
    const error = together.mapHttpError(
      401,
      JSON.stringify({ error: { message: `Invalid API key provided: ${key}`, code: 'invalid_api_key' } }),
      {},
    );
    expect(error.message).not.toContain(key);
  });
});
