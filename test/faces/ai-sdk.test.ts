import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { jsonSchema, streamText, tool } from 'ai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { nativeView, PROVIDER_CASES, WEATHER_TOOL } from '../helpers/native.js';

/**
 * The AI SDK's `streamText` through `@ai-sdk/openai-compatible` with `baseURL` at the gateway:
 * it reads the same text, reasoning, tool calls and usage as the native stream.
 */

let harness: TestGateway;
beforeAll(async () => {
  harness = await startTestGateway({ maxRetries: 0 });
});
afterAll(() => harness.close());
beforeEach(() => harness.emulator.reset());

const sluice = () =>
  createOpenAICompatible({
    name: 'sluice',
    baseURL: `${harness.url}/v1`,
    apiKey: 'unused',
    includeUsage: true,
  });

const generationOf = (responseId: string | undefined) => String(responseId).replace(/^chatcmpl-/, '');

describe.each(PROVIDER_CASES)('AI SDK streamText -> $provider', ({ model, reasons }) => {
  it('reads text, reasoning, finish reason and usage', async () => {
    const result = streamText({
      model: sluice()(model),
      prompt: 'Why is the sky blue?',
      maxRetries: 0,
      ...(reasons ? { providerOptions: { sluice: { reasoningEffort: 'low' } } } : {}),
    });
    const [text, reasoning, finishReason, usage, response] = await Promise.all([
      result.text,
      result.reasoningText,
      result.finishReason,
      result.usage,
      result.response,
    ]);
    const native = await nativeView(harness.url, generationOf(response.id));
    expect(text).toBe(native.text);
    expect(text.length).toBeGreaterThan(0);
    expect(reasoning ?? '').toBe(native.thinking);
    if (reasons) expect(native.thinking.length).toBeGreaterThan(0);
    expect(finishReason).toBe('stop');
    expect(usage).toMatchObject({
      inputTokens: native.usage.input_tokens,
      outputTokens: native.usage.output_tokens,
      totalTokens: native.usage.total_tokens,
    });
  });

  it('reads a tool call', async () => {
    const result = streamText({
      model: sluice()(model),
      prompt: 'Weather in Paris?',
      maxRetries: 0,
      tools: {
        get_weather: tool({
          description: WEATHER_TOOL.function.description,
          inputSchema: jsonSchema<{ location: string; days?: number }>(WEATHER_TOOL.function.parameters),
        }),
      },
    });
    const [toolCalls, finishReason, response] = await Promise.all([
      result.toolCalls,
      result.finishReason,
      result.response,
    ]);
    const native = await nativeView(harness.url, generationOf(response.id));
    expect(native.toolCalls.length).toBeGreaterThan(0);
    expect(toolCalls.map(({ toolCallId, toolName, input }) => ({ toolCallId, toolName, input }))).toEqual(
      native.toolCalls.map((call) => ({
        toolCallId: call.id,
        toolName: call.name,
        input: JSON.parse(call.arguments),
      })),
    );
    expect(finishReason).toBe('tool-calls');
  });
});

describe('AI SDK streamText and failures', () => {
  it('gets an error part when the upstream fails mid-answer, after the text before it', async () => {
    harness.emulator.enqueue('together', { chunks: 10, fault: { type: 'midstream_error', afterChunks: 3 } });
    const result = streamText({
      model: sluice()('together'),
      prompt: 'Hi',
      maxRetries: 0,
      onError: () => {},
    });
    let text = '';
    const errors: unknown[] = [];
    for await (const part of result.fullStream) {
      if (part.type === 'text-delta') text += part.text;
      if (part.type === 'error') errors.push(part.error);
    }
    expect(errors).toHaveLength(1);
    expect(String((errors[0] as { message?: string }).message ?? errors[0])).toMatch(
      /overloaded|capacity|server/i,
    );
    expect(text.length).toBeGreaterThan(0);
  });
});
