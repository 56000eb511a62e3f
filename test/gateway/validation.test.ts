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

/** `depth` arrays inside each other around `leaf`: `[[[leaf]]]`. */
function nested(depth: number, leaf: unknown = 1): unknown {
  let value: unknown = leaf;
  for (let level = 0; level < depth; level++) value = [value];
  return value;
}

/** The same as JSON text, for bodies whose nesting JSON.stringify itself could not write. */
function nestedText(depth: number): string {
  return `${'['.repeat(depth)}1${']'.repeat(depth)}`;
}

const LONE = '\ud800';

describe('malformed input is a 400 before any stream', () => {
  let roomy: TestGateway;
  beforeAll(async () => {
    roomy = await startTestGateway();
  });
  afterAll(() => roomy.close());

  const refused = async (body: unknown, field: string, rawBody?: string) => {
    const result = await postStream(roomy.url, body, rawBody !== undefined ? { rawBody } : {});
    expect([result.status, result.json?.error?.code, result.json?.error?.field]).toEqual([
      400,
      'invalid_request',
      field,
    ]);
    expect(result.raw).not.toMatch(/\n\s+at /);
    return result.json.error.message as string;
  };

  const weather = (parameters: unknown) => ({
    type: 'function',
    function: { name: 'get_weather', parameters },
  });
  const assistantCall = (args: string, extra: Record<string, unknown> = {}) => [
    { role: 'user', content: 'Weather?' },
    {
      role: 'assistant',
      content: null,
      tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: args } }],
      ...extra,
    },
    { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
  ];

  it('a lone surrogate in a Gemini model name (encodeURIComponent would throw)', async () => {
    await refused(chatBody('gemini', { model: `gemini-2.5-flash${LONE}` }), 'model');
  });

  it('a lone surrogate in any string that names something, or in message content', async () => {
    await refused(chatBody('openai', { model: `gpt-4o${LONE}` }), 'model');
    await refused(chatBody(`open${LONE}ai`), 'provider');
    await refused(
      { provider: 'anthropic', messages: [{ role: 'user', content: `half a pair ${LONE} here` }] },
      'messages.0.content',
    );
    await refused(
      {
        provider: 'openai',
        messages: assistantCall('{}').map((m, i) => (i === 2 ? { ...m, tool_call_id: `call_1${LONE}` } : m)),
      },
      'messages.2.tool_call_id',
    );
    await refused(
      chatBody('gemini', { tools: [{ type: 'function', function: { name: 'f', description: `x${LONE}` } }] }),
      'tools.0.function.description',
    );
    await refused(
      chatBody('anthropic', {
        tools: [weather({ type: 'object', properties: { [`c${LONE}`]: { type: 'string' } } })],
      }),
      'tools.0.function.parameters.properties',
    );
    await refused(
      { provider: 'ollama', messages: [{ role: 'user', content: '\udc00 trailing low half' }] },
      'messages.0.content',
    );
  });

  it('a well-formed astral character (a surrogate pair) is fine', async () => {
    const result = await postStream(
      roomy.url,
      chatBody('gemini', { messages: [{ role: 'user', content: 'hi 😀' }] }),
    );
    expect(result.status).toBe(200);
  });

  for (const provider of ['openai', 'anthropic', 'gemini', 'together', 'ollama']) {
    it(`${provider}: tool parameters nested 5000 deep (JSON.stringify would throw)`, async () => {
      const body = JSON.stringify(
        chatBody(provider, { tools: [weather({ type: 'object', properties: {} })] }),
      );
      const raw = body.replace('"properties":{}', `"properties":{"deep":${nestedText(5000)}}`);
      const message = await refused(
        undefined,
        'tools.0.function.parameters.properties.deep'.concat('.0'.repeat(58)),
        raw,
      );
      expect(message).toContain('64');
    });

    it(`${provider}: tool call arguments holding JSON nested 5000 deep`, async () => {
      const args = `{"deep":${nestedText(5000)}}`;
      await refused(
        { provider, messages: assistantCall(args) },
        'messages.1.tool_calls.0.function.arguments',
      );
    });

    it(`${provider}: tool call arguments that are not the JSON text of an object`, async () => {
      for (const args of ['[1]', 'not json', '"text"', '42', 'null']) {
        await refused(
          { provider, messages: assistantCall(args) },
          'messages.1.tool_calls.0.function.arguments',
        );
      }
    });
  }

  it('nesting past the bound anywhere in the body, even in an unknown field', async () => {
    await refused(chatBody('openai', { extra: nested(65) }), `extra${'.0'.repeat(63)}`);
    const result = await postStream(roomy.url, chatBody('openai', { extra: nested(60) }));
    expect(result.status).toBe(200);
    await refused(
      undefined,
      `messages.0.content${'.0'.repeat(61)}`,
      `{"provider":"openai","messages":[{"role":"user","content":${nestedText(100_000)}}]}`,
    );
  });

  it('a tool schema that is not a JSON object schema', async () => {
    await refused(
      chatBody('openai', { tools: [weather([{ type: 'object' }])] }),
      'tools.0.function.parameters',
    );
    await refused(
      chatBody('anthropic', { tools: [weather('{"type":"object"}')] }),
      'tools.0.function.parameters',
    );
    await refused(
      chatBody('gemini', { tools: [weather({ type: 'string' })] }),
      'tools.0.function.parameters.type',
    );
  });

  it('two tools with one name', async () => {
    await refused(
      chatBody('openai', { tools: [weather({ type: 'object' }), weather({ type: 'object' })] }),
      'tools.1.function.name',
    );
  });
});

