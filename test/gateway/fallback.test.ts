import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Scenario } from '../../src/emulators/types.js';
import { startGateway } from '../../src/server/gateway.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { chatBody, invariantViolation, postStream, textOf } from '../helpers/sse.js';

/**
 * `fallbacks`: before the first content frame, a failing provider hands the request to the next
 * one in the chain, with a `fallback` frame per switch and `served_by` naming who answered.
 */

let harness: TestGateway;
beforeAll(async () => {
  harness = await startTestGateway({ idleTimeoutMs: 300, maxRetries: 2, retryBaseMs: 5 });
});
afterAll(() => harness.close());
beforeEach(() => harness.emulator.reset());

const ANTHROPIC = { provider: 'anthropic', model: 'claude-haiku-4-5' };
const GEMINI = { provider: 'gemini', model: 'gemini-2.5-flash' };

/** What the fallback alone answers for the same request: the text to expect, once. */
async function answerOf(provider: string, model: string): Promise<string> {
  const result = await postStream(harness.url, chatBody(provider, { model, thinking_budget: 0 }));
  harness.emulator.reset();
  return textOf(result.frames);
}

describe('fallbacks', () => {
  const cases: { name: string; scenario: Scenario; code: string }[] = [
    { name: '503', scenario: { fault: { type: 'http', status: 503 } }, code: 'overloaded' },
    {
      name: '429',
      scenario: { fault: { type: 'http', status: 429, retryAfter: '0' } },
      code: 'rate_limited',
    },
    { name: '401', scenario: { fault: { type: 'http', status: 401 } }, code: 'provider_auth' },
    { name: 'a stall before the first token', scenario: { ttftMs: 1500 }, code: 'timeout' },
  ];
  for (const { name, scenario, code } of cases) {
    it(`the first provider answering ${name} makes the second serve, at once`, async () => {
      const expected = await answerOf(ANTHROPIC.provider, ANTHROPIC.model);
      harness.emulator.enqueue('openai', scenario);
      const result = await postStream(
        harness.url,
        chatBody('openai', { thinking_budget: 0, fallbacks: [ANTHROPIC, GEMINI] }),
      );
      expect(invariantViolation(result)).toBeUndefined();
      const events = result.frames.map((frame) => frame.event);
      expect(events.filter((event) => event === 'fallback')).toHaveLength(1);
      expect(events).not.toContain('error');
      const fallback = result.frames.find((frame) => frame.event === 'fallback')?.data;
      expect(fallback).toEqual({
        type: 'fallback',
        provider: 'openai',
        model: 'gpt-4o-mini',
        from: { provider: 'openai', model: 'gpt-4o-mini' },
        to: ANTHROPIC,
        code,
      });
      // Every frame keeps the provider the request asked for; served_by says who answered.
      for (const frame of result.frames) expect(frame.data.provider).toBe('openai');
      const metadata = result.frames.find((frame) => frame.event === 'metadata')?.data;
      expect(metadata.served_by).toEqual(ANTHROPIC);
      const done = result.frames.at(-1)?.data;
      expect(done).toMatchObject({ finish_reason: 'stop', served_by: ANTHROPIC, stats: { attempts: 2 } });
      expect(textOf(result.frames)).toBe(expected);
      expect(harness.emulator.stats('openai').requests).toBe(1);
      expect(harness.emulator.stats('anthropic').requests).toBe(1);
      expect(harness.emulator.stats('gemini').requests).toBe(0);

      const id = result.headers.get('x-generation-id');
      const stored = await (await fetch(`${harness.url}/api/v1/generations/${id}`)).json();
      expect(stored).toMatchObject({ provider: 'openai', served_by: ANTHROPIC, text: expected });
    });
  }

  it('goes down the chain: a fallback frame per switch, every attempt counted', async () => {
    harness.emulator.enqueue('openai', { fault: { type: 'http', status: 503 } });
    harness.emulator.enqueue('anthropic', { fault: { type: 'http', status: 529 } });
    const result = await postStream(
      harness.url,
      chatBody('openai', { thinking_budget: 0, fallbacks: [ANTHROPIC, GEMINI] }),
    );
    const switches = result.frames.filter((frame) => frame.event === 'fallback').map((frame) => frame.data);
    expect(switches.map((entry) => [entry.from.provider, entry.to.provider, entry.code])).toEqual([
      ['openai', 'anthropic', 'overloaded'],
      ['anthropic', 'gemini', 'overloaded'],
    ]);
    expect(result.frames.at(-1)?.data).toMatchObject({
      finish_reason: 'stop',
      served_by: GEMINI,
      stats: { attempts: 3 },
    });
  });

  it("retries a provider's other failures first, then falls back", async () => {
    // An end without a finish reason is retryable but not one of the at-once codes.
    const cut = { fault: { type: 'no_finish', afterChunks: 0 } } as const;
    harness.emulator.enqueue('openai', cut, cut, cut);
    const result = await postStream(harness.url, chatBody('openai', { fallbacks: [ANTHROPIC] }));
    expect(harness.emulator.stats('openai').requests).toBe(3);
    const fallback = result.frames.find((frame) => frame.event === 'fallback')?.data;
    expect(fallback.code).toBe('incomplete');
    expect(result.frames.at(-1)?.data).toMatchObject({
      finish_reason: 'stop',
      served_by: ANTHROPIC,
      stats: { attempts: 4 },
    });
  });

  it('ends with the last error when every provider fails', async () => {
    harness.emulator.enqueue('openai', { fault: { type: 'http', status: 503 } });
    harness.emulator.enqueue('anthropic', { fault: { type: 'http', status: 401 } });
    const result = await postStream(harness.url, chatBody('openai', { fallbacks: [ANTHROPIC] }));
    expect(invariantViolation(result)).toBeUndefined();
    const events = result.frames.map((frame) => frame.event);
    expect(events.slice(-2)).toEqual(['error', 'done']);
    expect(result.frames.at(-2)?.data).toMatchObject({ code: 'provider_auth', partial: false });
    expect(result.frames.at(-1)?.data).toMatchObject({
      finish_reason: 'error',
      served_by: ANTHROPIC,
      stats: { attempts: 2 },
    });
  });

  it('does not fall back once content went out: error then done, as without fallbacks', async () => {
    harness.emulator.enqueue('openai', { chunks: 12, fault: { type: 'reset', afterChunks: 3 } });
    const result = await postStream(harness.url, chatBody('openai', { fallbacks: [ANTHROPIC] }));
    expect(invariantViolation(result)).toBeUndefined();
    const events = result.frames.map((frame) => frame.event);
    expect(events).not.toContain('fallback');
    expect(result.frames.at(-2)?.data).toMatchObject({ code: 'upstream_disconnected', partial: true });
    expect(result.frames.at(-1)?.data).toMatchObject({
      finish_reason: 'error',
      served_by: { provider: 'openai', model: 'gpt-4o-mini' },
      stats: { attempts: 1 },
    });
    expect(harness.emulator.stats('anthropic').requests).toBe(0);
    // No text twice: only the first provider's partial answer.
    const text = textOf(result.frames);
    expect(text.length).toBeGreaterThan(0);
    expect(text.startsWith('Emulated openai')).toBe(true);
  });

  it('names who served without fallbacks too', async () => {
    const result = await postStream(harness.url, chatBody('gemini'));
    const done = result.frames.at(-1)?.data;
    expect(done.served_by).toEqual({ provider: 'gemini', model: 'gemini-2.5-flash' });
    expect(result.frames.find((frame) => frame.event === 'metadata')?.data.served_by).toEqual(done.served_by);
  });
});

