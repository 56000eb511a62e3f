import type { ProviderDefinition } from '../types.js';
import { createChunkReader } from './chunk-reader.js';
import { createOpenAiCodec } from './codec.js';
import { mapOpenAiHttpError } from './errors.js';
import { openAiOutputLimit } from './models.js';
import { buildOpenAiCompatibleRequest, isOpenAiReasoningModel } from './request.js';

export const openai: ProviderDefinition = {
  id: 'openai',
  displayName: 'OpenAI',
  defaultModel: 'gpt-4o-mini',
  suggestedModels: [
    'gpt-4o-mini',
    'gpt-4o',
    'gpt-4.1',
    'gpt-4.1-mini',
    'gpt-4.1-nano',
    'o4-mini',
    'gpt-5-mini',
  ],
  framing: 'sse',
  continuation: 'instruction',
  apiKeyEnv: ['OPENAI_API_KEY'],
  baseUrlEnv: 'OPENAI_BASE_URL',
  defaultBaseUrl: 'https://api.openai.com/v1',
  capabilities(model) {
    // Chat Completions never streams OpenAI's reasoning text; reasoning models take an effort.
    return {
      reasoning: isOpenAiReasoningModel(model),
      tools: true,
      reportsUsage: true,
      maxOutputTokens: openAiOutputLimit(model),
    };
  },
  validate(request, model) {
    if (isOpenAiReasoningModel(model) && request.temperature !== undefined && request.temperature !== 1) {
      return {
        code: 'invalid_request',
        field: 'temperature',
        message: `OpenAI reasoning model ${model} only accepts the default temperature (1)`,
      };
    }
    return undefined;
  },
  buildRequest(request, model, settings) {
    return buildOpenAiCompatibleRequest(request, model, settings, {
      maxTokensField: 'max_completion_tokens',
      reasoningEffort: true,
    });
  },
  createCodec() {
    return createOpenAiCodec('OpenAI');
  },
  createJsonReader: createChunkReader,
  mapHttpError(status, bodyText, headers) {
    return mapOpenAiHttpError('OpenAI', status, bodyText, headers);
  },
};
