import type { ProviderDefinition } from '../types.js';
import { createAnthropicCodec } from './codec.js';
import { mapAnthropicHttpError } from './errors.js';
import { anthropicOutputLimit } from './models.js';
import { buildAnthropicRequest, isAnthropicReasoningModel, validateAnthropicRequest } from './request.js';

/** Anthropic's Messages API, streamed (`POST {ANTHROPIC_BASE_URL}/v1/messages`). */
export const anthropic: ProviderDefinition = {
  id: 'anthropic',
  displayName: 'Anthropic',
  defaultModel: 'claude-sonnet-4-5',
  suggestedModels: ['claude-sonnet-4-5', 'claude-haiku-4-5', 'claude-opus-4-1', 'claude-3-7-sonnet-latest'],
  framing: 'sse',
  // A final assistant turn is continued as it stands (docs.anthropic.com, "Prefill Claude's response").
  continuation: 'prefill',
  apiKeyEnv: ['ANTHROPIC_API_KEY'],
  baseUrlEnv: 'ANTHROPIC_BASE_URL',
  defaultBaseUrl: 'https://api.anthropic.com',
  // Anthropic's 529s come in waves; a longer first wait rides them out (CONTRACT.md section 5).
  retryBaseMs: 2000,
  capabilities(model) {
    return {
      reasoning: isAnthropicReasoningModel(model),
      tools: true,
      reportsUsage: true,
      maxOutputTokens: anthropicOutputLimit(model),
    };
  },
  validate(request, model) {
    return validateAnthropicRequest(request, model);
  },
  buildRequest(request, model, settings) {
    return buildAnthropicRequest(request, model, settings);
  },
  createCodec() {
    return createAnthropicCodec();
  },
  mapHttpError(status, bodyText, headers) {
    return mapAnthropicHttpError(status, bodyText, headers);
  },
};
