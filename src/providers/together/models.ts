/**
 * Together's serverless ids for the Llama models we speak (checked against Together's model
 * list as quoted by promptfoo, Portkey and pipecat docs). Llama 3.1 keeps its `Meta-` prefix,
 * 3.3 and 4 do not; only Maverick carries the `-FP8` suffix.
 *
 * Each with its context window, which bounds `max_tokens`: Together refuses a request whose
 * prompt plus `max_tokens` pass it (400 "Input validation error: `inputs` tokens +
 * `max_new_tokens` must be <= N"). Llama 3.1 and 3.3 have 131,072 tokens; for Llama 4 the
 * sources disagree on what Together serves (promptfoo: 524,288 and 327,680; Together's model
 * list as mirrored by Hugging Face's inference playground: 1,048,576), so the largest is kept:
 * only what surely fails is refused.
 */
const CONTEXT_WINDOWS = {
  'meta-llama/Llama-4-Maverick-17B-128E-Instruct-FP8': 1_048_576,
  'meta-llama/Llama-4-Scout-17B-16E-Instruct': 1_048_576,
  'meta-llama/Llama-3.3-70B-Instruct-Turbo': 131_072,
  'meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo': 131_072,
  'meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo': 131_072,
  'meta-llama/Meta-Llama-3.1-405B-Instruct-Turbo': 131_072,
} as const satisfies Record<string, number>;

export const TOGETHER_MODELS = Object.keys(CONTEXT_WINDOWS) as readonly (keyof typeof CONTEXT_WINDOWS)[];

export function togetherContextWindow(model: string): number | undefined {
  return Object.hasOwn(CONTEXT_WINDOWS, model)
    ? CONTEXT_WINDOWS[model as keyof typeof CONTEXT_WINDOWS]
    : undefined;
}
