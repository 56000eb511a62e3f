import { isNonArrayObject, type JsonObject } from '../core/json.js';

/**
 * `done.reasoning_state` is `{provider, model, items}`: the `reasoning_state` parts a provider's
 * codec produced, tagged with who produced them. It comes back on assistant messages, and only
 * the provider that wrote it reads it: another provider's state (a conversation that changed
 * provider, a fallback) is ignored, since no provider accepts another's signatures.
 */
export function reasoningItems(state: unknown, providerId: string): JsonObject[] {
  if (!isNonArrayObject(state) || state.provider !== providerId || !Array.isArray(state.items)) return [];
  return state.items.filter(isNonArrayObject);
}
