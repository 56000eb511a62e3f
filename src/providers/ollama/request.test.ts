import { describe, expect, it } from 'vitest';
import { chatRequest as baseRequest } from '../../../test/helpers/requests.js';
import type { ChatRequest } from '../../protocol/request.js';
import { mapOllamaHttpError } from './errors.js';
import { ollama } from './index.js';

const settings = { apiKey: undefined, baseUrl: 'http://127.0.0.1:11434/' };

function chatRequest(overrides: Partial<ChatRequest> = {}): ChatRequest {
  return baseRequest({ provider: 'ollama', messages: [{ role: 'user', content: 'hi' }], ...overrides });
}

const bodyOf = (request: ChatRequest, model: string): Record<string, unknown> =>
  JSON.parse(ollama.buildRequest(request, model, settings).body) as Record<string, unknown>;

describe('Ollama request mapping', () => {
  it('posts to {base}/api/chat with stream true, no key, options only when set', () => {
    const upstream = ollama.buildRequest(chatRequest(), 'llama3.2', settings);
    expect(upstream.url).toBe('http://127.0.0.1:11434/api/chat');
    expect(upstream.headers).not.toHaveProperty('authorization');
    expect(JSON.parse(upstream.body)).toEqual({
      model: 'llama3.2',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    expect(bodyOf(chatRequest({ temperature: 0.3, max_tokens: 64 }), 'llama3.2').options).toEqual({
      temperature: 0.3,
      num_predict: 64,
    });
  });

  it('maps every role; assistant tool calls carry object arguments; tool results carry tool_name', () => {
    const body = bodyOf(
      chatRequest({
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Weather in Paris?' },
          {
            role: 'assistant',
            content: null,
            tool_calls: [{ id: 'call_1', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
          },
          { role: 'tool', content: '{"temp":21}', tool_call_id: 'call_1' },
          { role: 'tool', content: 'orphan', tool_call_id: 'call_unknown' },
        ],
        tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }],
      }),
      'qwen3',
    );
    expect(body.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Weather in Paris?' },
      {
        role: 'assistant',
        content: '',
        tool_calls: [{ function: { name: 'get_weather', arguments: { city: 'Paris' } } }],
      },
      { role: 'tool', content: '{"temp":21}', tool_name: 'get_weather' },
      { role: 'tool', content: 'orphan' },
    ]);
    expect(body.tools).toEqual([
      { type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } },
    ]);
  });

  it('think: true for a positive budget or a thinking model by default, false for 0, absent otherwise', () => {
    expect(bodyOf(chatRequest({ thinking_budget: 1024 }), 'qwen3:8b').think).toBe(true);
    expect(bodyOf(chatRequest(), 'qwen3:8b').think).toBe(true);
    expect(bodyOf(chatRequest(), 'deepseek-r1:7b').think).toBe(true);
    expect(bodyOf(chatRequest(), 'gpt-oss:20b').think).toBe(true);
    expect(bodyOf(chatRequest({ thinking_budget: 0 }), 'qwen3').think).toBe(false);
    expect(bodyOf(chatRequest({ thinking_budget: 0 }), 'llama3.2').think).toBe(false);
    expect(bodyOf(chatRequest(), 'llama3.2')).not.toHaveProperty('think');
  });

  it('capabilities: reasoning for the thinking families only, tools and usage always', () => {
    for (const model of [
      'qwen3',
      'qwen3:30b-a3b',
      'deepseek-r1:14b',
      'gpt-oss:20b',
      'magistral:24b',
      'hf.co/x/qwen3',
    ]) {
      expect(ollama.capabilities(model)).toEqual({ reasoning: true, tools: true, reportsUsage: true });
    }
    for (const model of ['llama3.2', 'qwen2.5', 'qwen3-coder:30b', 'mistral', 'deepseek-coder']) {
      expect(ollama.capabilities(model).reasoning).toBe(false);
    }
    expect(ollama.models).toBeUndefined();
    expect(ollama.apiKeyEnv).toEqual([]);
  });

  it('names the setting, not the address, when the connection is refused', () => {
    const message = ollama.describeConnectionFailure?.() ?? '';
    expect(message).toContain('is Ollama running where OLLAMA_BASE_URL points?');
    expect(message).not.toMatch(/127\.0\.0\.1|11434|http/);
  });
});

describe('Ollama HTTP errors', () => {
  it('404 model not found is bad_request with the message, not retryable', () => {
    const error = mapOllamaHttpError(404, '{"error":"model \'llama9\' not found, try pulling it first"}', {});
    expect(error).toMatchObject({ code: 'bad_request', retryable: false, status: 404 });
    expect(error.message).toBe("Ollama answered HTTP 404: model 'llama9' not found, try pulling it first");
  });

  it('5xx is a retryable upstream_error (503, the full queue, is overloaded)', () => {
    expect(mapOllamaHttpError(500, '{"error":"llama runner process has terminated"}', {})).toMatchObject({
      code: 'upstream_error',
      retryable: true,
      message: 'Ollama answered HTTP 500: llama runner process has terminated',
    });
    expect(
      mapOllamaHttpError(503, '{"error":"server busy, please try again."}', { 'retry-after': '1' }),
    ).toMatchObject({ code: 'overloaded', retryable: true, retryAfterMs: 1000 });
  });

  it('400 is bad_request; a non-JSON body is shown bounded; secrets are redacted', () => {
    expect(mapOllamaHttpError(400, '{"error":"\\"llama3.2\\" does not support thinking"}', {})).toMatchObject(
      {
        code: 'bad_request',
        retryable: false,
      },
    );
    const proxy = mapOllamaHttpError(502, `<html>${'x'.repeat(500)}</html>`, {});
    expect(proxy.code).toBe('upstream_error');
    expect(proxy.message.length).toBeLessThan(260);
    const leaked = mapOllamaHttpError(401, '{"error":"bad header Bearer abc.def.ghi"}', {});
    expect(leaked.code).toBe('provider_auth');
    expect(leaked.message).not.toContain('abc.def.ghi');
  });
});
