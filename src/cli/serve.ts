import { type ConfigFile, loadSettings } from '../config.js';
import { loadConfigFile } from '../config-file.js';
import { redactSecrets } from '../core/errors.js';
import { createLogger, flushLogger } from '../ops/logging.js';
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

const SPEC: OptionSpec = {
  demo: 'boolean',
  port: 'string',
  host: 'string',
  config: 'string',
  workers: 'string',
};

/** The gateway could not start (port taken, Redis unreachable, ...): the message says why. */
export class StartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartError';
  }
}

/** What a started gateway tells a person: where it listens and what it serves. */
function banner(url: string, gateway: Gateway | undefined): string {
  const lines = [`sluice gateway listening on ${url}`];
  if (gateway !== undefined) {
    const providers = gateway.providers;
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
    lines.push(
      `  keys:      ${gateway.auth ? `${gateway.settings.apiKeys.length} gateway key(s) required` : 'none (open)'}`,
    );
  }
  const keyHeader = gateway?.auth ? ` -H 'authorization: Bearer <key>'` : '';
  lines.push(
    `  web page:  ${url}/`,
    `  metrics:   ${url}/metrics; probes: /livez, /readyz`,
    `  try:       curl -N ${url}${API_PATHS.stream} -H 'content-type: application/json'${keyHeader} ` +
      `-d '{"provider":"openai","messages":[{"role":"user","content":"Hello"}]}'`,
  );
  return `${lines.join('\n')}\n`;
}

/**
 * `sluice serve`: the gateway, configured from the environment and `--config FILE`. Log lines
 * (JSON, pino) go to stdout; the banner and everything meant for a person go to stderr. With
 * `--workers N`, this process is the primary of N workers sharing the port.
 */
export async function serve(argv: readonly string[], defaultDemo = false): Promise<void> {
  const args = parseArgs(argv, SPEC);
  if (args.positionals.length > 0) throw new UsageError(`unknown argument "${args.positionals[0]}"`);
  const demoFlag = flag(args, 'demo');
  const hostValue = stringOption(args, 'host');
  const configPath = stringOption(args, 'config');
  const env = { ...process.env };
  if (demoFlag || (defaultDemo && env.SLUICE_DEMO === undefined)) env.SLUICE_DEMO = '1';
  // A malformed setting or configuration file is a usage error (exit 2), said in one line.
  const config: ConfigFile | undefined = configPath === undefined ? undefined : loadConfigFile(configPath);
  const base = loadSettings(env, config);
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
  const logger = createLogger({ level: base.logLevel });
  const gateway = await startGateway({
    env,
    ...(config !== undefined ? { config } : {}),
    settings: { port, host },
    logger,
  }).catch((error: unknown) => {
    throw new StartError(redactSecrets(error instanceof Error ? error.message : String(error)));
  });
  if (isWorker()) reportListening(gateway.url);
  else {
    process.stderr.write(banner(gateway.url, gateway));
    if (!gateway.auth && !gateway.loopback) {
      const warning =
        'the gateway is open: it listens beyond this machine and has no keys; anyone who reaches it can spend your provider keys (set SLUICE_API_KEYS)';
      process.stderr.write(`  warning:   ${warning}\n`);
      logger.warn({ url: gateway.url }, warning);
    }
  }
  // A stray rejection must not take every running stream down with the process.
  process.on('unhandledRejection', (reason: unknown) => {
    const message = reason instanceof Error ? reason.message : String(reason);
    logger.error({ error: redactSecrets(message) }, 'unhandled rejection');
  });
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      process.exit(1);
    }
    stopping = true;
    process.stderr.write(
      `${signal}: finishing running streams (up to ${gateway.settings.shutdownGraceMs} ms)\n`,
    );
    logger.info({ signal }, 'shutting down');
    // Log lines are written in batches: the last ones (the generations the grace period ended)
    // are written before the process exits.
    gateway.close().then(
      () => flushLogger(logger).then(() => process.exit(0)),
      () => flushLogger(logger).then(() => process.exit(1)),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // A worker is stopped by its primary once: a terminal's Ctrl-C may reach it directly too.
  process.on('message', (message: unknown) => {
    if ((message as { type?: unknown } | null)?.type === STOP_MESSAGE.type && !stopping) stop('SIGTERM');
  });
}