describe('a wrong type is not reported as missing', () => {
  const message = [{ role: 'user', content: 'Hi' }];
  const call = { id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } };
  const wrong: { field: string; body: Record<string, unknown>; says: RegExp }[] = [
    { field: 'provider', body: { provider: 5, messages: message }, says: /string/ },
    { field: 'model', body: chatBody('openai', { model: 5 }), says: /string/ },
    { field: 'messages', body: { provider: 'openai', messages: 'hi' }, says: /array/ },
    { field: 'messages.0', body: { provider: 'openai', messages: ['hi'] }, says: /object/ },
    {
      field: 'messages.0.role',
      body: { provider: 'openai', messages: [{ role: 5, content: 'x' }] },
      says: /one of/,
    },
    {
      field: 'messages.0.content',
      body: { provider: 'openai', messages: [{ role: 'user', content: 42 }] },
      says: /string/,
    },
    { field: 'temperature', body: chatBody('openai', { temperature: 'hot' }), says: /number/ },
    { field: 'max_tokens', body: chatBody('openai', { max_tokens: 'many' }), says: /integer/ },
    { field: 'thinking_budget', body: chatBody('openai', { thinking_budget: true }), says: /integer/ },
    { field: 'include_thinking', body: chatBody('openai', { include_thinking: 'yes' }), says: /boolean/ },
    { field: 'tools', body: chatBody('openai', { tools: {} }), says: /array/ },
    {
      field: 'tools.0.function',
      body: chatBody('openai', { tools: [{ type: 'function', function: 'f' }] }),
      says: /object/,
    },
    {
      field: 'tools.0.function.parameters',
      body: chatBody('openai', { tools: [{ type: 'function', function: { name: 'f', parameters: 'x' } }] }),
      says: /object/,
    },
    {
      field: 'messages.1.tool_calls',
      body: {
        provider: 'openai',
        messages: [...message, { role: 'assistant', content: 'x', tool_calls: 'x' }],
      },
      says: /array/,
    },
    {
      field: 'messages.1.tool_calls.0.function.arguments',
      body: {
        provider: 'openai',
        messages: [
          ...message,
          { role: 'assistant', tool_calls: [{ ...call, function: { name: 'f', arguments: {} } }] },
        ],
      },
      says: /string/,
    },
    {
      field: 'messages.1.tool_call_id',
      body: { provider: 'openai', messages: [...message, { role: 'tool', tool_call_id: 7, content: 'x' }] },
      says: /string/,
    },
  ];
  for (const testCase of wrong) {
    it(`${testCase.field} of the wrong type`, async () => {
      const result = await postStream(harness.url, testCase.body);
      expect(result.status).toBe(400);
      expect(result.json.error).toMatchObject({ code: 'invalid_request', field: testCase.field });
      expect(result.json.error.message).not.toMatch(/required/);
      expect(result.json.error.message).toMatch(testCase.says);
    });
  }

  const missing: { field: string; body: Record<string, unknown> }[] = [
    { field: 'provider', body: { messages: message } },
    { field: 'messages', body: { provider: 'openai' } },
    { field: 'messages.0.role', body: { provider: 'openai', messages: [{ content: 'x' }] } },
    { field: 'tools.0.function', body: chatBody('openai', { tools: [{ type: 'function' }] }) },
    {
      field: 'messages.1.tool_calls.0.function.arguments',
      body: {
        provider: 'openai',
        messages: [...message, { role: 'assistant', tool_calls: [{ ...call, function: { name: 'f' } }] }],
      },
    },
  ];
  for (const testCase of missing) {
    it(`${testCase.field} missing`, async () => {
      const result = await postStream(harness.url, testCase.body);
      expect(result.status).toBe(400);
      expect(result.json.error).toMatchObject({
        code: 'invalid_request',
        field: testCase.field,
        message: `${testCase.field} is required`,
      });
    });
  }
});

