import { DEFAULT_IDLE_TIMEOUT_MS, type Settings } from '../config.js';
import { RequestError } from '../core/errors.js';
import type { RunTarget } from '../generation/run.js';
import type { ChatRequest } from '../protocol/request.js';
import { resolveRequest } from '../providers/registry.js';
import { definitionIn, type ProviderRuntime } from './service.js';

/** Who may serve a request: the provider it names, then its `fallbacks`, each checked up front. */
export interface ResolvedTargets {
  primary: RunTarget;
  /** The primary is served by the built-in emulator. */
  emulated: boolean;
  fallbacks: RunTarget[];
}

function targetOf(
  provider: RunTarget['provider'],
  model: string,
  runtime: ProviderRuntime,
  settings: Settings,
): RunTarget {
  return {
    provider,
    model,
    providerSettings: runtime.settings,
    idleTimeoutMs: settings.idleTimeoutMs ?? provider.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    retryBaseMs: settings.retryBaseMs ?? provider.retryBaseMs ?? 1000,
  };
}

/**
 * Everything refusable is refused before the stream: the request against its provider, then
 * each fallback as if the request had named it (known provider, accepted model, capabilities
 * the request needs, provider rules, a configured key). A fallback that could never serve the
 * request is a 400 naming `fallbacks.<n>`, even where the same fault in the request itself has
 * another status (no key: 401), since it is the request that is wrong, not the caller's access.
 */
export function resolveTargets(
  chat: ChatRequest,
  providers: ReadonlyMap<string, ProviderRuntime>,
  settings: Settings,
): ResolvedTargets {
  const definitionOf = definitionIn(providers);
  const { provider, model } = resolveRequest(chat, definitionOf);
  const runtime = providers.get(provider.id);
  if (runtime === undefined || !runtime.configured) {
    throw new RequestError(
      'provider_auth',
      `no API key is configured for ${provider.displayName} (set ${provider.apiKeyEnv.join(' or ')})`,
      'provider',
    );
  }
  const fallbacks = chat.fallbacks.map((entry, position): RunTarget => {
    const prefix = `fallbacks.${position}`;
    let resolved: ReturnType<typeof resolveRequest>;
    try {
      resolved = resolveRequest({ ...chat, provider: entry.provider, model: entry.model }, definitionOf);
    } catch (error) {
      if (!(error instanceof RequestError)) throw error;
      const code = error.code === 'provider_auth' ? 'invalid_request' : error.code;
      // The entry's own fields are named; a rule about the rest of the request names the entry.
      const own = error.field === 'provider' || error.field === 'model';
      const field = own ? `${prefix}.${error.field}` : prefix;
      throw new RequestError(code, `${prefix}: ${error.message}`, field);
    }
    const fallbackRuntime = providers.get(resolved.provider.id);
    if (fallbackRuntime === undefined || !fallbackRuntime.configured) {
      throw new RequestError(
        'invalid_request',
        `${prefix}: no API key is configured for ${resolved.provider.displayName} (set ${resolved.provider.apiKeyEnv.join(' or ')}), so it could never serve this request`,
        `${prefix}.provider`,
      );
    }
    return targetOf(resolved.provider, resolved.model, fallbackRuntime, settings);
  });
  return { primary: targetOf(provider, model, runtime, settings), emulated: runtime.emulated, fallbacks };
}
