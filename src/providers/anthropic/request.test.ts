import { describe, expect, it } from 'vitest';
import { chatRequest } from '../../../test/helpers/requests.js';
import type { ChatRequest } from '../../protocol/request.js';
import { anthropic } from './index.js';
import { buildAnthropicRequest, isAnthropicReasoningModel, validateAnthropicRequest } from './request.js';

const settings = { apiKey: 'sk-ant-test-key', baseUrl: 'https://api.anthropic.com/' };

function chat(overrides: Partial<ChatRequest> = {}): ChatRequest {
  return chatRequest({ provider: 'anthropic', ...overrides });
}

function bodyOf(request: ChatRequest, model = 'claude-sonnet-4-5'): Record<string, unknown> {
  return JSON.parse(buildAnthropicRequest(request, model, settings).body) as Record<string, unknown>;
}

describe('Anthropic request mapping', () => {
  it('URL, headers and the minimal body', () => {
    const upstream = buildAnthropicRequest(chat(), 'claude-sonnet-4-5', settings);
    expect(upstream.url).toBe('https://api.anthropic.com/v1/messages');
    expect(upstream.headers).toMatchObject({
      'x-api-key': 'sk-ant-test-key',
      'anthropic-version': '2023-06-01',
      'content-type': 'application/json',
    });
    expect(upstream.headers.authorization).toBeUndefined();
    expect(JSON.parse(upstream.body)).toEqual({
      model: 'claude-sonnet-4-5',
      max_tokens: 4096,
      messages: [{ role: 'user', content: 'Hello' }],
      stream: true,
    });
  });

  it('lifts every system message into the top-level system field', () => {
    const body = bodyOf(
      chat({
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Hi' },
          { role: 'system', content: 'Answer in French.' },
        ],
        temperature: 0.3,
        max_tokens: 100,
      }),
    );
    expect(body.system).toBe('Be brief.\n\nAnswer in French.');
    expect(body.messages).toEqual([{ role: 'user', content: 'Hi' }]);
    expect(body.temperature).toBe(0.3);
    expect(body.max_tokens).toBe(100);
  });

  it('tools, assistant tool calls and merged tool results', () => {
    const body = bodyOf(
      chat({
        messages: [
          { role: 'user', content: 'Weather and time in Paris?' },
          {
            role: 'assistant',
            content: 'Checking.',
            tool_calls: [
              {
                id: 'toolu_1',
                type: 'function',
                function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
              },
              { id: 'toolu_2', type: 'function', function: { name: 'get_time', arguments: '' } },
            ],
          },
          { role: 'tool', tool_call_id: 'toolu_1', content: 'sunny' },
          { role: 'tool', tool_call_id: 'toolu_2', content: '12:00' },
          { role: 'user', content: 'Thanks' },
        ],
        tools: [
          {
            type: 'function',
            function: {
              name: 'get_weather',
              description: 'Weather by city',
              parameters: { type: 'object', properties: { city: { type: 'string' } } },
            },
          },
          { type: 'function', function: { name: 'get_time' } },
        ],
      }),
    );
    expect(body.tools).toEqual([
      {
        name: 'get_weather',
        description: 'Weather by city',
        input_schema: { type: 'object', properties: { city: { type: 'string' } } },
      },
      { name: 'get_time', input_schema: { type: 'object', properties: {} } },
    ]);
    expect(body.messages).toEqual([
      { role: 'user', content: 'Weather and time in Paris?' },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Checking.' },
          { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
          { type: 'tool_use', id: 'toolu_2', name: 'get_time', input: {} },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny' },
          { type: 'tool_result', tool_use_id: 'toolu_2', content: '12:00' },
        ],
      },
      { role: 'user', content: 'Thanks' },
    ]);
  });

  it('an assistant turn with only tool calls has no empty text block', () => {
    const body = bodyOf(
      chat({
        messages: [
          { role: 'user', content: 'Go' },
          {
            role: 'assistant',
            content: null,
            tool_calls: [{ id: 'toolu_9', function: { name: 'run', arguments: '{}' } }],
          },
          { role: 'tool', tool_call_id: 'toolu_9', content: 'ok' },
        ],
      }),
    );
    expect((body.messages as unknown[])[1]).toEqual({
      role: 'assistant',
      content: [{ type: 'tool_use', id: 'toolu_9', name: 'run', input: {} }],
    });
  });

  it('thinking_budget: positive enables thinking, 0 and absent send no thinking field', () => {
    const enabled = bodyOf(chat({ thinking_budget: 2048, max_tokens: 8000 }));
    expect(enabled.thinking).toEqual({ type: 'enabled', budget_tokens: 2048 });
    expect(enabled.max_tokens).toBe(8000);
    const defaulted = bodyOf(chat({ thinking_budget: 10_000 }));
    expect(defaulted.thinking).toEqual({ type: 'enabled', budget_tokens: 10_000 });
    expect(defaulted.max_tokens as number).toBeGreaterThan(10_000);
    expect('thinking' in bodyOf(chat({ thinking_budget: 0 }))).toBe(false);
    expect('thinking' in bodyOf(chat())).toBe(false);
    expect(bodyOf(chat({ thinking_budget: 0 })).max_tokens).toBe(4096);
  });
});

