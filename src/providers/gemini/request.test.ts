import { describe, expect, it } from 'vitest';
import { chatRequest } from '../../../test/helpers/requests.js';
import type { ChatMessage, ChatRequest } from '../../protocol/request.js';
import { gemini } from './index.js';
import { SKIP_SIGNATURE } from './request.js';
import { toGeminiSchema } from './schema.js';

const request = (overrides: Partial<ChatRequest> = {}): ChatRequest =>
  chatRequest({ provider: 'gemini', messages: [{ role: 'user', content: 'Hi' }], ...overrides });
const settings = { apiKey: 'AIzaSyTESTKEY0123456789abcdefghij', baseUrl: 'https://example.test/' };
const build = (overrides: Partial<ChatRequest> = {}, model = 'gemini-2.5-flash') => {
  const upstream = gemini.buildRequest(request(overrides), model, settings);
  return { ...upstream, json: JSON.parse(upstream.body) as Record<string, unknown> };
};

describe('Gemini request mapping', () => {
  it('puts the key in x-goog-api-key, never in the URL, and URL-encodes the model', () => {
    const upstream = build({}, 'models/gemini-2.5-flash');
    expect(upstream.url).toBe(
      'https://example.test/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse',
    );
    expect(upstream.headers['x-goog-api-key']).toBe(settings.apiKey);
    expect(upstream.url).not.toContain('key=');
    expect(gemini.buildRequest(request(), 'odd/model name', settings).url).toContain(
      '/models/odd%2Fmodel%20name:streamGenerateContent',
    );
    expect(
      gemini.buildRequest(request(), 'gemini-2.5-flash', { apiKey: undefined, baseUrl: 'http://x' }).headers,
    ).not.toHaveProperty('x-goog-api-key');
  });

  it('maps roles, system messages, tool calls and tool results, merging same-role turns', () => {
    const messages: ChatMessage[] = [
      { role: 'system', content: 'Be terse.' },
      { role: 'user', content: 'Weather in Paris and the time?' },
      { role: 'user', content: 'Quickly.' },
      {
        role: 'assistant',
        content: 'Checking.',
        tool_calls: [
          { id: 'call_0', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
          { id: 'call_1', function: { name: 'get_time', arguments: '' } },
        ],
      },
      { role: 'tool', content: '{"temp":20}', tool_call_id: 'call_0' },
      { role: 'tool', content: '12:00', tool_call_id: 'call_1' },
      { role: 'assistant', content: 'It is 20 degrees at noon.' },
      { role: 'system', content: 'Use metric units.' },
      { role: 'user', content: '' },
      { role: 'user', content: 'Thanks' },
    ];
    const { json } = build({ messages });
    expect(json.systemInstruction).toEqual({ parts: [{ text: 'Be terse.' }, { text: 'Use metric units.' }] });
    expect(json.contents).toEqual([
      { role: 'user', parts: [{ text: 'Weather in Paris and the time?' }, { text: 'Quickly.' }] },
      {
        role: 'model',
        parts: [
          { text: 'Checking.' },
          { functionCall: { name: 'get_weather', args: { city: 'Paris' } } },
          { functionCall: { name: 'get_time', args: {} } },
        ],
      },
      {
        role: 'user',
        parts: [
          { functionResponse: { name: 'get_weather', response: { temp: 20 } } },
          { functionResponse: { name: 'get_time', response: { result: '12:00' } } },
        ],
      },
      { role: 'model', parts: [{ text: 'It is 20 degrees at noon.' }] },
      { role: 'user', parts: [{ text: 'Thanks' }] },
    ]);
  });

  it('finds a tool name from the latest earlier call when generated ids repeat across turns', () => {
    const messages: ChatMessage[] = [
      { role: 'user', content: 'a' },
      { role: 'assistant', tool_calls: [{ id: 'call_0', function: { name: 'first', arguments: '{}' } }] },
      { role: 'tool', content: '1', tool_call_id: 'call_0' },
      { role: 'assistant', tool_calls: [{ id: 'call_0', function: { name: 'second', arguments: '{}' } }] },
      { role: 'tool', content: '2', tool_call_id: 'call_0' },
    ];
    const contents = build({ messages }).json.contents as {
      parts: { functionResponse?: { name: string } }[];
    }[];
    expect(
      contents.flatMap((turn) => turn.parts.map((part) => part.functionResponse?.name)).filter(Boolean),
    ).toEqual(['first', 'second']);
  });

  it('signs replayed function calls for Gemini 3 only', () => {
    const messages: ChatMessage[] = [
      { role: 'user', content: 'a' },
      { role: 'assistant', tool_calls: [{ id: 'c', function: { name: 'f', arguments: '{}' } }] },
      { role: 'tool', content: 'ok', tool_call_id: 'c' },
    ];
    const modelTurn = (model: string) =>
      (build({ messages }, model).json.contents as { role: string; parts: Record<string, unknown>[] }[])[1];
    expect(modelTurn('gemini-3-pro-preview')?.parts[0]).toEqual({
      functionCall: { name: 'f', args: {} },
      thoughtSignature: SKIP_SIGNATURE,
    });
    expect(modelTurn('gemini-2.5-flash')?.parts[0]).toEqual({ functionCall: { name: 'f', args: {} } });
  });

  it('generationConfig: temperature, maxOutputTokens and thinkingConfig by model and budget', () => {
    expect(build({ temperature: 0.3, max_tokens: 64 }).json.generationConfig).toEqual({
      temperature: 0.3,
      maxOutputTokens: 64,
      thinkingConfig: { includeThoughts: true },
    });
    expect(build({ thinking_budget: 0 }).json.generationConfig).toEqual({
      thinkingConfig: { thinkingBudget: 0 },
    });
    expect(build({ thinking_budget: 1024 }).json.generationConfig).toEqual({
      thinkingConfig: { thinkingBudget: 1024, includeThoughts: true },
    });
    expect(build({}, 'gemini-2.5-pro').json.generationConfig).toEqual({
      thinkingConfig: { includeThoughts: true },
    });
    // 2.0 cannot reason: no thinkingConfig at all, not even for a budget of 0.
    expect(build({ thinking_budget: 0 }, 'gemini-2.0-flash').json).not.toHaveProperty('generationConfig');
  });

  it('tools become functionDeclarations with Gemini-compatible schemas', () => {
    const { json } = build({
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            description: 'Weather for a city',
            parameters: {
              $schema: 'http://json-schema.org/draft-07/schema#',
              type: 'object',
              additionalProperties: false,
              properties: {
                city: { type: 'string', format: 'email', minLength: 1 },
                unit: { type: ['string', 'null'], enum: ['c', 'f'] },
                when: { type: 'object', additionalProperties: { type: 'string' }, properties: {} },
                tags: { type: 'array', items: { type: 'string', const: 'x' } },
              },
              required: ['city'],
            },
          },
        },
        { type: 'function', function: { name: 'ping', parameters: { type: 'object', properties: {} } } },
      ],
    });
    expect(json.tools).toEqual([
      {
        functionDeclarations: [
          {
            name: 'get_weather',
            description: 'Weather for a city',
            parameters: {
              type: 'object',
              properties: {
                city: { type: 'string', minLength: 1 },
                unit: { type: 'string', nullable: true, enum: ['c', 'f'] },
                when: { type: 'object' },
                tags: { type: 'array', items: { type: 'string', enum: ['x'] } },
              },
              required: ['city'],
            },
          },
          { name: 'ping' },
        ],
      },
    ]);
    expect(toGeminiSchema({ oneOf: [{ type: 'string' }, { type: 'number', $id: 'n' }] })).toEqual({
      anyOf: [{ type: 'string' }, { type: 'number' }],
    });
  });
});

