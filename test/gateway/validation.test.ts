import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, startGateway } from '../../src/server/gateway.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { chatBody, postStream } from '../helpers/sse.js';

let harness: TestGateway;
let keyless: Gateway;
beforeAll(async () => {
  harness = await startTestGateway({ maxBodyBytes: 4096 });
  keyless = await startGateway({ env: {}, settings: { port: 0, host: '127.0.0.1' }, webRoot: null });
});
afterAll(async () => {
  await harness.close();
  await keyless.close(100);
});

const cases: {
  name: string;
  body?: unknown;
  raw?: string;
  headers?: Record<string, string>;
  status: number;
  code: string;
  field?: string;
}[] = [
  { name: 'malformed JSON', raw: '{"provider": "openai", ', status: 400, code: 'invalid_request' },
  { name: 'empty body', raw: '', status: 400, code: 'invalid_request' },
  { name: 'a JSON array', raw: '[]', status: 400, code: 'invalid_request' },
  {
    name: 'missing messages',
    body: { provider: 'openai' },
    status: 400,
    code: 'invalid_request',
    field: 'messages',
  },
  {
    name: 'empty messages',
    body: { provider: 'openai', messages: [] },
    status: 400,
    code: 'invalid_request',
    field: 'messages',
  },
  {
    name: 'messages of the wrong type',
    body: { provider: 'openai', messages: 'hi' },
    status: 400,
    code: 'invalid_request',
    field: 'messages',
  },
  {
    name: 'unknown role',
    body: { provider: 'openai', messages: [{ role: 'wizard', content: 'x' }] },
    status: 400,
    code: 'invalid_request',
    field: 'messages.0.role',
  },
  {
    name: 'content of the wrong type',
    body: { provider: 'openai', messages: [{ role: 'user', content: 42 }] },
    status: 400,
    code: 'invalid_request',
    field: 'messages.0.content',
  },
  {
    name: 'tool message without tool_call_id',
    body: { provider: 'openai', messages: [{ role: 'tool', content: 'x' }] },
    status: 400,
    code: 'invalid_request',
    field: 'messages.0.tool_call_id',
  },
  {
    name: 'temperature above 2',
    body: chatBody('openai', { temperature: 2.5 }),
    status: 400,
    code: 'invalid_request',
    field: 'temperature',
  },
  {
    name: 'temperature below 0',
    body: chatBody('openai', { temperature: -1 }),
    status: 400,
    code: 'invalid_request',
    field: 'temperature',
  },
  {
    name: 'temperature as a string',
    body: chatBody('openai', { temperature: '0.5' }),
    status: 400,
    code: 'invalid_request',
    field: 'temperature',
  },
  {
    name: 'max_tokens zero',
    body: chatBody('openai', { max_tokens: 0 }),
    status: 400,
    code: 'invalid_request',
    field: 'max_tokens',
  },
  {
    name: 'max_tokens fractional',
    body: chatBody('openai', { max_tokens: 1.5 }),
    status: 400,
    code: 'invalid_request',
    field: 'max_tokens',
  },
  {
    name: 'negative thinking budget',
    body: chatBody('openai', { thinking_budget: -5 }),
    status: 400,
    code: 'invalid_request',
    field: 'thinking_budget',
  },
  {
    name: 'include_thinking not a boolean',
    body: chatBody('openai', { include_thinking: 'yes' }),
    status: 400,
    code: 'invalid_request',
    field: 'include_thinking',
  },
  {
    name: 'bad tool name',
    body: chatBody('openai', { tools: [{ type: 'function', function: { name: 'bad name!' } }] }),
    status: 400,
    code: 'invalid_request',
    field: 'tools.0.function.name',
  },
  {
    name: 'missing provider',
    body: { messages: [{ role: 'user', content: 'x' }] },
    status: 400,
    code: 'invalid_request',
    field: 'provider',
  },
  {
    name: 'unknown provider',
    body: chatBody('skynet'),
    status: 400,
    code: 'unknown_provider',
    field: 'provider',
  },
  {
    name: 'reasoning budget on a model that cannot reason',
    body: chatBody('openai', { model: 'gpt-4o', thinking_budget: 1024 }),
    status: 400,
    code: 'thinking_not_supported',
    field: 'thinking_budget',
  },
  {
    name: 'temperature on an OpenAI reasoning model',
    body: chatBody('openai', { model: 'o4-mini', temperature: 0.2 }),
    status: 400,
    code: 'invalid_request',
    field: 'temperature',
  },
  {
    name: 'wrong content type',
    raw: 'provider=openai',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'no content type',
    raw: '{}',
    headers: { 'content-type': '' },
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'body over the limit',
    raw: JSON.stringify(chatBody('openai', { pad: 'x'.repeat(8000) })),
    status: 413,
    code: 'payload_too_large',
  },
];

