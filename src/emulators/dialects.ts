import { createAnthropicDialect } from '../providers/anthropic/emulator.js';
import { createGeminiDialect } from '../providers/gemini/emulator.js';
import { createOllamaDialect } from '../providers/ollama/emulator.js';
import { createOpenAiDialect } from '../providers/openai/emulator.js';
import { createTogetherDialect } from '../providers/together/emulator.js';
import type { EmulatorDialect } from './types.js';

/**
 * Every provider's emulator dialect, by provider id, in the registry's order. A dialect lives in
 * its provider's folder (it is that provider's wire knowledge) but is registered here, not on the
 * provider, so the gateway's request path never loads one: only the emulator server, demo mode,
 * `sluice emulate`, the benchmark and tests do. Adding a provider is its folder, one line in the
 * provider registry and one line here.
 */
export const EMULATOR_DIALECTS: ReadonlyMap<string, () => EmulatorDialect> = new Map<
  string,
  () => EmulatorDialect
>([
  ['openai', createOpenAiDialect],
  ['anthropic', createAnthropicDialect],
  ['gemini', () => createGeminiDialect()],
  ['together', createTogetherDialect],
  ['ollama', createOllamaDialect],
]);

/** A fresh dialect for every provider: what demo mode, `sluice emulate` and the benchmark serve. */
export function allDialects(): EmulatorDialect[] {
  return [...EMULATOR_DIALECTS.values()].map((create) => create());
}

/** A fresh dialect for one provider. */
export function dialectFor(providerId: string): EmulatorDialect {
  const create = EMULATOR_DIALECTS.get(providerId);
  if (create === undefined) throw new Error(`no emulator dialect for provider "${providerId}"`);
  return create();
}
