import { describe, expect, it } from 'vitest';
import { RequestError } from '../../core/errors.js';
import type { ModelCatalog } from './models.js';
import { adaptChatCompletion } from './request.js';

const catalog: ModelCatalog = [
  { id: 'openai', defaultModel: 'gpt-4o-mini', models: ['gpt-4o-mini'], configured: true },
  { id: 'anthropic', defaultModel: 'claude-sonnet-4-5', models: ['claude-sonnet-4-5'], configured: true },
];
const messages = [{ role: 'user', content: 'Hi' }];

describe('a Chat Completions body as a native request', () => {
  it('maps the model name, developer role, token fields, effort and extra fields', () => {
    const adapted = adaptChatCompletion(
      {
        model: 'anthropic/claude-sonnet-4-5',
        messages: [{ role: 'developer', content: 'Be brief.' }, ...messages],
        max_tokens: 10,
        max_completion_tokens: 2000,
        reasoning_effort: 'medium',
        temperature: 1,
        token_budget: 500,
        fallbacks: ['openai/gpt-4o-mini', 'openai', { provider: 'x', model: 'y' }],
        stream: true,
        stream_options: { include_usage: true },
        top_p: 0.5,
        n: 1,
      },
      catalog,
    );
    expect(adapted.native).toEqual({
      provider: 'anthropic',
      model: 'claude-sonnet-4-5',
      messages: [{ role: 'system', content: 'Be brief.' }, ...messages],
      temperature: 1,
      token_budget: 500,
      max_tokens: 2000,
      thinking_budget: 8192,
      fallbacks: [
        { provider: 'openai', model: 'gpt-4o-mini' },
        { provider: 'openai' },
        { provider: 'x', model: 'y' },
      ],
    });
    expect(adapted).toMatchObject({ stream: true, includeUsage: true });
    expect(adapted.param('max_tokens')).toBe('max_completion_tokens');
    expect(adapted.param('thinking_budget')).toBe('reasoning_effort');
    expect(adapted.param('provider')).toBe('model');
    expect(adapted.param('messages.1.content')).toBe('messages.1.content');
  });

  it('lets thinking_budget win over reasoning_effort, and defaults to no stream', () => {
    const adapted = adaptChatCompletion(
      { model: 'anthropic', messages, reasoning_effort: 'high', thinking_budget: 2048 },
      catalog,
    );
    expect(adapted.native.thinking_budget).toBe(2048);
    expect(adapted.param('thinking_budget')).toBe('thinking_budget');
    expect(adapted).toMatchObject({ stream: false, includeUsage: false });
  });

  it.each([
    [{ messages }, 'model', 'invalid_request'],
    [{ model: 5, messages }, 'model', 'invalid_request'],
    [{ model: 'acme/x', messages }, 'model', 'model_not_supported'],
    [{ model: 'gpt-4o', messages, n: 2 }, 'n', 'invalid_request'],
    [{ model: 'gpt-4o', messages, stream: 'yes' }, 'stream', 'invalid_request'],
    [{ model: 'gpt-4o', messages, reasoning_effort: 'max' }, 'reasoning_effort', 'invalid_request'],
    [
      { model: 'gpt-4o', messages, stream_options: { include_usage: 1 } },
      'stream_options.include_usage',
      'invalid_request',
    ],
  ])('refuses %j naming %s', (body, field, code) => {
    let caught: unknown;
    try {
      adaptChatCompletion(body, catalog);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(RequestError);
    expect(caught).toMatchObject({ field, code });
  });
});
