import Anthropic, { APIError } from '@anthropic-ai/sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { replayBody, textOf } from '../../../test/helpers/replay.js';
import { chatRequest } from '../../../test/helpers/requests.js';
import { EmulatorServer } from '../../emulators/server.js';
import type { ChatRequest } from '../../protocol/request.js';
import type { ResponseHeaders } from '../../upstream/transport.js';
import type { CodecPart } from '../types.js';
import { createAnthropicDialect } from './emulator.js';
import { anthropic } from './index.js';

const TIMEOUT_MS = 5000;
const emulator = new EmulatorServer({
  dialects: [createAnthropicDialect()],
  defaults: { ttftMs: 0, chunkDelayMs: 0 },
});

beforeAll(async () => {
  await emulator.listen();
});
afterAll(async () => {
  await emulator.close();
});
beforeEach(() => {
  emulator.reset();
});

const weatherTool = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: { type: 'object', properties: { location: { type: 'string' }, days: { type: 'integer' } } },
  },
};

function chat(overrides: Partial<ChatRequest> = {}): ChatRequest {
  return chatRequest({
    provider: 'anthropic',
    messages: [{ role: 'user', content: 'Tell me about sluices' }],
    ...overrides,
  });
}

async function send(request: ChatRequest, { apiKey }: { apiKey?: string } = { apiKey: 'sk-ant-emulated' }) {
  const upstream = anthropic.buildRequest(request, 'claude-sonnet-4-5', {
    apiKey,
    baseUrl: emulator.baseUrl('anthropic'),
  });
  return fetch(upstream.url, {
    method: 'POST',
    headers: upstream.headers,
    body: upstream.body,
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
}

/** The gateway's own path: this provider's request, over a socket, through framing and codec. */
async function partsFor(request: ChatRequest): Promise<CodecPart[]> {
  const response = await send(request);
  expect(response.status).toBe(200);
  return replayBody(anthropic, response.body as unknown as AsyncIterable<Uint8Array>);
}

function headersOf(response: Response): ResponseHeaders {
  return Object.fromEntries(response.headers.entries());
}

describe('Anthropic emulator wire format', () => {
  it('writes the exact event sequence, data.type repeating each event name', async () => {
    emulator.enqueue('anthropic', { text: 'Sluices hold water.', thinkingChunks: 3 });
    const response = await send(chat({ thinking_budget: 1024 }));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const body = await response.text();
    expect(body.endsWith('\n\n')).toBe(true);
    const events = body
      .slice(0, -2)
      .split('\n\n')
      .map((block) => {
        const match = /^event: ([a-z_]+)\ndata: (.+)$/.exec(block);
        if (match === null) throw new Error(`not an Anthropic SSE event: ${JSON.stringify(block)}`);
        const data = JSON.parse(match[2] ?? '') as Record<string, unknown>;
        expect(data.type).toBe(match[1]);
        return { name: match[1], data, raw: match[2] };
      });
    const summary = events.map(({ name, data }) => {
      const delta = data.delta as { type?: string } | undefined;
      const block = data.content_block as { type?: string } | undefined;
      return [name, delta?.type ?? block?.type ?? data.index ?? ''].join(':');
    });
    expect(summary).toEqual([
      'message_start:',
      'ping:',
      'content_block_start:thinking',
      'content_block_delta:thinking_delta',
      'content_block_delta:thinking_delta',
      'content_block_delta:thinking_delta',
      'content_block_delta:signature_delta',
      'content_block_stop:0',
      'content_block_start:text',
      'content_block_delta:text_delta',
      'content_block_delta:text_delta',
      'content_block_delta:text_delta',
      'content_block_stop:1',
      'message_delta:',
      'message_stop:',
    ]);
    expect(events[1]?.raw).toBe('{"type": "ping"}');
    const start = events[0]?.data.message as Record<string, unknown>;
    expect(start).toMatchObject({ type: 'message', role: 'assistant', content: [], stop_reason: null });
    expect(String(start.id)).toMatch(/^msg_/);
    expect(events.at(-2)?.data).toMatchObject({
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: {
        output_tokens: expect.any(Number),
        output_tokens_details: { thinking_tokens: expect.any(Number) },
      },
    });
  });

  it('streams tool input as input_json_delta fragments opening with ""', async () => {
    const response = await send(chat({ tools: [weatherTool] }));
    const body = await response.text();
    const fragments = [...body.matchAll(/"partial_json":("(?:[^"\\]|\\.)*")/g)].map(
      (match) => JSON.parse(match[1] ?? '') as string,
    );
    expect(fragments[0]).toBe('');
    expect(fragments.length).toBeGreaterThan(2);
    expect(JSON.parse(fragments.join(''))).toEqual({ location: 'Paris', days: 1 });
    expect(body).toContain('"stop_reason":"tool_use"');
  });

  it('refuses a request without x-api-key with authentication_error', async () => {
    const response = await send(chat(), {});
    expect(response.status).toBe(401);
    const error = anthropic.mapHttpError(response.status, await response.text(), headersOf(response));
    expect(error).toMatchObject({ code: 'provider_auth', retryable: false });
  });
});

describe('Anthropic codec against the emulator, over a socket', () => {
  it('plain text', async () => {
    emulator.enqueue('anthropic', { text: 'A sluice is a gate for water.' });
    const parts = await partsFor(chat());
    expect(parts[0]).toMatchObject({ type: 'metadata', upstreamModel: 'claude-sonnet-4-5' });
    expect(textOf(parts, 'text')).toBe('A sluice is a gate for water.');
    expect(parts.at(-1)).toEqual({ type: 'finish', reason: 'stop', rawReason: 'end_turn' });
    expect(parts.at(-2)).toMatchObject({ type: 'usage', usage: { outputTokens: expect.any(Number) } });
  });

  it('thinking then text', async () => {
    emulator.enqueue('anthropic', { text: 'Done.', thinkingChunks: 4 });
    const parts = await partsFor(chat({ thinking_budget: 2048 }));
    expect(textOf(parts, 'thinking')).toBe('Let me think about');
    expect(textOf(parts, 'text')).toBe('Done.');
    expect(parts).toContainEqual(
      expect.objectContaining({ type: 'usage', usage: expect.objectContaining({ thinkingTokens: 5 }) }),
    );
  });

  it('a tool call', async () => {
    const parts = await partsFor(chat({ tools: [weatherTool] }));
    const [call] = parts.filter((part) => part.type === 'tool_call');
    expect(call).toMatchObject({ index: 0, name: 'get_weather', id: expect.stringMatching(/^toolu_/) });
    expect(JSON.parse(call?.type === 'tool_call' ? call.arguments : '')).toEqual({
      location: 'Paris',
      days: 1,
    });
    expect(parts.at(-1)).toEqual({ type: 'finish', reason: 'tool_calls', rawReason: 'tool_use' });
  });

  it('scripted faults: mid-stream error, malformed data, no finish, refusal', async () => {
    emulator.enqueue(
      'anthropic',
      { chunks: 6, fault: { type: 'midstream_error', afterChunks: 2 } },
      { chunks: 6, fault: { type: 'midstream_error', afterChunks: 2, kind: 'server_error' } },
      { chunks: 6, fault: { type: 'malformed', afterChunks: 2 } },
      { chunks: 6, fault: { type: 'no_finish', afterChunks: 2 } },
      { chunks: 6, fault: { type: 'content_filter', afterChunks: 2 } },
    );
    const overloaded = await partsFor(chat());
    expect(overloaded.filter((part) => part.type === 'text')).toHaveLength(2);
    expect(overloaded.at(-1)).toMatchObject({ type: 'error', code: 'overloaded', retryable: true });
    const serverError = await partsFor(chat());
    expect(serverError.at(-1)).toMatchObject({ type: 'error', code: 'upstream_error', retryable: true });
    const malformed = await partsFor(chat());
    expect(malformed.at(-1)).toMatchObject({ type: 'error', code: 'upstream_error' });
    const unfinished = await partsFor(chat());
    expect(unfinished.some((part) => part.type === 'finish' || part.type === 'error')).toBe(false);
    expect(unfinished.filter((part) => part.type === 'text')).toHaveLength(2);
    const refused = await partsFor(chat());
    expect(refused.at(-1)).toEqual({ type: 'finish', reason: 'content_filter', rawReason: 'refusal' });
  });

  it('scripted HTTP errors map onto stream errors', async () => {
    const cases = [
      [529, 'overloaded', true],
      [429, 'rate_limited', true],
      [500, 'upstream_error', true],
      [400, 'bad_request', false],
      [401, 'provider_auth', false],
    ] as const;
    for (const [status, code, retryable] of cases) {
      emulator.enqueue('anthropic', { fault: { type: 'http', status, retryAfter: '2' } });
      const response = await send(chat());
      expect(response.status).toBe(status);
      expect(response.headers.get('request-id')).toMatch(/^req_/);
      const error = anthropic.mapHttpError(status, await response.text(), headersOf(response));
      expect(error).toMatchObject({ code, retryable, status });
      if (status === 429) expect(error.retryAfterMs).toBe(2000);
    }
  });
});

describe('the official @anthropic-ai/sdk reads the emulator', () => {
  const client = () =>
    new Anthropic({
      apiKey: 'sk-ant-emulated',
      baseURL: emulator.baseUrl('anthropic'),
      maxRetries: 0,
      timeout: TIMEOUT_MS,
    });

  it('plain text: every event parses and the final message matches the emulated text', async () => {
    emulator.enqueue('anthropic', { text: 'Hello from the emulated Claude, friend.' });
    const stream = client().messages.stream({
      model: 'claude-haiku-4-5',
      max_tokens: 256,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Say hello' }] }],
    });
    const seen: string[] = [];
    stream.on('streamEvent', (event) => seen.push(event.type));
    let streamed = '';
    stream.on('text', (delta) => {
      streamed += delta;
    });
    const message = await stream.finalMessage();
    expect(message.id).toMatch(/^msg_/);
    expect(message.content).toEqual([{ type: 'text', text: 'Hello from the emulated Claude, friend.' }]);
    expect(streamed).toBe('Hello from the emulated Claude, friend.');
    expect(message.stop_reason).toBe('end_turn');
    expect(message.usage.input_tokens).toBeGreaterThan(0);
    expect(message.usage.output_tokens).toBeGreaterThan(0);
    expect(seen[0]).toBe('message_start');
    expect(seen.at(-1)).toBe('message_stop');
  });

  it('thinking: a thinking block with its signature, then the text', async () => {
    emulator.enqueue('anthropic', { text: 'Forty-two.', thinkingChunks: 5 });
    const message = await client()
      .messages.stream({
        model: 'claude-haiku-4-5',
        max_tokens: 4096,
        thinking: { type: 'enabled', budget_tokens: 1024 },
        messages: [{ role: 'user', content: 'What is the answer?' }],
      })
      .finalMessage();
    expect(message.content.map((block) => block.type)).toEqual(['thinking', 'text']);
    const [thinking, text] = message.content;
    expect(thinking?.type === 'thinking' && thinking.thinking).toBe('Let me think about this');
    expect(thinking?.type === 'thinking' && thinking.signature.length > 0).toBe(true);
    expect(text?.type === 'text' && text.text).toBe('Forty-two.');
    expect(message.usage.output_tokens).toBeGreaterThan(0);
  });

  it('a tool: tool_use input parsed as an object', async () => {
    const message = await client()
      .messages.stream({
        model: 'claude-haiku-4-5',
        max_tokens: 512,
        tools: [
          {
            name: 'get_weather',
            description: 'Weather for a city',
            input_schema: { type: 'object', properties: { location: { type: 'string' } } },
          },
        ],
        messages: [{ role: 'user', content: 'Weather in Paris?' }],
      })
      .finalMessage();
    const [block] = message.content;
    expect(block?.type).toBe('tool_use');
    if (block?.type !== 'tool_use') throw new Error('expected a tool_use block');
    expect(block.name).toBe('get_weather');
    expect(block.input).toEqual({ location: 'Paris' });
    expect(block.id).toMatch(/^toolu_/);
    expect(message.stop_reason).toBe('tool_use');
    expect(message.usage.output_tokens).toBeGreaterThan(0);
  });

  it('create({stream: true}) yields the raw events in order', async () => {
    emulator.enqueue('anthropic', { text: 'One two three.' });
    const stream = await client().messages.create({
      model: 'claude-haiku-4-5',
      max_tokens: 64,
      stream: true,
      messages: [{ role: 'user', content: 'Count' }],
    });
    const types: string[] = [];
    let text = '';
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') text += event.delta.text;
    }
    expect(text).toBe('One two three.');
    expect(types[0]).toBe('message_start');
    expect(types.slice(-2)).toEqual(['message_delta', 'message_stop']);
  });

  it('an HTTP 529 surfaces as the SDK APIError with status 529', async () => {
    emulator.enqueue('anthropic', { fault: { type: 'http', status: 529 } });
    const failure = await client()
      .messages.create({
        model: 'claude-haiku-4-5',
        max_tokens: 64,
        stream: true,
        messages: [{ role: 'user', content: 'Hi' }],
      })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(failure).toBeInstanceOf(APIError);
    expect((failure as APIError).status).toBe(529);
    expect((failure as APIError).requestID).toMatch(/^req_/);
    expect(JSON.stringify((failure as APIError).error)).toContain('overloaded_error');
    expect(emulator.stats('anthropic').requests).toBe(1);
  });

  it('a mid-stream error event surfaces as the SDK APIError', async () => {
    emulator.enqueue('anthropic', { chunks: 5, fault: { type: 'midstream_error', afterChunks: 2 } });
    const failure = await client()
      .messages.stream({
        model: 'claude-haiku-4-5',
        max_tokens: 64,
        messages: [{ role: 'user', content: 'Hi' }],
      })
      .finalMessage()
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(failure).toBeInstanceOf(APIError);
    expect(JSON.stringify((failure as APIError).error)).toContain('overloaded_error');
  });

  describe('extended thinking across turns, as the API enforces it', () => {
    const tools = [
      {
        name: 'get_weather',
        description: 'Weather for a city',
        input_schema: { type: 'object' as const, properties: { location: { type: 'string' } } },
      },
    ];
    const thinking = { type: 'enabled' as const, budget_tokens: 1024 };
    const question = { role: 'user' as const, content: 'Weather in Paris?' };

    /** Turn one: thinking, then a call; the SDK assembles the blocks from the stream. */
    async function firstTurn(): Promise<Anthropic.Message> {
      emulator.enqueue('anthropic', { thinkingChunks: 5 });
      return client()
        .messages.stream({
          model: 'claude-sonnet-4-5',
          max_tokens: 4096,
          thinking,
          tools,
          messages: [question],
        })
        .finalMessage();
    }

    function secondTurn(assistant: Anthropic.ContentBlockParam[], toolUseId: string) {
      return client()
        .messages.stream({
          model: 'claude-sonnet-4-5',
          max_tokens: 4096,
          thinking,
          tools,
          messages: [
            question,
            { role: 'assistant', content: assistant },
            {
              role: 'user',
              content: [{ type: 'tool_result', tool_use_id: toolUseId, content: '21 degrees' }],
            },
          ],
        })
        .finalMessage();
    }

    it('the SDK reads the signature_delta into the thinking block; sent back, the next turn is answered', async () => {
      const first = await firstTurn();
      expect(first.content.map((block) => block.type)).toEqual(['thinking', 'tool_use']);
      const [block, call] = first.content;
      if (block?.type !== 'thinking' || call?.type !== 'tool_use') throw new Error('unexpected blocks');
      expect(block.thinking).toBe('Let me think about this');
      expect(block.signature.length).toBeGreaterThan(20);

      emulator.enqueue('anthropic', { toolCall: false, text: 'It is 21 degrees in Paris.' });
      const second = await secondTurn(first.content, call.id);
      expect(second.stop_reason).toBe('end_turn');
      expect(second.content.at(-1)).toEqual({ type: 'text', text: 'It is 21 degrees in Paris.' });
    });

    it('refuses the tool-result turn when the assistant turn lacks its signed thinking block', async () => {
      const first = await firstTurn();
      const call = first.content.find((block) => block.type === 'tool_use');
      if (call?.type !== 'tool_use') throw new Error('expected a tool_use block');
      const failure = await secondTurn([call], call.id).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(APIError);
      expect((failure as APIError).status).toBe(400);
      const error = (failure as APIError).error as { type: string; error: { type: string; message: string } };
      expect(error.type).toBe('error');
      expect(error.error.type).toBe('invalid_request_error');
      expect(error.error.message).toMatch(
        /^messages\.1\.content\.0\.type: Expected `thinking` or `redacted_thinking`, but found `tool_use`\. When `thinking` is enabled, a final `assistant` message must start with a thinking block/,
      );
    });

    it('refuses a thinking block whose text or signature was changed', async () => {
      const first = await firstTurn();
      const [block, call] = first.content;
      if (block?.type !== 'thinking' || call?.type !== 'tool_use') throw new Error('unexpected blocks');
      for (const changed of [
        { ...block, thinking: `${block.thinking}.` },
        { ...block, signature: `${block.signature.slice(0, -4)}AAAA` },
      ]) {
        const failure = await secondTurn([changed, call], call.id).then(
          () => undefined,
          (error: unknown) => error,
        );
        expect((failure as APIError).status).toBe(400);
        expect(JSON.stringify((failure as APIError).error)).toContain(
          'messages.1.content.0: Invalid `signature` in `thinking` block',
        );
      }
    });

    it('takes a conversation that ends in tool results without thinking blocks when thinking is off', async () => {
      const first = await firstTurn();
      const call = first.content.find((block) => block.type === 'tool_use');
      if (call?.type !== 'tool_use') throw new Error('expected a tool_use block');
      emulator.enqueue('anthropic', { toolCall: false });
      const answer = await client()
        .messages.stream({
          model: 'claude-sonnet-4-5',
          max_tokens: 1024,
          tools,
          messages: [
            question,
            { role: 'assistant', content: [call] },
            { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: '21 degrees' }] },
          ],
        })
        .finalMessage();
      expect(answer.stop_reason).toBe('end_turn');
    });

    it('continues a final assistant turn (a prefill) where it stops', async () => {
      emulator.enqueue('anthropic', { chunks: 12 });
      const whole = await client()
        .messages.stream({ model: 'claude-haiku-4-5', max_tokens: 256, messages: [question] })
        .finalMessage();
      const text = whole.content[0]?.type === 'text' ? whole.content[0].text : '';
      const prefill = text.slice(0, Math.floor(text.length / 2)).trimEnd();
      emulator.enqueue('anthropic', { chunks: 12 });
      const rest = await client()
        .messages.stream({
          model: 'claude-haiku-4-5',
          max_tokens: 256,
          messages: [question, { role: 'assistant', content: prefill }],
        })
        .finalMessage();
      const continued = rest.content[0]?.type === 'text' ? rest.content[0].text : '';
      expect(prefill + continued).toBe(text);
    });
  });
});
