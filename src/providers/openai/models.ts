/**
 * The most output tokens (`max_completion_tokens`) each OpenAI model writes, from the "Max output
 * tokens" of its page at platform.openai.com/docs/models. Exact names only: dated snapshots can
 * differ from their alias (gpt-4o-2024-05-13 writes 4,096), and other models are not guessed at.
 * Past the limit OpenAI answers 400 "max_tokens is too large: N. This model supports at most M
 * completion tokens".
 */
const OUTPUT_LIMITS: Readonly<Record<string, number>> = {
  'gpt-4o': 16_384,
  'gpt-4o-mini': 16_384,
  'gpt-4.1': 32_768,
  'gpt-4.1-mini': 32_768,
  'gpt-4.1-nano': 32_768,
  o1: 100_000,
  o3: 100_000,
  'o3-mini': 100_000,
  'o4-mini': 100_000,
  'gpt-5': 128_000,
  'gpt-5-mini': 128_000,
  'gpt-5-nano': 128_000,
  'gpt-4-turbo': 4096,
  'gpt-3.5-turbo': 4096,
};

export function openAiOutputLimit(model: string): number | undefined {
  return Object.hasOwn(OUTPUT_LIMITS, model) ? OUTPUT_LIMITS[model] : undefined;
}
