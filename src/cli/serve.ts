import { loadSettings } from '../config.js';
import { redactSecrets } from '../core/errors.js';
import { EmulatorServer } from '../emulators/server.js';
import { API_PATHS } from '../protocol/http.js';
import { PROVIDERS } from '../providers/registry.js';
import { startGateway } from '../server/gateway.js';

// The help texts live in help.ts so `sluice help` does not load the gateway.
export { EMULATE_HELP, SERVE_HELP } from './help.js';

function takeOption(args: string[], name: string): string | undefined {
  const index = args.indexOf(name);
  if (index === -1) return undefined;
  const value = args[index + 1];
  if (value === undefined || value.startsWith('--')) throw new Error(`${name} needs a value`);
  args.splice(index, 2);
  return value;
}

function takeFlag(args: string[], name: string): boolean {
  const index = args.indexOf(name);
  if (index === -1) return false;
  args.splice(index, 1);
  return true;
}

function port(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65535) throw new Error(`invalid port "${value}"`);
  return parsed;
}

function rejectRest(args: string[]): void {
  if (args.length > 0) throw new Error(`unknown argument "${args[0]}"`);
}

function logLine(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...line })}\n`);
}

export async function serve(argv: readonly string[], defaultDemo = false): Promise<void> {
  const args = [...argv];
  const demoFlag = takeFlag(args, '--demo');
  const portValue = takeOption(args, '--port');
  const hostValue = takeOption(args, '--host');
  rejectRest(args);
  const env = { ...process.env };
  if (demoFlag || (defaultDemo && env.SLUICE_DEMO === undefined)) env.SLUICE_DEMO = '1';
  const base = loadSettings(env);
  const gateway = await startGateway({
    env,
    settings: { port: port(portValue, base.port), host: hostValue ?? base.host },
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

export async function emulate(argv: readonly string[]): Promise<void> {
  const args = [...argv];
  const portValue = port(takeOption(args, '--port'), 9100);
  const host = takeOption(args, '--host') ?? '127.0.0.1';
  const ttft = takeOption(args, '--ttft');
  const delay = takeOption(args, '--delay');
  const chunks = takeOption(args, '--chunks');
  const control = takeFlag(args, '--control');
  rejectRest(args);
  const emulator = new EmulatorServer({
    control,
    dialects: PROVIDERS.map((provider) => provider.emulator()),
    host,
    port: portValue,
    defaults: {
      ...(ttft !== undefined ? { ttftMs: Number(ttft) } : {}),
      ...(delay !== undefined ? { chunkDelayMs: Number(delay) } : {}),
      ...(chunks !== undefined ? { chunks: Number(chunks) } : {}),
    },
  });
  const origin = await emulator.listen();
  process.stdout.write(`sluice emulators listening on ${origin}\n`);
  for (const provider of PROVIDERS) {
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
