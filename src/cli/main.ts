#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { wantsHelp } from './args.js';
import { BENCH_HELP, CHAT_HELP, EMULATE_HELP, MAIN_HELP, SERVE_HELP, TINY_MODEL_HELP } from './help.js';

interface Command {
  help: string;
  /** Resolves to the exit code, or `undefined` for a command that keeps running (a server). */
  run(args: string[]): Promise<number | undefined>;
}

// Commands load their code on demand: `sluice chat` never loads the gateway, and the reverse.
const COMMANDS: Record<string, Command> = {
  chat: { help: CHAT_HELP, run: async (args) => (await import('./chat.js')).chat(args) },
  bench: { help: BENCH_HELP, run: async (args) => (await import('./bench.js')).bench(args) },
  serve: {
    help: SERVE_HELP,
    run: async (args) => {
      await (await import('./serve.js')).serve(args);
      return undefined;
    },
  },
  start: {
    help: SERVE_HELP,
    run: async (args) => {
      await (await import('./serve.js')).serve(args, true);
      return undefined;
    },
  },
  'tiny-model': {
    help: TINY_MODEL_HELP,
    run: async (args) => (await import('./tiny-model.js')).tinyModel(args),
  },
  emulate: {
    help: EMULATE_HELP,
    run: async (args) => {
      await (await import('./emulate.js')).emulate(args);
      return undefined;
    },
  },
};

/** The package's version, from its package.json (two folders above dist/cli). */
function version(): string {
  try {
    const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
    return (JSON.parse(text) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

async function main(argv: string[]): Promise<number | undefined> {
  const [name, ...args] = argv;
  if (name === '--version' || name === '-v' || name === 'version') {
    process.stdout.write(`sluice ${version()}\n`);
    return 0;
  }
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    const topic = name === 'help' && args[0] !== undefined ? COMMANDS[args[0]] : undefined;
    if (name === 'help' && args[0] !== undefined && topic === undefined) {
      process.stderr.write(`sluice: unknown command "${args[0]}"\n\n${MAIN_HELP}`);
      return 2;
    }
    process.stdout.write(topic?.help ?? MAIN_HELP);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    process.stderr.write(`sluice: unknown command "${name}"\n\n${MAIN_HELP}`);
    return 2;
  }
  // Options end at `--`: `sluice chat -- --help` asks the model about "--help".
  if (wantsHelp(args)) {
    process.stdout.write(command.help);
    return 0;
  }
  return command.run(args);
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (error: unknown) => {
    // One line, never a stack trace: what failed and what to change.
    const message = (error instanceof Error ? error.message : String(error)).replace(/\s*[\r\n]+\s*/g, ' ');
    process.stderr.write(`sluice: ${message}\n`);
    // A gateway that could not start exits 1; usage and settings errors exit 2.
    process.exitCode = error instanceof Error && error.name === 'StartError' ? 1 : 2;
    // Should anything still hold the event loop, a failed command still ends.
    setTimeout(() => process.exit(), 1000).unref();
  },
);
