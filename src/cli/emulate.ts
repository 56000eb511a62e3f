import { allDialects, EmulatorServer } from '../emulators/index.js';
import { HTTP_PROVIDERS } from '../providers/registry.js';
import { flag, type OptionSpec, parseArgs, portOption, stringOption, UsageError } from './args.js';

const SPEC: OptionSpec = {
  port: 'string',
  host: 'string',
  ttft: 'string',
  delay: 'string',
  chunks: 'string',
  // Serves `/__control/*` so a test or benchmark in another process can script responses.
  control: 'boolean',
};

/** `sluice emulate`: every provider's emulator on one port, until SIGTERM or SIGINT. */
export async function emulate(argv: readonly string[]): Promise<void> {
  const args = parseArgs(argv, SPEC);
  if (args.positionals.length > 0) throw new UsageError(`unknown argument "${args.positionals[0]}"`);
  const ttft = stringOption(args, 'ttft');
  const delay = stringOption(args, 'delay');
  const chunks = stringOption(args, 'chunks');
  const emulator = new EmulatorServer({
    control: flag(args, 'control'),
    dialects: allDialects(),
    host: stringOption(args, 'host') ?? '127.0.0.1',
    port: portOption(args, 'port', 9100),
    defaults: {
      ...(ttft !== undefined ? { ttftMs: Number(ttft) } : {}),
      ...(delay !== undefined ? { chunkDelayMs: Number(delay) } : {}),
      ...(chunks !== undefined ? { chunks: Number(chunks) } : {}),
    },
  });
  const origin = await emulator.listen();
  process.stdout.write(`sluice emulators listening on ${origin}\n`);
  for (const provider of HTTP_PROVIDERS) {
    process.stdout.write(`  ${provider.baseUrlEnv}=${emulator.baseUrl(provider.id)}\n`);
  }
  const stop = (): void => {
    emulator.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
