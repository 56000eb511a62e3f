import { z } from 'zod';
import { RequestError } from '../../core/errors.js';
import { type ModelCatalog, type ModelChoice, resolveModelName } from './models.js';

/**
 * A Chat Completions request body onto the native request (CONTRACT.md sections 8 and 9). Only
 * what OpenAI's API has and the native one has not is read here (the model name, `stream`,
 * `stream_options`, `reasoning_effort`, `max_completion_tokens`, `n`, the `developer` role); the
 * rest is handed to the native validation unchanged, and its field names are mapped back to
 * OpenAI's `param` when it refuses.
 */

/**
 * Reasoning tokens for OpenAI's `reasoning_effort`. One table for every provider: the numbers
 * Google's own OpenAI compatibility uses for Gemini, which every provider's rules accept (at
 * least Anthropic's 1024, within Gemini's ranges) and which map back onto the same effort for
 * OpenAI's reasoning models. `none` and `minimal` turn reasoning off (OpenAI's gpt-5 `minimal`).
 */
export const REASONING_EFFORT_BUDGETS = {
  none: 0,
  minimal: 0,
  low: 1024,
  medium: 8192,
  high: 24_576,
} as const;

/** Fields that pass to the native request as they are (CONTRACT.md section 8). */
const PASSED_FIELDS = [
  'temperature',
  'tools',
  'thinking_budget',
  'include_thinking',
  'token_budget',
  'recover',
  'cancel_on_disconnect',
] as const;

const openAiFieldsSchema = z.object({
  model: z
    .string({ error: 'model must be a string naming "<provider>/<model>", a provider, or a model' })
    .min(1),
  messages: z.array(z.unknown(), { error: 'messages must be an array of messages' }).optional(),
  stream: z.boolean({ error: 'stream must be a boolean' }).nullable().optional(),
  stream_options: z
    .object({ include_usage: z.boolean({ error: 'include_usage must be a boolean' }).nullable().optional() })
    .nullable()
    .optional(),
  reasoning_effort: z
    .enum(Object.keys(REASONING_EFFORT_BUDGETS) as [keyof typeof REASONING_EFFORT_BUDGETS], {
      error: `reasoning_effort must be one of ${Object.keys(REASONING_EFFORT_BUDGETS).join(', ')}`,
    })
    .nullable()
    .optional(),
  max_tokens: z.unknown().optional(),
  max_completion_tokens: z.unknown().optional(),
  n: z
    .number({ error: 'n must be 1' })
    .refine((count) => count === 1, 'only n = 1 is supported')
    .nullable()
    .optional(),
  fallbacks: z.unknown().optional(),
});

export interface AdaptedRequest {
  /** The native request body, for the native validation. */
  native: Record<string, unknown>;
  stream: boolean;
  includeUsage: boolean;
  /** OpenAI's name of a native field, for the `param` of a refusal. */
  param(nativeField: string | undefined): string | undefined;
}

/** Chat Completions roles onto the contract's: `developer` is the newer name of `system`. */
function adaptMessage(message: unknown): unknown {
  if (typeof message !== 'object' || message === null) return message;
  const role = (message as { role?: unknown }).role;
  return role === 'developer' ? { ...message, role: 'system' } : message;
}

/**
 * Fallbacks may be named as models are here (`"anthropic/claude-haiku-4-5"`) or as the native
 * API names them (`{"provider", "model"}`); either way they reach the native request as objects.
 */
function adaptFallbacks(fallbacks: unknown, catalog: ModelCatalog): unknown {
  if (!Array.isArray(fallbacks)) return fallbacks;
  return fallbacks.map((fallback): unknown => {
    if (typeof fallback !== 'string') return fallback;
    const choice = resolveModelName(fallback, catalog);
    return choice === undefined ? fallback : withModel(choice);
  });
}

function withModel(choice: ModelChoice): Record<string, unknown> {
  return choice.model === undefined
    ? { provider: choice.provider }
    : { provider: choice.provider, model: choice.model };
}

/** Reads a Chat Completions body; throws a `RequestError` naming OpenAI's field. */
export function adaptChatCompletion(body: unknown, catalog: ModelCatalog): AdaptedRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new RequestError('invalid_request', 'the request body must be a JSON object');
  }
  const parsed = openAiFieldsSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.map(String).join('.') || undefined;
    const absent = field !== undefined && !Object.hasOwn(body, field);
    throw new RequestError(
      'invalid_request',
      absent ? `${field} is required` : (issue?.message ?? 'invalid request'),
      field,
    );
  }
  const fields = parsed.data;
  const choice = resolveModelName(fields.model, catalog);
  if (choice === undefined) {
    throw new RequestError(
      'model_not_supported',
      `The model "${fields.model}" does not exist or is not served by this gateway`,
      'model',
    );
  }
  const source = body as Record<string, unknown>;
  const native: Record<string, unknown> = withModel(choice);
  if (fields.messages !== undefined) native.messages = fields.messages.map(adaptMessage);
  for (const name of PASSED_FIELDS) if (source[name] !== undefined) native[name] = source[name];
  // OpenAI's newer name wins when both are given, as on OpenAI's own API.
  const maxTokensField = fields.max_completion_tokens != null ? 'max_completion_tokens' : 'max_tokens';
  if (source[maxTokensField] != null) native.max_tokens = source[maxTokensField];
  const effort = fields.reasoning_effort;
  const budgetFromEffort = native.thinking_budget == null && effort != null;
  if (budgetFromEffort) native.thinking_budget = REASONING_EFFORT_BUDGETS[effort];
  if (fields.fallbacks !== undefined) native.fallbacks = adaptFallbacks(fields.fallbacks, catalog);

  return {
    native,
    stream: fields.stream === true,
    includeUsage: fields.stream_options?.include_usage === true,
    param(nativeField) {
      if (nativeField === undefined) return undefined;
      if (nativeField === 'provider' || nativeField === 'model') return 'model';
      if (nativeField === 'max_tokens') return maxTokensField;
      if (nativeField === 'thinking_budget' && budgetFromEffort) return 'reasoning_effort';
      return nativeField;
    },
  };
}
