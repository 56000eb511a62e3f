import { describe, expect, it } from 'vitest';
import { useEmulator } from '../../test/helpers/emulator.js';
import { chatRequest } from '../../test/helpers/requests.js';
import { RequestError } from '../core/errors.js';
import type { ChatRequest } from '../protocol/request.js';
import { createAnthropicDialect } from '../providers/anthropic/emulator.js';
import { createGeminiDialect } from '../providers/gemini/emulator.js';
import { createOllamaDialect } from '../providers/ollama/emulator.js';
import { createOpenAiDialect } from '../providers/openai/emulator.js';
import { findProvider, resolveRequest } from '../providers/registry.js';
import { createTogetherDialect } from '../providers/together/emulator.js';

/**
 * The emulators refuse what the real APIs refuse before they stream, with the status and error
 * body each API documents, so that a request the gateway lets through by mistake fails in tests
 * and demos the way it would in production. The second half checks that the gateway and the
 * emulators agree: what the gateway refuses, its emulator refuses too.
 */

const emulator = useEmulator(
  createOpenAiDialect(),
  createAnthropicDialect(),
  createGeminiDialect(),
  createTogetherDialect(),
  createOllamaDialect(),
);

async function post(url: string, body: unknown, headers: Record<string, string>) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
  const text = await response.text();
  return {
    status: response.status,
    text,
    json: response.headers.get('content-type')?.includes('json') ? JSON.parse(text) : undefined,
  };
}

const anthropic = (body: Record<string, unknown>) =>
  post(
    `${emulator.baseUrl('anthropic')}/v1/messages`,
    { model: 'claude-sonnet-4-5', max_tokens: 1024, stream: true, ...body },
    {
      'x-api-key': 'sk-ant-emulated',
      'anthropic-version': '2023-06-01',
    },
  );
const gemini = (body: Record<string, unknown>, model = 'gemini-2.5-flash') =>
  post(`${emulator.baseUrl('gemini')}/v1beta/models/${model}:streamGenerateContent?alt=sse`, body, {
    'x-goog-api-key': 'AIzaEmulated',
  });
const chatCompletions = (provider: 'openai' | 'together', body: Record<string, unknown>) =>
  post(
    `${emulator.baseUrl(provider)}/chat/completions`,
    { stream: true, ...body },
    { authorization: 'Bearer emulated' },
  );

const hello = [{ role: 'user', content: 'Hello' }];

describe('Anthropic emulator refusals (400 invalid_request_error, as the Messages API words them)', () => {
  const refused = async (body: Record<string, unknown>, message: string) => {
    const result = await anthropic(body);
    expect(result.status).toBe(400);
    expect(result.json).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message } });
    expect(result.json.request_id).toMatch(/^req_/);
  };

  it('no message (a request of system text alone)', async () => {
    await refused({ system: 'Be terse.', messages: [] }, 'messages: at least one message is required');
  });

  it('a turn without content, unless it is the final assistant prefill', async () => {
    await refused(
      { messages: [{ role: 'user', content: '' }] },
      'messages.0: all messages must have non-empty content except for the optional final assistant message',
    );
    await refused(
      {
        messages: [
          { role: 'user', content: 'Hi' },
          { role: 'assistant', content: [] },
          { role: 'user', content: 'Go on' },
        ],
      },
      'messages.1: all messages must have non-empty content except for the optional final assistant message',
    );
    const prefill = await anthropic({ messages: [...hello, { role: 'assistant', content: '' }] });
    expect(prefill.status).toBe(200);
  });

  it('empty and blank text blocks', async () => {
    await refused(
      { messages: [{ role: 'user', content: [{ type: 'text', text: '' }] }] },
      'messages: text content blocks must be non-empty',
    );
    await refused(
      { messages: [{ role: 'user', content: ' \n' }] },
      'messages: text content blocks must contain non-whitespace text',
    );
  });

  it('max_tokens past the model output limit; unknown models are not limited', async () => {
    await refused(
      { model: 'claude-opus-4-1', max_tokens: 32_001, messages: hello },
      'max_tokens: 32001 > 32000, which is the maximum allowed number of output tokens for claude-opus-4-1',
    );
    expect((await anthropic({ model: 'claude-opus-4-1', max_tokens: 32_000, messages: hello })).status).toBe(
      200,
    );
    expect((await anthropic({ model: 'claude-next', max_tokens: 500_000, messages: hello })).status).toBe(
      200,
    );
  });
});

describe('Gemini emulator refusals (400 INVALID_ARGUMENT google.rpc.Status)', () => {
  const refused = async (body: Record<string, unknown>, message: string, model?: string) => {
    const result = await gemini(body, model);
    expect(result.status).toBe(400);
    expect(result.json).toEqual({ error: { code: 400, message, status: 'INVALID_ARGUMENT' } });
    // Google pretty-prints its error bodies.
    expect(result.text).toContain('\n  "error": {');
  };

  it('no contents (system instruction alone)', async () => {
    await refused(
      { systemInstruction: { parts: [{ text: 'Be terse.' }] }, contents: [] },
      '* GenerateContentRequest.contents: contents is not specified\n',
    );
    await refused(
      { systemInstruction: { parts: [{ text: 'x' }] } },
      '* GenerateContentRequest.contents: contents is not specified\n',
    );
  });

  it('a content without parts, a part without data', async () => {
    await refused(
      { contents: [{ role: 'user', parts: [] }] },
      '* GenerateContentRequest.contents[0].parts: contents.parts must not be empty.\n',
    );
    await refused(
      {
        contents: [
          { role: 'user', parts: [{ text: 'Hi' }] },
          { role: 'model', parts: [{ text: '' }] },
        ],
      },
      "* GenerateContentRequest.contents[1].parts[0].data: required oneof field 'data' must have one initialized field\n",
    );
  });

  it('maxOutputTokens past the model output limit', async () => {
    await refused(
      { contents: [{ role: 'user', parts: [{ text: 'Hi' }] }], generationConfig: { maxOutputTokens: 8193 } },
      'Unable to submit request because it has a maxOutputTokens value of 8193 but the supported range is from 1 (inclusive) to 8193 (exclusive). Update the value and try again.',
      'gemini-2.0-flash',
    );
    const atLimit = await gemini(
      { contents: [{ role: 'user', parts: [{ text: 'Hi' }] }], generationConfig: { maxOutputTokens: 8192 } },
      'gemini-2.0-flash',
    );
    expect(atLimit.status).toBe(200);
  });
});

