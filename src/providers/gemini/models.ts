import type { ChatRequest } from '../../protocol/request.js';
import type { ProviderIssue } from '../types.js';

/**
 * What the model name says about a Gemini model. Google names its models
 * `gemini-<generation>-<tier>[-suffix]` (gemini-2.5-flash, gemini-3-pro-preview, ...), plus the
 * moving aliases `gemini-flash-latest`, `gemini-flash-lite-latest` and `gemini-pro-latest`.
 */
interface GeminiModelTraits {
  /** 2.5 and later (and the `-latest` aliases, which point at them): thinking models. */
  reasoning: boolean;
  /** 2.5, 3, 3.1, ...; undefined for aliases and names we cannot read. */
  generation: number | undefined;
  tier: 'pro' | 'flash' | 'flash-lite' | 'other';
}

/** The model id as it goes in the URL path: callers sometimes copy the API's `models/` prefix. */
export function geminiModelId(model: string): string {
  return model.startsWith('models/') ? model.slice('models/'.length) : model;
}

export function geminiModelTraits(model: string): GeminiModelTraits {
  const id = geminiModelId(model).toLowerCase();
  const alias = /^gemini-(pro|flash-lite|flash)-latest$/.exec(id);
  if (alias) return { reasoning: true, generation: undefined, tier: tierOf(alias[1]) };
  const versioned = /^gemini-(\d+(?:\.\d+)?)-(pro|flash-lite|flash)?/.exec(id);
  if (!versioned) return { reasoning: false, generation: undefined, tier: 'other' };
  const generation = Number(versioned[1]);
  return { reasoning: generation >= 2.5, generation, tier: tierOf(versioned[2]) };
}

function tierOf(word: string | undefined): GeminiModelTraits['tier'] {
  return word === 'pro' || word === 'flash' || word === 'flash-lite' ? word : 'other';
}

/**
 * Gemini 3 rejects a replayed `functionCall` part without the `thoughtSignature` it was sent
 * with (HTTP 400 "Function call is missing a thought_signature"). A call goes back with its own
 * signature when its assistant message carries the turn's `reasoning_state`; without one, with
 * Google's documented bypass value (ai.google.dev/gemini-api/docs/thought-signatures;
 * vercel/ai#15560 does the same).
 */
export function needsThoughtSignature(model: string): boolean {
  const { generation } = geminiModelTraits(model);
  return generation !== undefined && generation >= 3;
}

/**
 * The documented `thinkingBudget` ranges (ai.google.dev/gemini-api/docs/thinking, "Set budget"):
 * 2.5 Pro 128..32768 and thinking cannot be turned off (Gemini 3 Pro cannot turn it off either);
 * 2.5 Flash 0..24576; 2.5 Flash-Lite 512..24576 or 0. Caps for other generations follow their tier.
 */
function budgetRule(model: string): { min: number; max: number; canDisable: boolean; label: string } {
  const traits = geminiModelTraits(model);
  const label = `Gemini ${geminiModelId(model)}`;
  const is25 = traits.generation === 2.5;
  switch (traits.tier) {
    case 'pro':
      return { min: is25 ? 128 : 1, max: 32_768, canDisable: false, label };
    case 'flash':
      return { min: 1, max: 24_576, canDisable: true, label };
    case 'flash-lite':
      return { min: is25 ? 512 : 1, max: 24_576, canDisable: true, label };
    case 'other':
      return { min: 1, max: 32_768, canDisable: true, label };
    default: {
      const exhaustive: never = traits.tier;
      throw new Error(`unknown tier ${String(exhaustive)}`);
    }
  }
}

/** Refuses a `thinking_budget` the model's documented range does not allow. */
export function checkThinkingBudget(request: ChatRequest, model: string): ProviderIssue | undefined {
  const budget = request.thinking_budget;
  if (budget === undefined || !geminiModelTraits(model).reasoning) return undefined;
  const rule = budgetRule(model);
  const range = `${rule.canDisable ? '0 (off) or ' : ''}between ${rule.min} and ${rule.max}`;
  if (budget === 0 && !rule.canDisable) {
    return {
      code: 'invalid_request',
      field: 'thinking_budget',
      message: `${rule.label} cannot turn thinking off; thinking_budget must be null or ${range}`,
    };
  }
  if (budget !== 0 && (budget < rule.min || budget > rule.max)) {
    return {
      code: 'invalid_request',
      field: 'thinking_budget',
      message: `${rule.label} accepts a thinking_budget of null, ${range} (got ${budget})`,
    };
  }
  return undefined;
}

/**
 * The most output tokens (`maxOutputTokens`) each Gemini model writes: the "Output token limit"
 * of ai.google.dev/gemini-api/docs/models (and `outputTokenLimit` in the API's model list). Exact
 * names only (with or without `models/`); aliases that move (`gemini-flash-latest`) and other
 * models are not guessed at. Past it Gemini answers 400 INVALID_ARGUMENT "Unable to submit
 * request because it has a maxOutputTokens value of N but the supported range is from 1
 * (inclusive) to M+1 (exclusive)".
 */
const OUTPUT_LIMITS: Readonly<Record<string, number>> = {
  'gemini-3-pro-preview': 65_536,
  'gemini-2.5-pro': 65_536,
  'gemini-2.5-flash': 65_536,
  'gemini-2.5-flash-lite': 65_536,
  'gemini-2.0-flash': 8192,
  'gemini-2.0-flash-001': 8192,
  'gemini-2.0-flash-lite': 8192,
  'gemini-2.0-flash-lite-001': 8192,
};

export function geminiOutputLimit(model: string): number | undefined {
  const id = geminiModelId(model);
  return Object.hasOwn(OUTPUT_LIMITS, id) ? OUTPUT_LIMITS[id] : undefined;
}
