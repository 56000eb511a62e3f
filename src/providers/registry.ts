import { RequestError } from '../core/errors.js';
import type { ChatRequest } from '../protocol/request.js';
import { anthropic } from './anthropic/index.js';
import { gemini } from './gemini/index.js';
import { local } from './local/index.js';
import { ollama } from './ollama/index.js';
import { openai } from './openai/index.js';
import { together } from './together/index.js';
import type { ModelCapabilities, ProviderDefinition } from './types.js';

/** Every provider Sluice speaks. Adding one is its folder plus one line here. */
export const PROVIDERS: readonly ProviderDefinition[] = [openai, anthropic, gemini, together, ollama, local];

/** The providers reached over HTTP: every one the emulators speak (all but those that run in process). */
export const HTTP_PROVIDERS: readonly ProviderDefinition[] = PROVIDERS.filter(
  (provider) => provider.openUpstream === undefined,
);

const byId = new Map(PROVIDERS.map((provider) => [provider.id, provider]));

export function findProvider(id: string): ProviderDefinition | undefined {
  return byId.get(id);
}

interface ResolvedRequest {
  provider: ProviderDefinition;
  model: string;
  capabilities: ModelCapabilities;
}

/**
 * Checks a request against the provider's registry entry (known provider, accepted model,
 * capabilities, provider rules) so that everything refusable is refused before a stream starts.
 * `definitionOf` is how the gateway sees each provider (an in-process one's models are its own
 * configuration); the registry's entries by default.
 */
export function resolveRequest(
  request: ChatRequest,
  definitionOf: (id: string) => ProviderDefinition | undefined = findProvider,
): ResolvedRequest {
  const provider = definitionOf(request.provider);
  if (provider === undefined) {
    throw new RequestError(
      'unknown_provider',
      `unknown provider "${request.provider}"; expected one of ${PROVIDERS.map((entry) => entry.id).join(', ')}`,
      'provider',
    );
  }
  const model = request.model ?? provider.defaultModel;
  if (provider.models !== undefined && !provider.models.includes(model)) {
    throw new RequestError(
      'model_not_supported',
      `${provider.displayName} model "${model}" is not supported; supported models: ${provider.models.join(', ')}`,
      'model',
    );
  }
  const capabilities = provider.capabilities(model);
  const limit = capabilities.maxOutputTokens;
  if (limit !== undefined && request.max_tokens !== undefined && request.max_tokens > limit) {
    throw new RequestError(
      'invalid_request',
      `${provider.displayName} model "${model}" writes at most ${limit} output tokens; max_tokens must be at most ${limit} (got ${request.max_tokens})`,
      'max_tokens',
    );
  }
  if (request.thinking_budget !== undefined && request.thinking_budget > 0 && !capabilities.reasoning) {
    throw new RequestError(
      'thinking_not_supported',
      `${provider.displayName} model "${model}" cannot reason; use thinking_budget null or 0`,
      'thinking_budget',
    );
  }
  if (request.tools?.length && !capabilities.tools) {
    throw new RequestError(
      'invalid_request',
      `${provider.displayName} model "${model}" does not support tools`,
      'tools',
    );
  }
  const issue = provider.validate?.(request, model);
  if (issue !== undefined) throw new RequestError(issue.code, issue.message, issue.field);
  return { provider, model, capabilities };
}
