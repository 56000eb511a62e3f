import type { ProviderDefinition } from '../types.js';
import { createOllamaCodec } from './codec.js';
import { mapOllamaHttpError } from './errors.js';
import { buildOllamaRequest, ollamaCanThink } from './request.js';

export const ollama: ProviderDefinition = {
  id: 'ollama',
  displayName: 'Ollama',
  defaultModel: 'llama3.2',
  // Whatever the local server has pulled is accepted, so there is no `models` whitelist.
  suggestedModels: ['llama3.2', 'qwen3', 'gpt-oss:20b', 'deepseek-r1'],
  framing: 'ndjson',
  // /api/chat continues a final assistant message instead of starting a new one (ollama/ollama#6778).
  continuation: 'prefill',
  apiKeyEnv: [],
  baseUrlEnv: 'OLLAMA_BASE_URL',
  defaultBaseUrl: 'http://127.0.0.1:11434',
  // Ollama's server is Go's net/http without h2c: a prior-knowledge HTTP/2 preface is refused.
  http1Only: true,
  capabilities(model) {
    // Tools are accepted for every model; one without tool support is refused by Ollama with a 400.
    // Whatever model the server has pulled: its limits are not known here.
    return { reasoning: ollamaCanThink(model), tools: true, reportsUsage: true, maxOutputTokens: undefined };
  },
  buildRequest(request, model, settings) {
    return buildOllamaRequest(request, model, settings);
  },
  createCodec: createOllamaCodec,
  mapHttpError: mapOllamaHttpError,
  describeConnectionFailure() {
    // The address stays in the operator's configuration: error frames never name internal hosts.
    return 'Could not connect to Ollama: is Ollama running where OLLAMA_BASE_URL points? Start it with "ollama serve" or set OLLAMA_BASE_URL.';
  },
};
