import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname } from 'node:path';
import { z } from 'zod';
import { PROVIDERS } from './providers/registry.js';

/**
 * The configuration file (`sluice serve --config sluice.yaml`, `.yml` or `.json`): what
 * environment variables express badly, namely keys with limits of their own, model aliases and
 * default fallbacks. Checked with zod when the gateway starts; every mistake is named by its path
 * in the file (and, in YAML, its line and column). Environment variables still work and win over
 * the file (config.ts).
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

/** Where a path of the configuration is written in its file (`line 4, column 12`), when known. */
type Locate = (path: readonly PropertyKey[]) => string | undefined;

/** Validates a parsed configuration; throws one Error listing every mistake with its path. */
export function parseConfig(value: unknown, source = 'the configuration', locate?: Locate): ConfigFile {
  const result = configSchema.safeParse(value);
  if (result.success) return result.data;
  const at = (path: readonly PropertyKey[]): string => {
    const where = locate?.(path);
    return where === undefined ? pathText(path) : `${pathText(path)} (${where})`;
  };
  const mistakes = result.error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => `${at([...issue.path, key])}: unknown field`)
      : [`${at(issue.path)}: ${issue.message}`],
  );
  throw new Error(`${source} is not valid: ${mistakes.join('; ')}`);
}

/** The formats a configuration file may be written in, by the extension of its name. */
const FORMATS: Record<string, 'json' | 'yaml'> = { '.json': 'json', '.yaml': 'yaml', '.yml': 'yaml' };

/**
 * Reads and validates a configuration file, JSON or YAML by the extension of its name (`.json`,
 * `.yaml`, `.yml`; any other is refused rather than guessed). A syntax error is reported with
 * the file, line and column.
 */
export function loadConfigFile(path: string): ConfigFile {
  const format = FORMATS[extname(path).toLowerCase()];
  if (format === undefined) {
    throw new Error(
      `cannot tell the format of the configuration file ${path}: its name must end in .json, .yaml or .yml`,
    );
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(`cannot read the configuration file ${path}${code ? ` (${code})` : ''}`);
  }
  return format === 'yaml' ? loadYaml(path, text) : loadJson(path, text);
}

/** 1-based line and column of a character offset. */
function lineAndColumn(text: string, offset: number): { line: number; col: number } {
  const before = text.slice(0, offset);
  const lineStart = before.lastIndexOf('\n') + 1;
  return { line: before.split('\n').length, col: offset - lineStart + 1 };
}

function loadJson(path: string, text: string): ConfigFile {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    // V8 quotes the text around the mistake (`Unexpected token 'x', "{"keys": ["sk-..." is not
    // valid JSON`), which may hold a key: the quote is left out, the offset kept as line and column.
    const message = (error instanceof Error ? error.message : String(error))
      .replace(/, (?:\.\.\.)?".* is not valid JSON$/s, '')
      .replace(/ \(line \d+ column \d+\)/, '');
    const offset = /at position (\d+)/.exec(message)?.[1];
    let place = path;
    if (offset !== undefined) {
      const { line, col } = lineAndColumn(text, Number(offset));
      place = `${path}:${line}:${col}`;
    }
    throw new Error(`${place}: not valid JSON: ${message.replace(/ in JSON at position \d+$/, '')}`);
  }
  return parseConfig(value, path);
}

type YamlModule = typeof import('yaml');
let yamlModule: YamlModule | undefined;

function loadYaml(path: string, text: string): ConfigFile {
  // Loaded only for a YAML file (about 20 ms): a JSON configuration or none does not pay for it.
  yamlModule ??= createRequire(import.meta.url)('yaml') as YamlModule;
  const { LineCounter, parseDocument } = yamlModule;
  const lines = new LineCounter();
  // YAML 1.2 (the default): `on`, `yes` and `no` stay strings; a repeated key, a second document
  // and an unknown tag are mistakes, and so is any warning: nothing in the file is ignored.
  const document = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const problem = document.errors[0] ?? document.warnings[0];
  if (problem !== undefined) {
    const { line, col } = lines.linePos(problem.pos[0]);
    throw new Error(`${path}:${line}:${col}: not valid YAML: ${problem.message.split('\n')[0]}`);
  }
  if (document.contents === null) throw new Error(`${path} holds no configuration (it is empty)`);
  let value: unknown;
  try {
    value = document.toJS();
  } catch (error) {
    // An alias that expands past the bound (a "billion laughs" file) is refused here.
    throw new Error(`${path}: not valid YAML: ${error instanceof Error ? error.message : String(error)}`);
  }
  const locate: Locate = (issuePath) => {
    // The deepest node of the path that the file holds: a missing field points at its parent.
    for (let depth = issuePath.length; depth >= 0; depth--) {
      const node = document.getIn(issuePath.slice(0, depth), true) as
        | { range?: [number, number, number] }
        | undefined;
      if (node?.range !== undefined) {
        const { line, col } = lines.linePos(node.range[0]);
        return `line ${line}, column ${col}`;
      }
    }
    return undefined;
  };
  return parseConfig(value, path, locate);
}