describe('Gemini provider rules', () => {
  it('capabilities: 2.5 and 3.x reason, 2.0 and 1.5 do not; tools and usage everywhere', () => {
    for (const model of [
      'gemini-2.5-flash',
      'gemini-2.5-pro',
      'gemini-2.5-flash-lite',
      'gemini-3-pro-preview',
      'gemini-3.1-flash',
      'gemini-flash-latest',
    ]) {
      expect(gemini.capabilities(model)).toMatchObject({ reasoning: true, tools: true, reportsUsage: true });
    }
    for (const model of ['gemini-2.0-flash', 'gemini-1.5-pro', 'gemma-3-27b-it']) {
      expect(gemini.capabilities(model).reasoning).toBe(false);
    }
    expect(gemini.defaultModel).toBe('gemini-2.5-flash');
    expect(gemini.suggestedModels).toContain('gemini-2.0-flash');
  });

  it('refuses to turn thinking off on 2.5 Pro and 3 Pro, naming the rule', () => {
    for (const model of ['gemini-2.5-pro', 'gemini-3-pro-preview']) {
      const issue = gemini.validate?.(request({ thinking_budget: 0 }), model);
      expect(issue).toMatchObject({ code: 'invalid_request', field: 'thinking_budget' });
      expect(issue?.message).toContain('cannot turn thinking off');
    }
    expect(gemini.validate?.(request({ thinking_budget: 0 }), 'gemini-2.5-flash')).toBeUndefined();
    expect(gemini.validate?.(request({ thinking_budget: 0 }), 'gemini-2.0-flash')).toBeUndefined();
  });

  it('refuses budgets outside the documented ranges', () => {
    const issue = (budget: number, model: string) =>
      gemini.validate?.(request({ thinking_budget: budget }), model);
    expect(issue(32_768, 'gemini-2.5-pro')).toBeUndefined();
    expect(issue(32_769, 'gemini-2.5-pro')?.message).toContain('between 128 and 32768');
    expect(issue(100, 'gemini-2.5-pro')?.field).toBe('thinking_budget');
    expect(issue(24_576, 'gemini-2.5-flash')).toBeUndefined();
    expect(issue(24_577, 'gemini-2.5-flash')?.message).toContain('24576');
    expect(issue(30_000, 'gemini-2.5-flash-lite')?.message).toContain('24576');
    expect(issue(256, 'gemini-2.5-flash-lite')?.message).toContain('between 512 and 24576');
    expect(issue(1024, 'gemini-2.5-flash')).toBeUndefined();
  });

  it('refuses a tool result with no matching call', () => {
    const orphan = gemini.validate?.(
      request({
        messages: [
          { role: 'user', content: 'a' },
          { role: 'tool', content: 'x', tool_call_id: 'nope' },
        ],
      }),
      'gemini-2.5-flash',
    );
    expect(orphan).toMatchObject({ code: 'invalid_request', field: 'messages.1.tool_call_id' });
    expect(gemini.validate?.(request(), 'gemini-2.5-flash')).toBeUndefined();
  });

  it('refuses a conversation without a turn, or a turn without text', () => {
    const issue = (messages: ChatMessage[]) => gemini.validate?.(request({ messages }), 'gemini-2.5-flash');
    expect(issue([{ role: 'system', content: 'Be terse.' }])).toMatchObject({ field: 'messages' });
    expect(issue([{ role: 'user', content: '' }])).toMatchObject({ field: 'messages.0.content' });
    expect(
      issue([
        { role: 'user', content: 'Hi' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'c', function: { name: 'f', arguments: '' } }],
        },
        { role: 'tool', content: '', tool_call_id: 'c' },
      ]),
    ).toBeUndefined();
  });

  it('output limits for the models the table knows, none guessed for others', () => {
    expect(gemini.capabilities('gemini-2.5-flash').maxOutputTokens).toBe(65_536);
    expect(gemini.capabilities('models/gemini-2.0-flash').maxOutputTokens).toBe(8192);
    expect(gemini.capabilities('gemini-flash-latest').maxOutputTokens).toBeUndefined();
  });

  it('a tool result whose JSON nests too deep is sent as text, not as a Struct', () => {
    const deep = `{"a":${'['.repeat(5000)}${']'.repeat(5000)}}`;
    const { json } = build({
      messages: [
        { role: 'user', content: 'Go' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'c', function: { name: 'f', arguments: '{}' } }],
        },
        { role: 'tool', content: deep, tool_call_id: 'c' },
      ],
    });
    expect((json.contents as { parts: unknown[] }[])[2]?.parts[0]).toEqual({
      functionResponse: { name: 'f', response: { result: deep } },
    });
  });
});
