import { loadSettings } from '../config.js';
import { redactSecrets } from '../core/errors.js';
import { API_PATHS } from '../protocol/http.js';
import { startGateway } from '../server/gateway.js';
import { flag, type OptionSpec, parseArgs, portOption, stringOption, UsageError } from './args.js';

const SPEC: OptionSpec = { demo: 'boolean', port: 'string', host: 'string' };

function logLine(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...line })}\n`);
}

export async function serve(argv: readonly string[], defaultDemo = false): Promise<void> {
  const args = parseArgs(argv, SPEC);
  if (args.positionals.length > 0) throw new UsageError(`unknown argument "${args.positionals[0]}"`);
  const demoFlag = flag(args, 'demo');
  const hostValue = stringOption(args, 'host');
  const env = { ...process.env };
  if (demoFlag || (defaultDemo && env.SLUICE_DEMO === undefined)) env.SLUICE_DEMO = '1';
  const base = loadSettings(env);
  const gateway = await startGateway({
    env,
    settings: { port: portOption(args, 'port', base.port), host: hostValue ?? base.host },
    // One JSON line per finished generation on stdout, unless SLUICE_LOG=0.
    ...(env.SLUICE_LOG === '0' ? {} : { log: (line: Record<string, unknown>) => logLine(line) }),
  });
  const emulated = [...gateway.providers].filter(([, runtime]) => runtime.emulated).map(([id]) => id);
  const configured = [...gateway.providers]
    .filter(([, runtime]) => runtime.configured && !runtime.emulated)
    .map(([id]) => id);
  process.stdout.write(
    `sluice gateway listening on ${gateway.url}\n` +
      `  providers: ${configured.length ? configured.join(', ') : 'none with keys'}` +
      `${emulated.length ? `; emulated: ${emulated.join(', ')}` : ''}\n` +
      `  web page:  ${gateway.url}/\n` +
      `  try:       curl -N ${gateway.url}${API_PATHS.stream} -H 'content-type: application/json' ` +
      `-d '{"provider":"openai","messages":[{"role":"user","content":"Hello"}]}'\n`,
  );
  // In-process providers (the local model) that cannot serve say why, once, here.
  for (const [id, runtime] of gateway.providers) {
    const reason = runtime.setup?.unavailable();
    if (reason !== undefined) process.stdout.write(`  ${`${id}:`.padEnd(10)} ${reason}\n`);
  }
  // A stray rejection must not take every running stream down with the process.
  process.on('unhandledRejection', (reason: unknown) => {
    const message = reason instanceof Error ? reason.message : String(reason);
    logLine({ event: 'unhandled_rejection', message: redactSecrets(message) });
  });
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      process.exit(1);
    }
    stopping = true;
    process.stdout.write(
      `${signal}: finishing running streams (up to ${gateway.settings.shutdownGraceMs} ms)\n`,
    );
    gateway.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
