import type { AIMessageChunk } from '@langchain/core/messages';
import { ChatOpenAI } from '@langchain/openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { nativeView, PROVIDER_CASES, WEATHER_TOOL } from '../helpers/native.js';

/**
 * LangChain's `ChatOpenAI` with `configuration.baseURL` pointed at the gateway: `.stream()` reads
 * the same answer, reasoning, tool calls and usage as the native stream of the same generation.
 */

let harness: TestGateway;
beforeAll(async () => {
  harness = await startTestGateway();
});
afterAll(() => harness.close());
beforeEach(() => harness.emulator.reset());

function chatModel(model: string, reasons: boolean): ChatOpenAI {
  return new ChatOpenAI({
    model,
    apiKey: 'unused',
    configuration: { baseURL: `${harness.url}/v1` },
    maxRetries: 0,
    // LangChain sends `reasoning_effort` only for OpenAI's reasoning model names; the gateway's
    // extra body fields go through `modelKwargs`.
    ...(reasons ? { modelKwargs: { reasoning_effort: 'low' } } : {}),
  });
}

/** All chunks of a `.stream()` run, merged as LangChain merges them. */
async function streamAll(stream: AsyncIterable<AIMessageChunk>): Promise<AIMessageChunk> {
  let merged: AIMessageChunk | undefined;
  for await (const chunk of stream) merged = merged === undefined ? chunk : merged.concat(chunk);
  if (merged === undefined) throw new Error('no chunks');
  return merged;
}

describe.each(PROVIDER_CASES)('LangChain ChatOpenAI -> $provider', ({ model, reasons }) => {
  it('.stream() reads the answer, reasoning and usage of the native stream', async () => {
    const merged = await streamAll(await chatModel(model, reasons).stream('Why is the sky blue?'));
    const generationId = String(merged.id).replace(/^chatcmpl-/, '');
    const native = await nativeView(harness.url, generationId);
    expect(merged.content).toBe(native.text);
    expect(native.text.length).toBeGreaterThan(0);
    expect(merged.additional_kwargs.reasoning_content ?? '').toBe(native.thinking);
    if (reasons) expect(native.thinking.length).toBeGreaterThan(0);
    expect(merged.response_metadata.finish_reason).toBe('stop');
    expect(merged.usage_metadata).toMatchObject({
      input_tokens: native.usage.input_tokens,
      output_tokens: native.usage.output_tokens,
      total_tokens: native.usage.total_tokens,
    });
  });

  it('.stream() with bound tools reads the tool call', async () => {
    const model_ = chatModel(model, false).bindTools([WEATHER_TOOL]);
    const merged = await streamAll(await model_.stream('Weather in Paris?'));
    const native = await nativeView(harness.url, String(merged.id).replace(/^chatcmpl-/, ''));
    expect(native.toolCalls.length).toBeGreaterThan(0);
    expect(merged.tool_calls?.map(({ id, name, args }) => ({ id, name, args }))).toEqual(
      native.toolCalls.map((call) => ({ id: call.id, name: call.name, args: JSON.parse(call.arguments) })),
    );
    expect(merged.response_metadata.finish_reason).toBe('tool_calls');
  });
});
