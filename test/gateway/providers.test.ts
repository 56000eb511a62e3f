import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HTTP_PROVIDERS } from '../../src/providers/registry.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { chatBody, invariantViolation, postStream, textOf } from '../helpers/sse.js';

let harness: TestGateway;
beforeAll(async () => {
  harness = await startTestGateway();
  harness.emulator.setDefaults({ ttftMs: 5, chunkDelayMs: 2, chunks: 15 });
});
afterAll(() => harness.close());

/** A model per provider that can reason, to exercise thinking end to end. */
const REASONING_MODELS: Record<string, { model: string; budget: number } | undefined> = {
  anthropic: { model: 'claude-sonnet-4-5', budget: 2048 },
  gemini: { model: 'gemini-2.5-flash', budget: 1024 },
  ollama: { model: 'qwen3', budget: 1024 },
};

/** A model per provider that cannot reason (every model Anthropic suggests can, so its is older). */
const NON_REASONING_MODELS: Record<string, string | undefined> = {
  openai: 'gpt-4o-mini',
  anthropic: 'claude-3-5-haiku-latest',
  gemini: 'gemini-2.0-flash',
  together: 'meta-llama/Llama-3.3-70B-Instruct-Turbo',
  ollama: 'llama3.2',
};

describe('every provider through the running gateway', () => {
  it('20 rounds of all providers at once: no frame leaks into another stream', async () => {
    for (let round = 0; round < 20; round++) {
      const requests = HTTP_PROVIDERS.map((provider, index) => {
        const model =
          provider.suggestedModels[round % provider.suggestedModels.length] ?? provider.defaultModel;
        return { provider: provider.id, model, prompt: `round ${round} stream ${index}` };
      });
      const results = await Promise.all(
        requests.map((request) =>
          postStream(harness.url, {
            provider: request.provider,
            model: request.model,
            messages: [{ role: 'user', content: request.prompt }],
          }),
        ),
      );
      results.forEach((result, index) => {
        const request = requests[index];
        expect(result.status, `${request?.provider} status`).toBe(200);
        expect(invariantViolation(result), `${request?.provider}`).toBeUndefined();
        expect(
          result.frames.some((frame) => frame.event === 'chunk' && frame.data.delta_text.length > 0),
        ).toBe(true);
        for (const frame of result.frames) {
          expect(frame.data.provider).toBe(request?.provider);
          expect(frame.data.model).toBe(request?.model);
        }
        expect(textOf(result.frames)).toContain(`round ${round} stream ${index}`);
        expect(result.frames.at(-1)?.data.finish_reason).toBe('stop');
      });
    }
  }, 60_000);

  for (const provider of HTTP_PROVIDERS) {
    const reasoning = REASONING_MODELS[provider.id];
    if (reasoning !== undefined) {
      it(`${provider.id}: reasoning streams as thinking, then thinking_done once, then the answer`, async () => {
        const result = await postStream(
          harness.url,
          chatBody(provider.id, {
            model: reasoning.model,
            thinking_budget: reasoning.budget,
            max_tokens: 8192,
          }),
        );
        expect(invariantViolation(result)).toBeUndefined();
        const events = result.frames.map((frame) => frame.event);
        const firstThinking = events.indexOf('thinking');
        const thinkingDone = events.indexOf('thinking_done');
        const firstChunk = events.indexOf('chunk');
        expect(firstThinking).toBeGreaterThan(0);
        expect(thinkingDone).toBeGreaterThan(firstThinking);
        expect(firstChunk).toBeGreaterThan(thinkingDone);
        expect(events.filter((event) => event === 'thinking_done')).toHaveLength(1);
        expect(textOf(result.frames, 'thinking').length).toBeGreaterThan(0);
        const done = result.frames.at(-1)?.data;
        expect(done.stats.ttft_ms).not.toBeNull();

        const hidden = await postStream(
          harness.url,
          chatBody(provider.id, {
            model: reasoning.model,
            thinking_budget: reasoning.budget,
            max_tokens: 8192,
            include_thinking: false,
          }),
        );
        const hiddenEvents = hidden.frames.map((frame) => frame.event);
        expect(hiddenEvents).not.toContain('thinking');
        expect(hiddenEvents).not.toContain('thinking_done');
        expect(textOf(hidden.frames)).toBe(textOf(result.frames));
      });
    }

    it(`${provider.id}: a tool call comes out as tool_call_start then tool_call and finish tool_calls`, async () => {
      const result = await postStream(
        harness.url,
        chatBody(provider.id, {
          tools: [
            {
              type: 'function',
              function: {
                name: 'get_weather',
                description: 'Current weather',
                parameters: {
                  type: 'object',
                  properties: { location: { type: 'string' } },
                  required: ['location'],
                },
              },
            },
          ],
        }),
      );
      expect(invariantViolation(result)).toBeUndefined();
      const start = result.frames.find((frame) => frame.event === 'tool_call_start');
      const call = result.frames.find((frame) => frame.event === 'tool_call');
      expect(start?.data).toMatchObject({ index: 0, name: 'get_weather' });
      expect(call?.data).toMatchObject({ index: 0, name: 'get_weather', id: start?.data.id });
      expect(JSON.parse(call?.data.arguments)).toEqual({ location: 'Paris' });
      expect(result.frames.at(-1)?.data.finish_reason).toBe('tool_calls');
    });

    it(`${provider.id}: a model that cannot reason refuses a positive budget`, async () => {
      const model = NON_REASONING_MODELS[provider.id];
      expect(model, `a model of ${provider.id} that cannot reason`).toBeDefined();
      expect(provider.capabilities(model ?? '').reasoning).toBe(false);
      const result = await postStream(harness.url, chatBody(provider.id, { model, thinking_budget: 2048 }));
      expect(result.status).toBe(400);
      expect(result.json.error.code).toBe('thinking_not_supported');
    });
  }

  it('Together refuses models outside its list', async () => {
    const result = await postStream(harness.url, chatBody('together', { model: 'mistralai/Mixtral-8x7B' }));
    expect(result.status).toBe(400);
    expect(result.json.error).toMatchObject({ code: 'model_not_supported', field: 'model' });
  });

  it('Anthropic rules are checked before the stream: temperature at most 1, budget below max_tokens', async () => {
    const hot = await postStream(harness.url, chatBody('anthropic', { temperature: 1.5 }));
    expect(hot.status).toBe(400);
    expect(hot.json.error.field).toBe('temperature');
    const budget = await postStream(
      harness.url,
      chatBody('anthropic', { thinking_budget: 4096, max_tokens: 2048 }),
    );
    expect(budget.status).toBe(400);
    expect(budget.json.error.field).toBe('thinking_budget');
    const small = await postStream(harness.url, chatBody('anthropic', { thinking_budget: 100 }));
    expect(small.status).toBe(400);
    expect(small.json.error.message).toMatch(/1024/);
  });
});
