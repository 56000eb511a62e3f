import { parseArgs as parseNodeArgs } from 'node:util';

/** A mistake in the command line: reported with the command's usage and exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The options a command accepts: `string` ones take a value, `boolean` ones are flags. */
export type OptionSpec = Record<string, 'string' | 'boolean'>;

export interface ParsedArgs {
  options: Map<string, string | true>;
  positionals: string[];
}

/**
 * The one argument parser of the CLI and the benchmark, on node:util's `parseArgs`: `--name
 * value`, `--name=value`, flags, and positionals (`-` is a positional: stdin). `--` ends the
 * options. Unknown options, missing values and values given to flags are usage errors; the
 * last of a repeated option wins.
 */
export function parseArgs(argv: readonly string[], spec: OptionSpec): ParsedArgs {
  // Not strict: its errors name no command and would refuse `-5`; the checks below are ours.
  const { tokens } = parseNodeArgs({
    args: [...argv],
    options: Object.fromEntries(Object.entries(spec).map(([name, type]) => [name, { type }])),
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const options = new Map<string, string | true>();
  const positionals: string[] = [];
  const shortGroups = new Set<number>();
  for (const token of tokens) {
    if (token.kind === 'option-terminator') continue;
    if (token.kind === 'positional') {
      positionals.push(token.value);
      continue;
    }
    if (!token.rawName.startsWith('--')) {
      // There are no short options; node splits `-12` into `-1 -2` (one token per letter, all
      // with the argument's index). A negative number is a positional (a prompt such as "-5").
      const raw = argv[token.index] ?? token.rawName;
      if (!/^-\d/.test(raw)) throw new UsageError(`unknown option "${raw}"`);
      if (!shortGroups.has(token.index)) positionals.push(raw);
      shortGroups.add(token.index);
      continue;
    }
    const kind = spec[token.name];
    if (kind === undefined) throw new UsageError(`unknown option "--${token.name}"`);
    if (kind === 'boolean') {
      if (token.value !== undefined) throw new UsageError(`--${token.name} takes no value`);
      options.set(token.name, true);
      continue;
    }
    // node takes whatever follows as the value. One that looks like another option is a forgotten
    // value, not a model named "--json"; `--model=--json` says it is meant.
    if (token.value === undefined || (!token.inlineValue && token.value.startsWith('--'))) {
      throw new UsageError(`--${token.name} needs a value`);
    }
    options.set(token.name, token.value);
  }
  return { options, positionals };
}

/** Whether `--help` or `-h` comes before any `--` (after it, it is text such as a prompt). */
export function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  const options = end === -1 ? argv : argv.slice(0, end);
  return options.includes('--help') || options.includes('-h');
}

/**
 * Options of a command that takes no positional arguments: undefined when help was asked for (the
 * caller prints its own), else the parsed options; a positional argument is refused.
 */
export function parseOptionsOnly(argv: readonly string[], spec: OptionSpec): ParsedArgs | undefined {
  if (wantsHelp(argv)) return undefined;
  const args = parseArgs(argv, spec);
  if (args.positionals.length > 0) throw new UsageError(`unknown argument "${args.positionals[0]}"`);
  return args;
}

export function stringOption(args: ParsedArgs, name: string): string | undefined {
  const value = args.options.get(name);
  return typeof value === 'string' ? value : undefined;
}

export function flag(args: ParsedArgs, name: string): boolean {
  return args.options.get(name) === true;
}

/** A numeric option; `integer` and `min` are checked here, ranges the gateway knows are left to it. */
export function numberOption(
  args: ParsedArgs,
  name: string,
  rules: { integer?: boolean; min?: number } = {},
): number | undefined {
  const raw = stringOption(args, name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value))
    throw new UsageError(`--${name} must be a number, got "${raw}"`);
  if (rules.integer && !Number.isInteger(value))
    throw new UsageError(`--${name} must be an integer, got "${raw}"`);
  if (rules.min !== undefined && value < rules.min) {
    throw new UsageError(`--${name} must be at least ${rules.min}, got "${raw}"`);
  }
  return value;
}

/** A comma-separated list option, empty entries dropped. */
export function listOption(args: ParsedArgs, name: string): string[] | undefined {
  const raw = stringOption(args, name);
  if (raw === undefined) return undefined;
  const items = raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  if (items.length === 0) throw new UsageError(`--${name} needs at least one value`);
  return items;
}

/** A TCP port (0 to 65535; 0 picks a free one), or `fallback` when the option is absent. */
export function portOption(args: ParsedArgs, name: string, fallback: number): number {
  const raw = stringOption(args, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 65535) throw new UsageError(`invalid port "${raw}"`);
  return value;
}
