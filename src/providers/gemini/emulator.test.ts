import { describe, expect, it } from 'vitest';
import { useEmulator } from '../../../test/helpers/emulator.js';
import { replayEverySplit, textOf } from '../../../test/helpers/replay.js';
import type { ChatRequest } from '../../protocol/request.js';
import { CONTINUE_INSTRUCTION } from '../continuation.js';
import type { CodecPart } from '../types.js';
import { createGeminiCodec } from './codec.js';
import { createGeminiDialect, googleJson } from './emulator.js';
import { mapGeminiHttpError } from './errors.js';
import { gemini } from './index.js';

const emulator = useEmulator(createGeminiDialect());

interface Answer {
  status: number;
  contentType: string | null;
  bytes: Buffer;
}

async function post(
  body: unknown,
  { model = 'gemini-2.5-flash', query = '?alt=sse', key = 'test-key' } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (key.length > 0) headers['x-goog-api-key'] = key;
  const response = await fetch(
    `${emulator.baseUrl('gemini')}/v1beta/models/${encodeURIComponent(model)}:streamGenerateContent${query}`,
    { method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(5000) },
  );
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    bytes: Buffer.from(await response.arrayBuffer()),
  };
}

const userTurn = (text: string) => ({ contents: [{ role: 'user', parts: [{ text }] }] });
const decode = (answer: Answer): CodecPart[] => replayEverySplit(createGeminiCodec, 'sse', answer.bytes, 10);

