import { expect } from 'vitest';
import { invariantViolation, type ReceivedFrame, readResponse } from './sse.js';

/** What the native stream of one generation says: the reference every other form is held to. */
export interface NativeView {
  frames: ReceivedFrame[];
  text: string;
  thinking: string;
  toolCalls: { index: number; id: string; name: string; arguments: string }[];
  finishReason: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary frame fields
  usage: any;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary frame fields
  error: any;
}

/** Reads generation `id` from frame 1 through the native SSE resume, and checks its invariants. */
export async function nativeView(baseUrl: string, id: string | null | undefined): Promise<NativeView> {
  expect(id).toMatch(/^[A-Za-z0-9_-]+$/);
  const whole = await readResponse(await fetch(`${baseUrl}/api/v1/chat/stream/${id}`));
  expect(whole.status).toBe(200);
  expect(invariantViolation(whole)).toBeUndefined();
  const deltas = (event: string) =>
    whole.frames
      .filter((frame) => frame.event === event)
      .map((frame) => frame.data.delta_text)
      .join('');
  const done = whole.frames.at(-1)?.data;
  return {
    frames: whole.frames,
    text: deltas('chunk'),
    thinking: deltas('thinking'),
    toolCalls: whole.frames
      .filter((frame) => frame.event === 'tool_call')
      .map(({ data }) => ({ index: data.index, id: data.id, name: data.name, arguments: data.arguments })),
    finishReason: done.finish_reason,
    usage: done.usage,
    error: whole.frames.find((frame) => frame.event === 'error')?.data,
  };
}

/** The five providers, each with a model that reasons where the provider can (emulated). */
export const PROVIDER_CASES = [
  { provider: 'openai', model: 'openai/gpt-4o-mini', reasons: false },
  { provider: 'anthropic', model: 'anthropic/claude-sonnet-4-5', reasons: true },
  { provider: 'gemini', model: 'gemini/gemini-2.5-flash', reasons: true },
  {
    provider: 'together',
    model: 'together/meta-llama/Llama-4-Maverick-17B-128E-Instruct-FP8',
    reasons: false,
  },
  { provider: 'ollama', model: 'ollama/qwen3', reasons: true },
] as const;

/** An OpenAI-style function tool every emulator answers with a call to. */
export const WEATHER_TOOL = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: {
      type: 'object',
      properties: { location: { type: 'string' }, days: { type: 'integer' } },
      required: ['location'],
    },
  },
};
