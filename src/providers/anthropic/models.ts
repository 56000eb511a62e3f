/**
 * The most output tokens (`max_tokens`, reasoning included) each Claude model writes, from the
 * "Max output" row of Anthropic's models overview (docs.anthropic.com/en/docs/about-claude/models),
 * for the aliases and the dated ids they point at. Claude 3.7 Sonnet writes 128k only with the
 * `output-128k-2025-02-19` beta header, which Sluice does not send. Other names are not guessed
 * at. Past the limit Anthropic answers 400 "max_tokens: N > M, which is the maximum allowed
 * number of output tokens for <model>".
 */
const OUTPUT_LIMITS: Readonly<Record<string, number>> = {
  'claude-opus-4-5': 64_000,
  'claude-opus-4-5-20251101': 64_000,
  'claude-sonnet-4-5': 64_000,
  'claude-sonnet-4-5-20250929': 64_000,
  'claude-haiku-4-5': 64_000,
  'claude-haiku-4-5-20251001': 64_000,
  'claude-opus-4-1': 32_000,
  'claude-opus-4-1-20250805': 32_000,
  'claude-opus-4-0': 32_000,
  'claude-opus-4-20250514': 32_000,
  'claude-sonnet-4-0': 64_000,
  'claude-sonnet-4-20250514': 64_000,
  'claude-3-7-sonnet-latest': 64_000,
  'claude-3-7-sonnet-20250219': 64_000,
  'claude-3-5-sonnet-latest': 8192,
  'claude-3-5-sonnet-20241022': 8192,
  'claude-3-5-sonnet-20240620': 8192,
  'claude-3-5-haiku-latest': 8192,
  'claude-3-5-haiku-20241022': 8192,
  'claude-3-opus-latest': 4096,
  'claude-3-opus-20240229': 4096,
  'claude-3-haiku-20240307': 4096,
};

export function anthropicOutputLimit(model: string): number | undefined {
  return Object.hasOwn(OUTPUT_LIMITS, model) ? OUTPUT_LIMITS[model] : undefined;
}
