import OpenAI, {
  APIError,
  AuthenticationError,
  BadRequestError,
  NotFoundError,
  RateLimitError,
} from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Gateway, startGateway } from '../../src/server/gateway.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { nativeView, PROVIDER_CASES, WEATHER_TOOL } from '../helpers/native.js';

/**
 * The official `openai` SDK, unchanged but for its base URL, against the gateway in front of
 * every provider's emulator: what it reads equals the native stream of the same generation.
 */

let harness: TestGateway;
let keyless: Gateway;
let client: OpenAI;
beforeAll(async () => {
  // No gateway retries: a scripted upstream failure reaches the client as it is.
  harness = await startTestGateway({ maxRetries: 0 });
  keyless = await startGateway({ env: {}, settings: { port: 0, host: '127.0.0.1' }, webRoot: null });
  client = new OpenAI({ baseURL: `${harness.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});
afterAll(async () => {
  await harness.close();
  await keyless.close(100);
});
beforeEach(() => harness.emulator.reset());

/** Reasoning is asked for where the model can reason (`reasoning_effort` maps to a budget). */
const effortFor = (reasons: boolean) => (reasons ? { reasoning_effort: 'low' as const } : {});

interface StreamedCall {
  id: string;
  name: string;
  arguments: string;
}

describe.each(PROVIDER_CASES)('openai SDK -> $provider', ({ model, reasons }) => {
  it('streams text, reasoning, finish reason and usage as the native stream has them', async () => {
    const { data: stream, response } = await client.chat.completions
      .create({
        model,
        messages: [
          { role: 'developer', content: 'Be brief.' },
          { role: 'user', content: [{ type: 'text', text: 'Why is the sky blue?' }] },
        ],
        stream: true,
        stream_options: { include_usage: true },
        ...effortFor(reasons),
      })
      .withResponse();
    let text = '';
    let reasoning = '';
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined;
    const ids = new Set<string>();
    for await (const chunk of stream) {
      ids.add(chunk.id);
      expect(chunk.object).toBe('chat.completion.chunk');
      expect(chunk.model).toBe(model);
      const choice = chunk.choices[0];
      if (choice === undefined) {
        usage = chunk.usage ?? undefined;
        continue;
      }
      text += choice.delta.content ?? '';
      reasoning += (choice.delta as { reasoning_content?: string }).reasoning_content ?? '';
      finish = choice.finish_reason ?? finish;
    }
    const native = await nativeView(harness.url, response.headers.get('x-generation-id'));
    expect(ids).toEqual(new Set([`chatcmpl-${response.headers.get('x-generation-id')}`]));
    expect(text).toBe(native.text);
    expect(text.length).toBeGreaterThan(0);
    expect(reasoning).toBe(native.thinking);
    if (reasons) expect(reasoning.length).toBeGreaterThan(0);
    expect(finish).toBe('stop');
    expect(native.finishReason).toBe('stop');
    expect(usage).toEqual({
      prompt_tokens: native.usage.input_tokens,
      completion_tokens: native.usage.output_tokens,
      total_tokens: native.usage.total_tokens,
      completion_tokens_details: { reasoning_tokens: native.usage.thinking_tokens ?? 0 },
    });
  });

  it('answers stream: false with one chat.completion', async () => {
    const { data: completion, response } = await client.chat.completions
      .create({ model, messages: [{ role: 'user', content: 'Hello' }], ...effortFor(reasons) })
      .withResponse();
    const native = await nativeView(harness.url, response.headers.get('x-generation-id'));
    expect(completion.object).toBe('chat.completion');
    expect(completion.choices[0]?.message.content).toBe(native.text);
    const message = completion.choices[0]?.message as { reasoning_content?: string } | undefined;
    expect(message?.reasoning_content).toBe(native.thinking.length > 0 ? native.thinking : undefined);
    expect(completion.choices[0]?.finish_reason).toBe('stop');
    expect(completion.usage?.prompt_tokens).toBe(native.usage.input_tokens);
    expect(completion.usage?.completion_tokens).toBe(native.usage.output_tokens);
  });

  it('streams tool calls by index, as the SDK accumulates them', async () => {
    const stream = client.chat.completions.stream({
      model,
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
      tools: [WEATHER_TOOL],
      stream_options: { include_usage: true },
    });
    const fragments: Record<number, StreamedCall> = {};
    for await (const chunk of stream) {
      for (const call of chunk.choices[0]?.delta.tool_calls ?? []) {
        const entry = fragments[call.index] ?? { id: '', name: '', arguments: '' };
        fragments[call.index] = entry;
        entry.id += call.id ?? '';
        entry.name += call.function?.name ?? '';
        entry.arguments += call.function?.arguments ?? '';
      }
    }
    const completion = await stream.finalChatCompletion();
    const native = await nativeView(harness.url, completion.id.replace(/^chatcmpl-/, ''));
    expect(native.toolCalls.length).toBeGreaterThan(0);
    expect(Object.values(fragments)).toEqual(
      native.toolCalls.map(({ id, name, arguments: args }) => ({ id, name, arguments: args })),
    );
    expect(completion.choices[0]?.finish_reason).toBe('tool_calls');
    expect(
      completion.choices[0]?.message.tool_calls?.map(
        (call) => call.type === 'function' && call.function.name,
      ),
    ).toEqual(native.toolCalls.map((call) => call.name));
    expect(JSON.parse(native.toolCalls[0]?.arguments ?? '')).toMatchObject({ location: 'Paris' });
  });
});

describe('openai SDK typed errors', () => {
  it('BadRequestError for a value out of range, naming the param', async () => {
    const error = await client.chat.completions
      .create({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'Hi' }], temperature: 5 })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(BadRequestError);
    expect(error).toMatchObject({
      status: 400,
      code: 'invalid_request',
      param: 'temperature',
      type: 'invalid_request_error',
    });
  });

  it('BadRequestError names OpenAI fields: max_completion_tokens, reasoning_effort, messages', async () => {
    const tooMany = await client.chat.completions
      .create({
        model: 'openai/gpt-4o',
        messages: [{ role: 'user', content: 'Hi' }],
        max_completion_tokens: 1_000_000,
      })
      .catch((caught: unknown) => caught);
    expect(tooMany).toMatchObject({ status: 400, param: 'max_completion_tokens' });
    const cannotReason = await client.chat.completions
      .create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }], reasoning_effort: 'high' })
      .catch((caught: unknown) => caught);
    expect(cannotReason).toBeInstanceOf(BadRequestError);
    expect(cannotReason).toMatchObject({ code: 'thinking_not_supported', param: 'reasoning_effort' });
    const image = await client.chat.completions
      .create({
        model: 'gpt-4o',
        messages: [
          { role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] },
        ],
      })
      .catch((caught: unknown) => caught);
    expect(image).toMatchObject({ status: 400, param: 'messages.0.content.0.type' });
  });

  it('NotFoundError model_not_found for a model the gateway does not serve', async () => {
    for (const model of ['acme/model-x', 'together/not-a-listed-model', 'openai/']) {
      const error = await client.chat.completions
        .create({ model, messages: [{ role: 'user', content: 'Hi' }], stream: true })
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(NotFoundError);
      expect(error).toMatchObject({ status: 404, code: 'model_not_found', param: 'model' });
    }
  });

  it('AuthenticationError when the provider has no key configured', async () => {
    const unkeyed = new OpenAI({ baseURL: `${keyless.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const error = await unkeyed.chat.completions
      .create({ model: 'anthropic', messages: [{ role: 'user', content: 'Hi' }] })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error).toMatchObject({ status: 401, code: 'provider_auth' });
    expect((error as Error).message).toContain('ANTHROPIC_API_KEY');
  });

  it('RateLimitError when the upstream rate-limits before the first token, streaming or not', async () => {
    for (const stream of [true, false]) {
      harness.emulator.enqueue('anthropic', { fault: { type: 'http', status: 429, retryAfter: '0' } });
      const error = await client.chat.completions
        .create({ model: 'anthropic', messages: [{ role: 'user', content: 'Hi' }], stream })
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(RateLimitError);
      expect(error).toMatchObject({ status: 429, code: 'rate_limited' });
      const generationId = (error as RateLimitError).headers?.get('x-generation-id');
      expect((await nativeView(harness.url, generationId)).error).toMatchObject({ code: 'rate_limited' });
    }
  });

  it('APIError when the upstream fails mid-stream, after the text that came before it', async () => {
    harness.emulator.enqueue('gemini', { chunks: 10, fault: { type: 'midstream_error', afterChunks: 3 } });
    const { data: stream, response } = await client.chat.completions
      .create({ model: 'gemini/gemini-2.0-flash', messages: [{ role: 'user', content: 'Hi' }], stream: true })
      .withResponse();
    let text = '';
    const error = await (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    })().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(APIError);
    const native = await nativeView(harness.url, response.headers.get('x-generation-id'));
    expect(text).toBe(native.text);
    expect(text.length).toBeGreaterThan(0);
    expect(error).toMatchObject({ code: native.error.code, type: 'server_error' });
    expect((error as Error).message).toContain(native.error.message);
  });

  it('finishes a moderation stop with finish_reason content_filter, not an error', async () => {
    harness.emulator.enqueue('openai', { chunks: 6, fault: { type: 'content_filter', afterChunks: 2 } });
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Hi' }],
      stream: true,
    });
    const finishes: (string | null)[] = [];
    for await (const chunk of stream) finishes.push(chunk.choices[0]?.finish_reason ?? null);
    expect(finishes.at(-1)).toBe('content_filter');
  });
});

describe('GET /v1/models', () => {
  it('lists every configured model as <provider>/<model>, and each one by id', async () => {
    const models = [];
    for await (const model of client.models.list()) models.push(model);
    expect(models.length).toBeGreaterThan(10);
    expect(models).toContainEqual(
      expect.objectContaining({ id: 'anthropic/claude-sonnet-4-5', object: 'model', owned_by: 'anthropic' }),
    );
    expect(models).toContainEqual(
      expect.objectContaining({
        id: 'together/meta-llama/Llama-4-Maverick-17B-128E-Instruct-FP8',
        owned_by: 'together',
      }),
    );
    const one = await client.models.retrieve('gemini/gemini-2.5-flash');
    expect(one).toMatchObject({ id: 'gemini/gemini-2.5-flash', owned_by: 'gemini' });
    await expect(client.models.retrieve('acme/nothing')).rejects.toBeInstanceOf(NotFoundError);
    const unkeyed = new OpenAI({ baseURL: `${keyless.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const keylessModels = [];
    for await (const model of unkeyed.models.list()) keylessModels.push(model.owned_by);
    // Only Ollama needs no key.
    expect(new Set(keylessModels)).toEqual(new Set(['ollama']));
  });
});