describe('requests the provider would surely refuse are refused first, naming the rule', () => {
  const refusal = async (body: Record<string, unknown>, field: string, says: RegExp) => {
    const result = await postStream(harness.url, body);
    expect([result.status, result.json?.error?.code, result.json?.error?.field]).toEqual([
      400,
      'invalid_request',
      field,
    ]);
    expect(result.json.error.message).toMatch(says);
  };
  const system = { role: 'system', content: 'Be terse.' };

  it('Anthropic with system messages only', async () => {
    await refusal({ provider: 'anthropic', messages: [system] }, 'messages', /Anthropic.*user or assistant/);
  });

  it('Anthropic with an empty or blank message that is not the final assistant turn', async () => {
    await refusal(
      { provider: 'anthropic', messages: [system, { role: 'user', content: '' }] },
      'messages.1.content',
      /Anthropic/,
    );
    await refusal(
      { provider: 'anthropic', messages: [{ role: 'user', content: ' \n ' }] },
      'messages.0.content',
      /Anthropic/,
    );
    await refusal(
      {
        provider: 'anthropic',
        messages: [
          { role: 'user', content: 'Hi' },
          { role: 'assistant', content: '' },
          { role: 'user', content: 'Hello?' },
        ],
      },
      'messages.1.content',
      /Anthropic/,
    );
    const prefill = await postStream(harness.url, {
      provider: 'anthropic',
      messages: [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: '' },
      ],
    });
    expect(prefill.status).toBe(200);
  });

  it('Gemini with no user or assistant turn, or a turn with empty text', async () => {
    await refusal({ provider: 'gemini', messages: [system] }, 'messages', /Gemini.*user or assistant/);
    await refusal(
      { provider: 'gemini', messages: [system, { role: 'user', content: '' }] },
      'messages.1.content',
      /Gemini/,
    );
    await refusal(
      {
        provider: 'gemini',
        messages: [
          { role: 'user', content: 'Hi' },
          { role: 'assistant', content: '' },
        ],
      },
      'messages.1.content',
      /Gemini/,
    );
  });

  const overLimit: [string, string, number][] = [
    ['openai', 'gpt-4o-mini', 16_384],
    ['openai', 'gpt-4.1', 32_768],
    ['anthropic', 'claude-opus-4-1', 32_000],
    ['anthropic', 'claude-sonnet-4-5', 64_000],
    ['gemini', 'gemini-2.0-flash', 8192],
    ['gemini', 'gemini-2.5-flash', 65_536],
    ['together', 'meta-llama/Llama-3.3-70B-Instruct-Turbo', 131_072],
  ];
  for (const [provider, model, limit] of overLimit) {
    it(`${provider} ${model}: max_tokens past its output limit of ${limit}`, async () => {
      await refusal(
        chatBody(provider, { model, max_tokens: limit + 1 }),
        'max_tokens',
        new RegExp(`${limit}`),
      );
      const atLimit = await postStream(harness.url, chatBody(provider, { model, max_tokens: limit }));
      expect(atLimit.status).toBe(200);
    });
  }

  it('Anthropic: a reasoning budget at or past the output limit', async () => {
    await refusal(
      chatBody('anthropic', { model: 'claude-opus-4-1', thinking_budget: 32_000 }),
      'thinking_budget',
      /32000/,
    );
  });

  it('models whose limit is not known are not guessed at', async () => {
    for (const [provider, model] of [
      ['openai', 'gpt-9-preview'],
      ['anthropic', 'claude-future-9'],
      ['gemini', 'gemini-9-ultra'],
      ['ollama', 'llama3.2'],
    ]) {
      const result = await postStream(harness.url, chatBody(provider, { model, max_tokens: 1_000_000 }));
      expect([provider, result.status]).toEqual([provider, 200]);
    }
  });
});