describe('Chat Completions emulator refusals (400 {"error": {message, type, param, code}})', () => {
  it('OpenAI: max_tokens or max_completion_tokens past the model limit, and no messages', async () => {
    for (const field of ['max_tokens', 'max_completion_tokens']) {
      const result = await chatCompletions('openai', {
        model: 'gpt-4o-mini',
        messages: hello,
        [field]: 20_000,
      });
      expect(result.status).toBe(400);
      expect(result.json).toEqual({
        error: {
          message:
            'max_tokens is too large: 20000. This model supports at most 16384 completion tokens, whereas you provided 20000.',
          type: 'invalid_request_error',
          param: 'max_tokens',
          code: 'invalid_value',
        },
      });
    }
    const empty = await chatCompletions('openai', { model: 'gpt-4o-mini', messages: [] });
    expect(empty.status).toBe(400);
    expect(empty.json.error).toMatchObject({
      param: 'messages',
      code: 'empty_array',
      type: 'invalid_request_error',
    });
    expect(
      (await chatCompletions('openai', { model: 'gpt-4o-mini', messages: hello, max_tokens: 16_384 })).status,
    ).toBe(200);
  });

  it('Together: prompt plus max_tokens past the context window', async () => {
    const result = await chatCompletions('together', {
      model: 'meta-llama/Llama-3.3-70B-Instruct-Turbo',
      messages: hello,
      max_tokens: 131_072,
    });
    expect(result.status).toBe(400);
    expect(result.json.error).toMatchObject({ type: 'invalid_request_error', param: null, code: null });
    expect(result.json.error.message).toBe(
      'Input validation error: `inputs` tokens + `max_new_tokens` must be <= 131072. Given: 2 `inputs` tokens and 131072 `max_new_tokens`',
    );
  });
});

describe('the gateway and its emulators refuse the same requests', () => {
  const system = { role: 'system' as const, content: 'Be terse.' };
  const cases: { name: string; request: ChatRequest; model: string; field: string }[] = [
    {
      name: 'Anthropic, system messages only',
      request: chatRequest({ provider: 'anthropic', messages: [system] }),
      model: 'claude-sonnet-4-5',
      field: 'messages',
    },
    {
      name: 'Anthropic, an empty user turn',
      request: chatRequest({ provider: 'anthropic', messages: [system, { role: 'user', content: '' }] }),
      model: 'claude-sonnet-4-5',
      field: 'messages.1.content',
    },
    {
      name: 'Anthropic, a blank user turn',
      request: chatRequest({ provider: 'anthropic', messages: [{ role: 'user', content: '\t' }] }),
      model: 'claude-haiku-4-5',
      field: 'messages.0.content',
    },
    {
      name: 'Anthropic, max_tokens past the limit',
      request: chatRequest({ provider: 'anthropic', max_tokens: 64_001 }),
      model: 'claude-sonnet-4-5',
      field: 'max_tokens',
    },
    {
      name: 'Gemini, system messages only',
      request: chatRequest({ provider: 'gemini', messages: [system] }),
      model: 'gemini-2.5-flash',
      field: 'messages',
    },
    {
      name: 'Gemini, nothing but an empty user turn',
      request: chatRequest({ provider: 'gemini', messages: [{ role: 'user', content: '' }] }),
      model: 'gemini-2.5-flash',
      field: 'messages.0.content',
    },
    {
      name: 'Gemini, max_tokens past the limit',
      request: chatRequest({ provider: 'gemini', max_tokens: 65_537 }),
      model: 'gemini-2.5-pro',
      field: 'max_tokens',
    },
    {
      name: 'OpenAI, max_tokens past the limit',
      request: chatRequest({ provider: 'openai', max_tokens: 32_769 }),
      model: 'gpt-4.1-mini',
      field: 'max_tokens',
    },
    {
      name: 'Together, max_tokens past the context window',
      request: chatRequest({ provider: 'together', max_tokens: 131_073 }),
      model: 'meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo',
      field: 'max_tokens',
    },
  ];

  for (const testCase of cases) {
    it(testCase.name, async () => {
      const request = { ...testCase.request, model: testCase.model };
      let refusal: unknown;
      try {
        resolveRequest(request);
      } catch (error) {
        refusal = error;
      }
      expect(refusal).toBeInstanceOf(RequestError);
      expect((refusal as RequestError).field).toBe(testCase.field);

      const provider = findProvider(request.provider);
      if (provider === undefined) throw new Error(`no provider ${request.provider}`);
      const upstream = provider.buildRequest(request, testCase.model, {
        apiKey: 'emulated-key',
        baseUrl: emulator.baseUrl(provider.id),
      });
      const response = await fetch(upstream.url, {
        method: 'POST',
        headers: upstream.headers,
        body: upstream.body,
        signal: AbortSignal.timeout(5000),
      });
      await response.body?.cancel();
      expect(response.status).toBe(400);
    });
  }
});
