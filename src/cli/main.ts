#!/usr/bin/env node
import { EMULATE_HELP, emulate, SERVE_HELP, serve } from './serve.js';

const HELP = `Usage: sluice <command> [options]

Commands:
  serve      start the gateway (--demo for emulated providers)
  emulate    start the provider emulators
  help       show this help

Run "sluice <command> --help" for a command's options.
`;

const COMMANDS: Record<string, { help: string; run: (args: string[]) => Promise<void> }> = {
  serve: { help: SERVE_HELP, run: (args) => serve(args) },
  start: { help: SERVE_HELP, run: (args) => serve(args, true) },
  emulate: { help: EMULATE_HELP, run: emulate },
};

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(HELP);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    process.stderr.write(`sluice: unknown command "${name}"\n\n${HELP}`);
    return 2;
  }
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(command.help);
    return 0;
  }
  await command.run(args);
  return -1;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`sluice: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  },
);