describe('Gemini emulator dialect', () => {
  it('streams Google-style JSON with CRLF CRLF separators and no end marker', async () => {
    emulator.enqueue('gemini', { text: 'Hello there, emulated world.' });
    const answer = await post(userTurn('Say hello'));
    expect(answer.status).toBe(200);
    expect(answer.contentType).toBe('text/event-stream');
    const text = answer.bytes.toString('utf8');
    const events = text.split('\r\n\r\n');
    expect(events.at(-1)).toBe('');
    for (const event of events.slice(0, -1)) {
      expect(event.startsWith('data: {"candidates": [{"content": {"parts": [')).toBe(true);
      const payload = event.slice('data: '.length);
      expect(googleJson(JSON.parse(payload))).toBe(payload);
      expect(payload).toMatch(/"role": "model"\},"(index|finishReason)": /);
    }
    expect(text).not.toContain('[DONE]');
    expect(text).not.toMatch(/^(event|id):/m);
    const parts = decode(answer);
    expect(textOf(parts, 'text')).toBe('Hello there, emulated world.');
    expect(parts[0]).toMatchObject({ type: 'metadata', upstreamModel: 'gemini-2.5-flash' });
    expect(parts.at(-1)).toEqual({ type: 'finish', reason: 'stop', rawReason: 'STOP' });
    expect(parts.filter((part) => part.type === 'usage').at(-1)).toMatchObject({
      usage: { inputTokens: expect.any(Number), outputTokens: expect.any(Number) },
    });
  });

  it('streams thought parts only when includeThoughts is asked for (and the budget is not 0)', async () => {
    emulator.enqueue(
      'gemini',
      { text: 'Answer.', thinkingChunks: 4 },
      { text: 'Answer.', thinkingChunks: 4 },
    );
    const thinking = decode(
      await post({ ...userTurn('Think'), generationConfig: { thinkingConfig: { includeThoughts: true } } }),
    );
    expect(textOf(thinking, 'thinking')).toBe('Let me think about');
    expect(thinking.findIndex((part) => part.type === 'thinking')).toBeLessThan(
      thinking.findIndex((part) => part.type === 'text'),
    );
    const usage = thinking.filter((part) => part.type === 'usage').at(-1);
    expect(usage).toMatchObject({ usage: { thinkingTokens: expect.any(Number) } });
    const off = decode(
      await post({
        ...userTurn('Think'),
        generationConfig: { thinkingConfig: { includeThoughts: true, thinkingBudget: 0 } },
      }),
    );
    expect(textOf(off, 'thinking')).toBe('');
    expect(textOf(off, 'text')).toBe('Answer.');
  });

  it('sends a function call whole in one part, then STOP', async () => {
    const answer = await post({
      ...userTurn('Weather?'),
      tools: [
        {
          functionDeclarations: [
            { name: 'get_weather', parameters: { type: 'OBJECT', properties: { city: { type: 'STRING' } } } },
          ],
        },
      ],
    });
    expect(answer.bytes.toString('utf8')).toContain(
      '{"functionCall": {"name": "get_weather","args": {"city": "Paris"}}}',
    );
    const parts = decode(answer);
    expect(parts.filter((part) => part.type.startsWith('tool_call'))).toEqual([
      { type: 'tool_call_start', index: 0, id: 'call_0', name: 'get_weather' },
      { type: 'tool_call', index: 0, id: 'call_0', name: 'get_weather', arguments: '{"city":"Paris"}' },
    ]);
    expect(parts.at(-1)).toEqual({ type: 'finish', reason: 'stop', rawReason: 'STOP' });
  });

  it('maps finishes: length -> MAX_TOKENS, content_filter -> SAFETY with no content', async () => {
    emulator.enqueue(
      'gemini',
      { chunks: 3, finish: 'length' },
      { fault: { type: 'content_filter', afterChunks: 2 } },
    );
    expect(decode(await post(userTurn('long'))).at(-1)).toEqual({
      type: 'finish',
      reason: 'length',
      rawReason: 'MAX_TOKENS',
    });
    const filtered = await post(userTurn('bad'));
    const last = filtered.bytes.toString('utf8').split('\r\n\r\n').at(-2) ?? '';
    expect(last).toMatch(/^data: \{"candidates": \[\{"finishReason": "SAFETY","index": 0,"safetyRatings": /);
    const parts = decode(filtered);
    expect(parts.filter((part) => part.type === 'text')).toHaveLength(2);
    expect(parts.at(-1)).toEqual({ type: 'finish', reason: 'content_filter', rawReason: 'SAFETY' });
    // Cumulative snapshots: the prompt count never changes and output never shrinks.
    const usages = parts.flatMap((part) => (part.type === 'usage' ? [part.usage] : []));
    expect(new Set(usages.map((usage) => usage.inputTokens)).size).toBe(1);
    const outputs = usages.map((usage) => usage.outputTokens ?? 0);
    expect(outputs).toEqual([...outputs].sort((a, b) => a - b));
  });

  it('writes a mid-stream error as raw pretty-printed JSON without data:', async () => {
    emulator.enqueue('gemini', { chunks: 5, fault: { type: 'midstream_error', afterChunks: 2 } });
    const answer = await post(userTurn('x'));
    expect(answer.bytes.toString('utf8')).toMatch(/\r\n\r\n\{\n {2}"error": \{\n {4}"code": 503,\n/);
    const parts = decode(answer);
    expect(parts.filter((part) => part.type === 'text')).toHaveLength(2);
    expect(parts.at(-1)).toEqual({
      type: 'error',
      code: 'overloaded',
      message: 'Gemini: The model is overloaded. Please try again later.',
      retryable: true,
    });
  });

  it('no_finish ends without finishReason; malformed ends with an error part', async () => {
    emulator.enqueue(
      'gemini',
      { chunks: 4, fault: { type: 'no_finish', afterChunks: 2 } },
      { chunks: 4, fault: { type: 'malformed', afterChunks: 1 } },
    );
    const cut = decode(await post(userTurn('x')));
    expect(cut.filter((part) => part.type === 'text')).toHaveLength(2);
    expect(cut.some((part) => part.type === 'finish' || part.type === 'error')).toBe(false);
    const broken = decode(await post(userTurn('x')));
    expect(broken.at(-1)).toMatchObject({ type: 'error', code: 'upstream_error' });
  });

  it('answers HTTP faults with google.rpc.Status bodies that map back to the right codes', async () => {
    emulator.enqueue(
      'gemini',
      { fault: { type: 'http', status: 429 } },
      { fault: { type: 'http', status: 400 } },
      { fault: { type: 'http', status: 403 } },
      { fault: { type: 'http', status: 500 } },
      { fault: { type: 'http', status: 503 } },
    );
    const expected: [number, string, string][] = [
      [429, 'RESOURCE_EXHAUSTED', 'rate_limited'],
      [400, 'INVALID_ARGUMENT', 'bad_request'],
      [403, 'PERMISSION_DENIED', 'provider_auth'],
      [500, 'INTERNAL', 'upstream_error'],
      [503, 'UNAVAILABLE', 'overloaded'],
    ];
    for (const [status, name, code] of expected) {
      const answer = await post(userTurn('x'));
      const body = answer.bytes.toString('utf8');
      expect(answer.status).toBe(status);
      expect(body.startsWith(`{\n  "error": {\n    "code": ${status},`)).toBe(true);
      expect(JSON.parse(body)).toMatchObject({ error: { code: status, status: name } });
      const error = mapGeminiHttpError(status, body, {});
      expect(error.code).toBe(code);
      if (status === 429) expect(error.retryAfterMs).toBe(1000);
    }
  });

  it('authorizes by x-goog-api-key or ?key=, and requires alt=sse', async () => {
    const missing = await post(userTurn('x'), { key: '' });
    expect(missing.status).toBe(401);
    expect(JSON.parse(missing.bytes.toString('utf8'))).toMatchObject({
      error: { status: 'UNAUTHENTICATED' },
    });
    expect((await post(userTurn('x'), { key: '', query: '?alt=sse&key=abc' })).status).toBe(200);
    const noSse = await post(userTurn('x'), { query: '' });
    expect(noSse.status).toBe(400);
    expect(noSse.bytes.toString('utf8')).toContain('alt=sse');
    expect((await post({ nothing: true })).status).toBe(400);
  });

  it('accepts what the gateway builds, model from the path and key from the header', async () => {
    const chatRequest: ChatRequest = {
      provider: 'gemini',
      model: 'gemini-2.5-pro',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hello gateway' },
      ],
      temperature: 0.2,
      max_tokens: 100,
      thinking_budget: 256,
      include_thinking: true,
      tools: undefined,
      token_budget: undefined,
      fallbacks: [],
      recover: false,
      cancel_on_disconnect: false,
    };
    const upstream = gemini.buildRequest(chatRequest, 'gemini-2.5-pro', {
      apiKey: 'secret-key',
      baseUrl: emulator.baseUrl('gemini'),
    });
    const response = await fetch(upstream.url, {
      method: 'POST',
      headers: upstream.headers,
      body: upstream.body,
      signal: AbortSignal.timeout(5000),
    });
    expect(response.status).toBe(200);
    const parts = replayEverySplit(createGeminiCodec, 'sse', Buffer.from(await response.arrayBuffer()), 5);
    expect(parts[0]).toMatchObject({ type: 'metadata', upstreamModel: 'gemini-2.5-pro' });
    expect(textOf(parts, 'thinking').length).toBeGreaterThan(0);
    expect(textOf(parts, 'text')).toContain('Hello gateway');
    expect(emulator.stats('gemini').headers.at(-1)?.['x-goog-api-key']).toBe('secret-key');
  });
});

describe('Gemini 3 thought signatures, as the API enforces them', () => {
  const MODEL = 'gemini-3-pro-preview';
  const tools = [
    {
      functionDeclarations: [
        { name: 'get_weather', parameters: { type: 'OBJECT', properties: { city: { type: 'STRING' } } } },
      ],
    },
  ];
  const history = (call: Record<string, unknown>) => ({
    tools,
    contents: [
      { role: 'user', parts: [{ text: 'Weather?' }] },
      { role: 'model', parts: [call] },
      { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { temp: 21 } } }] },
    ],
  });

  it('signs the first call; the call sent back with its signature (or the documented bypass) is answered', async () => {
    const answer = await post({ ...userTurn('Weather?'), tools }, { model: MODEL });
    const parts = decode(answer);
    const [signed] = parts.flatMap((part) => (part.type === 'reasoning_state' ? [part.item] : []));
    expect(signed).toMatchObject({ part: 'function_call', index: 0 });
    const call = { functionCall: { name: 'get_weather', args: { city: 'Paris' } } };
    emulator.enqueue('gemini', { toolCall: false }, { toolCall: false });
    expect(
      (await post(history({ ...call, thoughtSignature: signed?.signature }), { model: MODEL })).status,
    ).toBe(200);
    const bypass = { ...call, thoughtSignature: 'skip_thought_signature_validator' };
    expect((await post(history(bypass), { model: MODEL })).status).toBe(200);
  });

  it('refuses a call of the current turn without a signature, or with a damaged one', async () => {
    const call = { functionCall: { name: 'get_weather', args: { city: 'Paris' } } };
    const missing = await post(history(call), { model: MODEL });
    expect(missing.status).toBe(400);
    expect(JSON.parse(missing.bytes.toString('utf8')).error).toMatchObject({
      code: 400,
      status: 'INVALID_ARGUMENT',
      message: expect.stringMatching(
        /^Function call is missing a thought_signature in functionCall parts\. .*`default_api:get_weather` , position 2\./,
      ),
    });
    const damaged = await post(history({ ...call, thoughtSignature: 'c2lnbmF0dXJl' }), { model: MODEL });
    expect(damaged.status).toBe(400);
    expect(JSON.parse(damaged.bytes.toString('utf8')).error.message).toBe('Corrupted thought signature.');
    // Gemini 2.5 does not require them.
    expect((await post(history(call), { model: 'gemini-2.5-flash' })).status).toBe(200);
  });

  it('carries on a cut-off answer asked to continue, repeating its last word', async () => {
    emulator.enqueue('gemini', { chunks: 10 }, { chunks: 10 });
    const whole = textOf(decode(await post(userTurn('Why?'))), 'text');
    const partial = whole.slice(0, whole.indexOf(' ', 30));
    const continued = textOf(
      decode(
        await post({
          contents: [
            { role: 'user', parts: [{ text: 'Why?' }] },
            { role: 'model', parts: [{ text: partial }] },
            { role: 'user', parts: [{ text: CONTINUE_INSTRUCTION }] },
          ],
        }),
      ),
      'text',
    );
    const lastWord = partial.slice(partial.lastIndexOf(' ') + 1);
    expect(continued.trimStart().startsWith(lastWord)).toBe(true);
    expect(
      partial.slice(0, partial.lastIndexOf(' ')) + (continued.startsWith(' ') ? '' : ' ') + continued,
    ).toBe(whole);
  });
});
