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
 * Parses `--name value`, `--name=value`, flags, and positionals (`-` is a positional: stdin).
 * `--` ends the options. Unknown options and missing values are usage errors.
 */
export function parseArgs(argv: readonly string[], spec: OptionSpec): ParsedArgs {
  const options = new Map<string, string | true>();
  const positionals: string[] = [];
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index] ?? '';
    if (arg === '--') {
      positionals.push(...argv.slice(index + 1));
      break;
    }
    if (!arg.startsWith('--')) {
      if (arg.startsWith('-') && arg !== '-' && !/^-\d/.test(arg))
        throw new UsageError(`unknown option "${arg}"`);
      positionals.push(arg);
      continue;
    }
    const equals = arg.indexOf('=');
    const name = arg.slice(2, equals === -1 ? undefined : equals);
    const kind = spec[name];
    if (kind === undefined) throw new UsageError(`unknown option "--${name}"`);
    if (kind === 'boolean') {
      if (equals !== -1) throw new UsageError(`--${name} takes no value`);
      options.set(name, true);
      continue;
    }
    const value = equals === -1 ? argv[++index] : arg.slice(equals + 1);
    // A value that looks like another option is a forgotten value, not a model named "--json".
    if (value === undefined || (equals === -1 && value.startsWith('--'))) {
      throw new UsageError(`--${name} needs a value`);
    }
    options.set(name, value);
  }
  return { options, positionals };
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