describe('fallbacks that could never serve the request are refused before the stream', () => {
  const refusals: { name: string; body: Record<string, unknown>; code: string; field: string }[] = [
    {
      name: 'an unknown provider',
      body: chatBody('openai', { fallbacks: [{ provider: 'nope' }] }),
      code: 'unknown_provider',
      field: 'fallbacks.0.provider',
    },
    {
      name: 'a model the provider does not serve',
      body: chatBody('openai', { fallbacks: [GEMINI, { provider: 'together', model: 'gpt-4o' }] }),
      code: 'model_not_supported',
      field: 'fallbacks.1.model',
    },
    {
      name: 'a model that cannot reason, for a reasoning budget',
      body: chatBody('anthropic', {
        model: 'claude-sonnet-4-5',
        thinking_budget: 2048,
        fallbacks: [{ provider: 'openai', model: 'gpt-4o' }],
      }),
      code: 'thinking_not_supported',
      field: 'fallbacks.0',
    },
    {
      name: "a provider rule (Anthropic's temperature of at most 1)",
      body: chatBody('openai', { temperature: 1.5, fallbacks: [ANTHROPIC] }),
      code: 'invalid_request',
      field: 'fallbacks.0',
    },
    {
      name: 'more than four',
      body: chatBody('openai', { fallbacks: [GEMINI, GEMINI, GEMINI, GEMINI, GEMINI] }),
      code: 'invalid_request',
      field: 'fallbacks',
    },
    {
      name: 'an entry without a provider',
      body: chatBody('openai', { fallbacks: [{ model: 'x' }] }),
      code: 'invalid_request',
      field: 'fallbacks.0.provider',
    },
  ];
  for (const { name, body, code, field } of refusals) {
    it(name, async () => {
      const result = await postStream(harness.url, body);
      expect(result.status).toBe(400);
      expect(result.json.error).toMatchObject({ code, field });
      expect(result.json.error.message).toMatch(/fallbacks/);
      expect(harness.emulator.stats('openai').requests).toBe(0);
    });
  }

  it('a provider with no key configured', async () => {
    // Only OpenAI has a key; its base URL is never called, the request is refused first.
    const keyed = await startGateway({
      env: { OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: 'http://127.0.0.1:9/v1' },
      settings: { port: 0, host: '127.0.0.1' },
      webRoot: null,
    });
    try {
      const result = await postStream(keyed.url, chatBody('openai', { fallbacks: [ANTHROPIC] }));
      expect(result.status).toBe(400);
      expect(result.json.error).toMatchObject({ code: 'invalid_request', field: 'fallbacks.0.provider' });
      expect(result.json.error.message).toContain('ANTHROPIC_API_KEY');
    } finally {
      await keyed.close(200);
    }
  });
});
