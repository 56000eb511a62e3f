import type { HealthBody } from '../../protocol/http.js';

/**
 * Model names on the OpenAI-compatible API (CONTRACT.md section 9): `"<provider>/<model>"`,
 * `"<provider>"` alone for its default model, or a bare model name.
 */

/** What the face knows of one provider: read from the gateway's health, never from provider code. */
export interface CatalogProvider {
  id: string;
  defaultModel: string | undefined;
  /** The models it lists (the accepted ones, or the suggested ones when it accepts any). */
  models: readonly string[];
  /** A key is configured (or none is needed). */
  configured: boolean;
}

export type ModelCatalog = readonly CatalogProvider[];

export function catalogOf(health: HealthBody): ModelCatalog {
  return Object.entries(health.providers).map(([id, provider]) => ({
    id,
    defaultModel: provider.default_model,
    models: provider.models ?? [],
    configured: provider.configured,
  }));
}

/** A provider and model; `model` undefined means the provider's default. */
export interface ModelChoice {
  provider: string;
  model: string | undefined;
}

/**
 * The provider and model a name means, or undefined when it names none (404 `model_not_found`).
 *
 * - `"<provider>/<rest>"`: the provider is the part before the first `/`; the rest, which may
 *   hold `/` itself, is the model (`together/meta-llama/Llama-4-...`).
 * - `"<provider>"`: its default model.
 * - a bare name that a provider lists (`claude-sonnet-4-5`, `meta-llama/Llama-4-...`): that
 *   provider, the first in the registry's order when several list it.
 * - any other bare name without `/`: an OpenAI model (`gpt-4o`, `o3`), as the contract says.
 * - any other name with `/` (`acme/model`): no model.
 */
export function resolveModelName(name: string, catalog: ModelCatalog): ModelChoice | undefined {
  const slash = name.indexOf('/');
  if (slash > 0) {
    const provider = catalog.find((entry) => entry.id === name.slice(0, slash));
    const model = name.slice(slash + 1);
    if (provider !== undefined) return model.length > 0 ? { provider: provider.id, model } : undefined;
  }
  const named = catalog.find((entry) => entry.id === name);
  if (named !== undefined) return { provider: named.id, model: undefined };
  const lister = catalog.find((entry) => entry.models.includes(name));
  if (lister !== undefined) return { provider: lister.id, model: name };
  if (slash >= 0 || name.length === 0) return undefined;
  return catalog.some((entry) => entry.id === 'openai') ? { provider: 'openai', model: name } : undefined;
}

/** The name a response reports: `"<provider>/<model>"`, the same for every connection to a generation. */
export function qualifiedModelName(provider: string, model: string): string {
  return `${provider}/${model}`;
}

/** One entry of `GET /v1/models`. */
export interface ModelObject {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
}

/** Every configured provider's models, default first (`GET /v1/models`). */
export function modelObjects(catalog: ModelCatalog, created: number): ModelObject[] {
  const objects: ModelObject[] = [];
  for (const provider of catalog) {
    if (!provider.configured) continue;
    const models = new Set(provider.defaultModel === undefined ? [] : [provider.defaultModel]);
    for (const model of provider.models) models.add(model);
    for (const model of models) {
      objects.push({
        id: qualifiedModelName(provider.id, model),
        object: 'model',
        created,
        owned_by: provider.id,
      });
    }
  }
  return objects;
}
