import type { ProviderDefinition } from '../types.js';
import { createGeminiCodec } from './codec.js';
import { mapGeminiHttpError } from './errors.js';
import { checkThinkingBudget, geminiModelTraits, geminiOutputLimit } from './models.js';
import { buildGeminiRequest, checkGeminiMessages } from './request.js';

/** Google Gemini through the Generative Language API (`v1beta`, `streamGenerateContent?alt=sse`). */
export const gemini: ProviderDefinition = {
  id: 'gemini',
  displayName: 'Gemini',
  defaultModel: 'gemini-2.5-flash',
  suggestedModels: ['gemini-2.5-flash', 'gemini-2.5-pro', 'gemini-2.5-flash-lite', 'gemini-2.0-flash'],
  framing: 'sse',
  continuation: 'instruction',
  apiKeyEnv: ['GEMINI_API_KEY', 'GOOGLE_API_KEY'],
  baseUrlEnv: 'GEMINI_BASE_URL',
  defaultBaseUrl: 'https://generativelanguage.googleapis.com',
  capabilities(model) {
    return {
      reasoning: geminiModelTraits(model).reasoning,
      tools: true,
      reportsUsage: true,
      maxOutputTokens: geminiOutputLimit(model),
    };
  },
  validate(request, model) {
    return checkThinkingBudget(request, model) ?? checkGeminiMessages(request.messages);
  },
  buildRequest: buildGeminiRequest,
  createCodec: createGeminiCodec,
  mapHttpError: mapGeminiHttpError,
};
