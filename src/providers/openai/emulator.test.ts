import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createWireParser } from '../../core/wire-parse.js';
import { EmulatorServer } from '../../emulators/server.js';
import { createOpenAiCodec } from './codec.js';
import { createOpenAiDialect } from './emulator.js';
import { buildOpenAiCompatibleRequest } from './request.js';

let emulator: EmulatorServer;
let client: OpenAI;

beforeAll(async () => {
  emulator = new EmulatorServer({
    dialects: [createOpenAiDialect()],
    defaults: { ttftMs: 0, chunkDelayMs: 0 },
  });
  await emulator.listen();
  client = new OpenAI({
    apiKey: 'sk-test',
    baseURL: emulator.baseUrl('openai'),
    maxRetries: 0,
    timeout: 5000,
  });
});
afterAll(() => emulator.close());
beforeEach(() => emulator.reset());

describe('the OpenAI emulator, read by the official openai SDK', () => {
  it('streams text chunks, a finish chunk and a usage-only chunk that the SDK parses', async () => {
    emulator.enqueue('openai', { text: 'Hello from the emulator,\nwith "quotes" and é.' });
    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const first = chunks[0];
    expect(first?.object).toBe('chat.completion.chunk');
    expect(first?.model).toBe('gpt-4o');
    expect(first?.choices[0]?.delta.role).toBe('assistant');
    const text = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe('Hello from the emulator,\nwith "quotes" and é.');
    const finish = chunks.find((chunk) => chunk.choices[0]?.finish_reason);
    expect(finish?.choices[0]?.finish_reason).toBe('stop');
    const usage = chunks.at(-1);
    expect(usage?.choices).toEqual([]);
    expect(usage?.usage?.prompt_tokens).toBeGreaterThan(0);
    expect(usage?.usage?.completion_tokens).toBeGreaterThan(0);
    // Without include_usage, the same answer comes without the usage-only chunk, and no chunk
    // carries a usage field at all.
    emulator.enqueue('openai', { text: 'Hello from the emulator,\nwith "quotes" and é.' });
    const plain = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Hi' }],
      stream: true,
    });
    const plainChunks = [];
    for await (const chunk of plain) plainChunks.push(chunk);
    expect(plainChunks).toHaveLength(chunks.length - 1);
    expect(plainChunks.map((chunk) => chunk.usage)).toEqual(plainChunks.map(() => undefined));
  });

  it('streams a tool call the SDK assembles with its stream helper', async () => {
    const runner = client.chat.completions.stream({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            parameters: {
              type: 'object',
              properties: { location: { type: 'string' }, unit: { type: 'string' } },
            },
          },
        },
      ],
    });
    const completion = await runner.finalChatCompletion();
    const call = completion.choices[0]?.message.tool_calls?.[0];
    expect(completion.choices[0]?.finish_reason).toBe('tool_calls');
    expect(call?.type).toBe('function');
    if (call?.type !== 'function') throw new Error('expected a function call');
    expect(call.function.name).toBe('get_weather');
    expect(JSON.parse(call.function.arguments)).toEqual({ location: 'Paris', unit: 'example' });
    expect(call.id).toMatch(/^call_/);
  });

  it('answers HTTP errors with the OpenAI envelope the SDK turns into typed errors', async () => {
    emulator.enqueue('openai', { fault: { type: 'http', status: 429, retryAfter: '2' } });
    const error = await client.chat.completions
      .create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }], stream: true })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect((error as InstanceType<typeof OpenAI.RateLimitError>).headers.get('retry-after')).toBe('2');
    emulator.enqueue('openai', { fault: { type: 'http', status: 401 } });
    const authError = await client.chat.completions
      .create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }], stream: true })
      .catch((caught: unknown) => caught);
    expect(authError).toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it('surfaces an in-stream error object as an SDK error', async () => {
    emulator.enqueue('openai', { fault: { type: 'midstream_error', afterChunks: 2, kind: 'server_error' } });
    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Hi' }],
      stream: true,
    });
    const consume = async () => {
      for await (const _ of stream) {
        // reading until the error
      }
    };
    await expect(consume()).rejects.toBeInstanceOf(OpenAI.APIError);
  });

  it('accepts what the gateway sends and feeds the codec the same bytes the SDK read', async () => {
    const request = buildOpenAiCompatibleRequest(
      {
        provider: 'openai',
        model: 'gpt-4o',
        messages: [{ role: 'user', content: 'Hi' }],
        temperature: undefined,
        max_tokens: 20,
        thinking_budget: undefined,
        include_thinking: true,
        tools: undefined,
        token_budget: undefined,
        fallbacks: [],
        recover: false,
        cancel_on_disconnect: false,
      },
      'gpt-4o',
      { apiKey: 'sk-test', baseUrl: emulator.baseUrl('openai') },
      { maxTokensField: 'max_completion_tokens', reasoningEffort: true },
    );
    const response = await fetch(request.url, {
      method: 'POST',
      headers: request.headers,
      body: request.body,
    });
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const parser = createWireParser('sse');
    const codec = createOpenAiCodec();
    const parts = [];
    for (const event of [...parser.push(new Uint8Array(await response.arrayBuffer())), ...parser.end()]) {
      parts.push(...codec.push(event));
    }
    expect(parts.filter((part) => part.type === 'text').length).toBeGreaterThan(0);
    expect(parts).toContainEqual({ type: 'finish', reason: 'stop', rawReason: 'stop' });
    expect(parts.some((part) => part.type === 'usage')).toBe(true);
  });
});