describe('Anthropic provider rules', () => {
  const issue = (overrides: Partial<ChatRequest>, model = 'claude-sonnet-4-5') =>
    validateAnthropicRequest(chat(overrides), model);

  it('accepts ordinary requests', () => {
    expect(issue({})).toBeUndefined();
    expect(issue({ temperature: 1, thinking_budget: 1024, max_tokens: 2048 })).toBeUndefined();
    expect(issue({ temperature: 0.2, thinking_budget: 0 })).toBeUndefined();
    expect(issue({ thinking_budget: 50_000 })).toBeUndefined();
  });

  it('temperature at most 1', () => {
    expect(issue({ temperature: 1.5 })).toMatchObject({ code: 'invalid_request', field: 'temperature' });
    expect(issue({ temperature: 1.5 })?.message).toMatch(/between 0 and 1/);
  });

  it('budget at least 1024', () => {
    expect(issue({ thinking_budget: 512 })).toMatchObject({
      code: 'invalid_request',
      field: 'thinking_budget',
    });
    expect(issue({ thinking_budget: 512 })?.message).toMatch(/at least 1024/);
  });

  it('budget strictly below max_tokens', () => {
    expect(issue({ thinking_budget: 2048, max_tokens: 2048 })).toMatchObject({ field: 'thinking_budget' });
    expect(issue({ thinking_budget: 4096, max_tokens: 1000 })?.message).toMatch(/less than max_tokens/);
  });

  it('thinking requires temperature 1 or unset', () => {
    expect(issue({ thinking_budget: 2048, temperature: 0.5 })).toMatchObject({ field: 'temperature' });
    expect(issue({ thinking_budget: 2048, temperature: 0.5 })?.message).toMatch(/temperature 1/);
  });

  it('a conversation needs a turn, and every turn text but an empty final assistant prefill', () => {
    expect(issue({ messages: [{ role: 'system', content: 'Be terse.' }] })).toMatchObject({
      field: 'messages',
    });
    expect(issue({ messages: [{ role: 'user', content: '' }] })).toMatchObject({
      field: 'messages.0.content',
    });
    expect(issue({ messages: [{ role: 'user', content: '\n\t ' }] })?.message).toMatch(/only whitespace/);
    const prefill: ChatRequest['messages'] = [
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: '' },
    ];
    expect(issue({ messages: prefill })).toBeUndefined();
    expect(issue({ messages: [...prefill, { role: 'user', content: 'Go on' }] })).toMatchObject({
      field: 'messages.1.content',
    });
    const toolTurn: ChatRequest['messages'] = [
      { role: 'user', content: 'Go' },
      {
        role: 'assistant',
        content: '',
        tool_calls: [{ id: 'toolu_1', function: { name: 'run', arguments: '' } }],
      },
      { role: 'tool', tool_call_id: 'toolu_1', content: '' },
    ];
    expect(issue({ messages: toolTurn })).toBeUndefined();
  });

  it('the reasoning budget stays below what the model writes at most; the default max_tokens too', () => {
    expect(issue({ thinking_budget: 32_000 }, 'claude-opus-4-1')).toMatchObject({ field: 'thinking_budget' });
    expect(issue({ thinking_budget: 31_999 }, 'claude-opus-4-1')).toBeUndefined();
    expect(issue({ thinking_budget: 100_000 }, 'claude-unknown-9')).toBeUndefined();
    const body = JSON.parse(
      anthropic.buildRequest(chat({ thinking_budget: 31_000 }), 'claude-opus-4-1', {
        apiKey: 'k',
        baseUrl: 'http://x',
      }).body,
    ) as { max_tokens: number };
    expect(body.max_tokens).toBe(32_000);
  });
});

describe('Anthropic definition', () => {
  it('reasoning capability by model family', () => {
    for (const model of [
      'claude-3-7-sonnet-latest',
      'claude-3-7-sonnet-20250219',
      'claude-sonnet-4-5',
      'claude-sonnet-4-20250514',
      'claude-opus-4-1',
      'claude-opus-4-1-20250805',
      'claude-haiku-4-5',
      'claude-4-opus',
      'claude-sonnet-5',
    ]) {
      expect([model, isAnthropicReasoningModel(model)]).toEqual([model, true]);
    }
    for (const model of [
      'claude-3-5-sonnet-latest',
      'claude-3-5-haiku-20241022',
      'claude-3-haiku-20240307',
      'claude-2.1',
      'claude-instant-1.2',
    ]) {
      expect([model, isAnthropicReasoningModel(model)]).toEqual([model, false]);
    }
    expect(anthropic.capabilities('claude-sonnet-4-5')).toEqual({
      reasoning: true,
      tools: true,
      reportsUsage: true,
      maxOutputTokens: 64_000,
    });
    expect(anthropic.capabilities('claude-sonnet-9').maxOutputTokens).toBeUndefined();
    expect(anthropic.capabilities('claude-3-5-haiku-latest').reasoning).toBe(false);
  });

  it('registry fields', () => {
    expect(anthropic).toMatchObject({
      id: 'anthropic',
      defaultModel: 'claude-sonnet-4-5',
      framing: 'sse',
      apiKeyEnv: ['ANTHROPIC_API_KEY'],
      baseUrlEnv: 'ANTHROPIC_BASE_URL',
      defaultBaseUrl: 'https://api.anthropic.com',
      retryBaseMs: 2000,
    });
    expect(anthropic.models).toBeUndefined();
    expect(anthropic.suggestedModels).toContain('claude-3-7-sonnet-latest');
    expect(anthropic.validate?.(chat({ temperature: 2 }), 'claude-sonnet-4-5')?.field).toBe('temperature');
  });
});
