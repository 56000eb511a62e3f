import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { writeTinyModel } from '../providers/local/tiny-model.js';
import { flag, type OptionSpec, parseArgs, UsageError } from './args.js';

const SPEC: OptionSpec = { force: 'boolean' };

/** `sluice tiny-model <path.gguf>`: writes the local provider's small random model. */
export async function tinyModel(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv, SPEC);
  const [target, extra] = args.positionals;
  if (target === undefined) throw new UsageError('tiny-model needs the path of the .gguf file to write');
  if (extra !== undefined) throw new UsageError(`unknown argument "${extra}"`);
  if (!target.endsWith('.gguf')) throw new UsageError(`the path should end in .gguf, got "${target}"`);
  const path = resolve(target);
  if (existsSync(path) && !flag(args, 'force')) {
    throw new UsageError(`${target} exists; --force replaces it`);
  }
  try {
    await writeTinyModel(path);
  } catch (error) {
    process.stderr.write(
      `sluice: could not write ${target}: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    return 1;
  }
  process.stdout.write(
    `wrote ${path}\n  serve it: SLUICE_LOCAL_MODEL=${JSON.stringify(path)} npx sluice serve\n` +
      `  then ask for {"provider": "local", ...}; its answers are random noise, made by the real runtime\n`,
  );
  return 0;
}
