import { mapOpenAiHttpError } from '../openai/errors.js';
import { buildOpenAiCompatibleRequest } from '../openai/request.js';
import type { ProviderDefinition } from '../types.js';
import { createTogetherCodec } from './codec.js';
import { TOGETHER_MODELS, togetherContextWindow } from './models.js';

/** Llama 4 and Llama 3.1/3.3 are trained for function calling; Together streams their calls. */
function supportsTools(model: string): boolean {
  return /Llama-4-|Llama-3\.[13]-/.test(model);
}

export const together: ProviderDefinition = {
  id: 'together',
  displayName: 'Together',
  defaultModel: 'meta-llama/Llama-4-Maverick-17B-128E-Instruct-FP8',
  models: TOGETHER_MODELS,
  suggestedModels: TOGETHER_MODELS,
  framing: 'sse',
  continuation: 'instruction',
  apiKeyEnv: ['TOGETHER_API_KEY'],
  baseUrlEnv: 'TOGETHER_BASE_URL',
  defaultBaseUrl: 'https://api.together.xyz/v1',
  // Shared serverless capacity queues requests before the first byte; 30 s cuts off waits that end well.
  idleTimeoutMs: 60_000,
  capabilities(model) {
    // Llama models do not reason, so a positive thinking_budget is refused before the stream.
    return {
      reasoning: false,
      tools: supportsTools(model),
      reportsUsage: true,
      maxOutputTokens: togetherContextWindow(model),
    };
  },
  buildRequest(request, model, settings) {
    // Together reads the classic `max_tokens` and has no `reasoning_effort`.
    return buildOpenAiCompatibleRequest(request, model, settings, {
      maxTokensField: 'max_tokens',
      reasoningEffort: false,
    });
  },
  createCodec: createTogetherCodec,
  mapHttpError(status, bodyText, headers) {
    return mapOpenAiHttpError('Together', status, bodyText, headers);
  },
};
