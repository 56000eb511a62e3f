import { loadSettings } from '../config.js';
import { redactSecrets } from '../core/errors.js';
import { encodeData } from '../core/sse-encode.js';
import { API_PATHS } from '../protocol/http.js';
import { type Gateway, startGateway } from '../server/gateway.js';
import {
  flag,
  numberOption,
  type OptionSpec,
  parseArgs,
  portOption,
  stringOption,
  UsageError,
} from './args.js';
import { isWorker, reportListening, runPrimary, STOP_MESSAGE } from './workers.js';

const SPEC: OptionSpec = { demo: 'boolean', port: 'string', host: 'string', workers: 'string' };

/** One JSON log line: text from requests (a model name) can never split it. */
function logLine(line: Record<string, unknown>): void {
  process.stdout.write(`${encodeData({ time: new Date().toISOString(), ...line })}\n`);
}

/** The gateway could not start (port taken, Redis unreachable, ...): the message says why. */
export class StartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartError';
  }
}

/** What a started gateway prints: where it listens and what it serves. */
function banner(url: string, providers: Gateway['providers'] | undefined): string {
  const lines = [`sluice gateway listening on ${url}`];
  if (providers !== undefined) {
    const emulated = [...providers].filter(([, runtime]) => runtime.emulated).map(([id]) => id);
    const configured = [...providers]
      .filter(([, runtime]) => runtime.configured && !runtime.emulated)
      .map(([id]) => id);
    lines.push(
      `  providers: ${configured.length ? configured.join(', ') : 'none with keys'}` +
        `${emulated.length ? `; emulated: ${emulated.join(', ')}` : ''}`,
    );
    // In-process providers (the local model) that cannot serve say why, once, here.
    for (const [id, runtime] of providers) {
      const reason = runtime.setup?.unavailable();
      if (reason !== undefined) lines.push(`  ${`${id}:`.padEnd(10)} ${reason}`);
    }
  }
  lines.push(
    `  web page:  ${url}/`,
    `  try:       curl -N ${url}${API_PATHS.stream} -H 'content-type: application/json' ` +
      `-d '{"provider":"openai","messages":[{"role":"user","content":"Hello"}]}'`,
  );
  return `${lines.join('\n')}\n`;
}

export async function serve(argv: readonly string[], defaultDemo = false): Promise<void> {
  const args = parseArgs(argv, SPEC);
  if (args.positionals.length > 0) throw new UsageError(`unknown argument "${args.positionals[0]}"`);
  const demoFlag = flag(args, 'demo');
  const hostValue = stringOption(args, 'host');
  const env = { ...process.env };
  if (demoFlag || (defaultDemo && env.SLUICE_DEMO === undefined)) env.SLUICE_DEMO = '1';
  const base = loadSettings(env);
  const port = portOption(args, 'port', base.port);
  const host = hostValue ?? base.host;
  const workers = numberOption(args, 'workers', { integer: true, min: 1 }) ?? base.workers;
  if (workers > 1 && !isWorker()) {
    if (base.redisUrl === undefined) {
      throw new UsageError(
        `--workers ${workers} needs REDIS_URL: workers share generations, limits and cancels through Redis`,
      );
    }
    await runPrimary(workers, (url) => banner(url, undefined));
    return;
  }
  const gateway = await startGateway({
    env,
    settings: { port, host },
    // One JSON line per finished generation on stdout, unless SLUICE_LOG=0.
    ...(env.SLUICE_LOG === '0' ? {} : { log: (line: Record<string, unknown>) => logLine(line) }),
  }).catch((error: unknown) => {
    throw new StartError(redactSecrets(error instanceof Error ? error.message : String(error)));
  });
  if (isWorker()) reportListening(gateway.url);
  else process.stdout.write(banner(gateway.url, gateway.providers));
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
  // A worker is stopped by its primary once: a terminal's Ctrl-C may reach it directly too.
  process.on('message', (message: unknown) => {
    if ((message as { type?: unknown } | null)?.type === STOP_MESSAGE.type && !stopping) stop('SIGTERM');
  });
}