describe('requests refused before any stream starts', () => {
  for (const testCase of cases) {
    it(`${testCase.name} -> ${testCase.status} ${testCase.code}`, async () => {
      const result = await postStream(harness.url, testCase.body, {
        ...(testCase.raw !== undefined ? { rawBody: testCase.raw } : {}),
        ...(testCase.headers ? { headers: testCase.headers } : {}),
      });
      expect(result.status).toBe(testCase.status);
      expect(result.headers.get('content-type')).toContain('application/json');
      expect(result.json.error.code).toBe(testCase.code);
      expect(typeof result.json.error.message).toBe('string');
      expect(result.json.error.message.length).toBeGreaterThan(5);
      expect(result.raw).not.toMatch(/\n\s+at /);
      if (testCase.field !== undefined) expect(result.json.error.field).toBe(testCase.field);
    });
  }

  it('names the rule in the temperature message', async () => {
    const result = await postStream(harness.url, chatBody('openai', { temperature: 3 }));
    expect(result.json).toEqual({
      error: {
        code: 'invalid_request',
        message: 'temperature must be between 0 and 2',
        field: 'temperature',
      },
    });
  });

  it('ignores unknown fields', async () => {
    const result = await postStream(harness.url, chatBody('openai', { frobnicate: true }));
    expect(result.status).toBe(200);
  });

  it('refuses a provider with no key with 401 provider_auth', async () => {
    const result = await postStream(keyless.url, chatBody('openai'));
    expect(result.status).toBe(401);
    expect(result.json.error).toMatchObject({ code: 'provider_auth', field: 'provider' });
    expect(result.json.error.message).toContain('OPENAI_API_KEY');
  });

  it('answers unknown routes and ids with JSON 404 and wrong methods with 405', async () => {
    const missing = await fetch(`${harness.url}/api/v1/nothing`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('not_found');
    const unknownId = await fetch(`${harness.url}/api/v1/chat/stream/gen_doesnotexist`);
    expect(unknownId.status).toBe(404);
    const unknownResult = await fetch(`${harness.url}/api/v1/generations/gen_doesnotexist`);
    expect(unknownResult.status).toBe(404);
    const unknownCancel = await fetch(`${harness.url}/api/v1/chat/stream/gen_doesnotexist/cancel`, {
      method: 'POST',
    });
    expect(unknownCancel.status).toBe(404);
    const wrongMethod = await fetch(`${harness.url}/api/v1/chat/stream`);
    expect(wrongMethod.status).toBe(405);
    expect(((await wrongMethod.json()) as { error: { code: string } }).error.code).toBe('method_not_allowed');
  });
});

describe('an upstream that is not there', () => {
  it('Ollama refused: a clear upstream_error naming where it was looked for, then done', async () => {
    const gateway = await startGateway({
      env: { OLLAMA_BASE_URL: 'http://127.0.0.1:9' },
      settings: { port: 0, host: '127.0.0.1', maxRetries: 1, retryBaseMs: 5 },
      webRoot: null,
    });
    try {
      const result = await postStream(gateway.url, chatBody('ollama'));
      expect(result.status).toBe(200);
      const error = result.frames.find((frame) => frame.event === 'error')?.data;
      expect(error).toMatchObject({ code: 'upstream_error', retryable: true, partial: false });
      expect(error.message).toContain('is Ollama running where OLLAMA_BASE_URL points?');
      expect(error.message).not.toContain('127.0.0.1');
      expect(result.frames.at(-1)?.data).toMatchObject({ finish_reason: 'error' });
      expect(result.frames.at(-1)?.data.stats.attempts).toBe(2);
      expect(result.raw.endsWith('data: [DONE]\n\n')).toBe(true);
    } finally {
      await gateway.close(100);
    }
  });
});
