import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { PROVIDERS } from './providers/registry.js';

/**
 * The configuration file (`sluice serve --config sluice.json`): what environment variables
 * express badly, namely keys with limits of their own, model aliases and default fallbacks.
 * Checked with zod when the gateway starts; every mistake is named by its path in the file.
 * Environment variables still work and win over the file (config.ts).
 *
 * ```json
 * {
 *   "keys": ["sk-gw-plain", {"key": "sk-gw-team-a", "name": "team-a",
 *            "limits": {"rate": "10/s", "max_streams": 4, "tokens_per_min": 200000}}],
 *   "limits": {"rate": "60/min", "max_streams": 8, "tokens_per_min": 100000},
 *   "aliases": {"fast": {"provider": "openai", "model": "gpt-4o-mini"}},
 *   "fallbacks": [{"provider": "anthropic", "model": "claude-sonnet-4-5"}]
 * }
 * ```
 */

/** A request budget: `points` requests per `seconds`. */
export interface RateWindow {
  points: number;
  seconds: number;
  /** As written (`60/min`), for messages. */
  text: string;
}

/** Limits of one key, each overriding the gateway-wide one (SLUICE_RATE_LIMIT, ...). */
export interface KeyLimits {
  rate?: RateWindow | undefined;
  max_streams?: number | undefined;
  tokens_per_min?: number | undefined;
}

/** A provider and, optionally, its model. */
export interface ModelTarget {
  provider: string;
  model?: string | undefined;
}

const RATE = /^\s*(\d{1,12})\s*\/\s*(s|min|h)\s*$/;

const rate = z
  .string()
  .regex(RATE, 'must be N/s, N/min or N/h')
  .transform((text, context): RateWindow => {
    const match = RATE.exec(text);
    const points = Number(match?.[1]);
    if (points < 1) {
      context.addIssue({ code: 'custom', message: 'must allow at least 1 request' });
      return z.NEVER;
    }
    const unit = match?.[2] ?? 's';
    return { points, seconds: unit === 's' ? 1 : unit === 'min' ? 60 : 3600, text: `${points}/${unit}` };
  });

const limits = z.strictObject({
  rate: rate.optional(),
  max_streams: z.int().min(1).optional(),
  tokens_per_min: z.int().min(1).optional(),
});

/** Visible ASCII without commas: a key must also be writable in SLUICE_API_KEYS. */
const keyText = z
  .string()
  .regex(/^[\x21-\x2b\x2d-\x7e]{1,512}$/, 'must be 1 to 512 visible ASCII characters, no spaces or commas');

const key = z.union([
  keyText.transform((text) => ({ key: text, name: undefined, limits: undefined })),
  z.strictObject({
    key: keyText,
    name: z
      .string()
      .regex(/^[A-Za-z0-9._:-]{1,64}$/, 'must be 1 to 64 of A-Z a-z 0-9 . _ : -')
      .optional(),
    limits: limits.optional(),
  }),
]);

const providerIds = PROVIDERS.map((provider) => provider.id);

const target = z
  .strictObject({
    provider: z.string(),
    model: z.string().min(1).max(256).optional(),
  })
  .superRefine((value, context) => {
    const provider = PROVIDERS.find((entry) => entry.id === value.provider);
    if (provider === undefined) {
      context.addIssue({
        code: 'custom',
        path: ['provider'],
        message: `unknown provider "${value.provider}"; expected one of ${providerIds.join(', ')}`,
      });
      return;
    }
    if (
      value.model !== undefined &&
      provider.models !== undefined &&
      !provider.models.includes(value.model)
    ) {
      context.addIssue({
        code: 'custom',
        path: ['model'],
        message: `${provider.displayName} does not serve "${value.model}"; expected one of ${provider.models.join(', ')}`,
      });
    }
  });

const configSchema = z
  .strictObject({
    keys: z.array(key).optional(),
    limits: limits.optional(),
    aliases: z
      .record(
        z.string().regex(/^[A-Za-z0-9._:/-]{1,128}$/, 'an alias is 1 to 128 of A-Z a-z 0-9 . _ : / -'),
        target.refine((value) => value.model !== undefined, {
          message: 'an alias needs a model',
          path: ['model'],
        }),
      )
      .optional(),
    fallbacks: z.array(target).max(4).optional(),
  })
  .superRefine((value, context) => {
    const seenKeys = new Map<string, number>();
    const seenNames = new Map<string, number>();
    (value.keys ?? []).forEach((entry, index) => {
      if (seenKeys.has(entry.key)) {
        context.addIssue({
          code: 'custom',
          path: ['keys', index],
          message: `repeats keys[${seenKeys.get(entry.key)}]`,
        });
      }
      seenKeys.set(entry.key, index);
      if (entry.name !== undefined) {
        if (seenNames.has(entry.name)) {
          context.addIssue({
            code: 'custom',
            path: ['keys', index, 'name'],
            message: `repeats the name of keys[${seenNames.get(entry.name)}]`,
          });
        }
        seenNames.set(entry.name, index);
      }
    });
  });

export type ConfigFile = z.output<typeof configSchema>;

/** `keys[0].limits.rate`, `aliases["fast"].model`, or `(top level)`. */
function pathText(path: readonly PropertyKey[]): string {
  let text = '';
  for (const part of path) {
    if (typeof part === 'number') text += `[${part}]`;
    else if (typeof part === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(part))
      text += text ? `.${part}` : part;
    else text += `[${JSON.stringify(String(part))}]`;
  }
  return text || '(top level)';
}

/** Validates a parsed configuration; throws one Error listing every mistake with its path. */
export function parseConfig(value: unknown, source = 'the configuration'): ConfigFile {
  const result = configSchema.safeParse(value);
  if (result.success) return result.data;
  const mistakes = result.error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => `${pathText([...issue.path, key])}: unknown field`)
      : [`${pathText(issue.path)}: ${issue.message}`],
  );
  throw new Error(`${source} is not valid: ${mistakes.join('; ')}`);
}

/** Reads and validates a JSON configuration file. */
export function loadConfigFile(path: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(`cannot read the configuration file ${path}${code ? ` (${code})` : ''}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`${path} is not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  return parseConfig(value, path);
}
