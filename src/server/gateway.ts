import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { type ConfigFile, type Environment, loadSettings, type Settings } from '../config.js';
import type { EmulatorServer } from '../emulators/server.js';
import { type GenerationStore, MemoryStore } from '../generation/store.js';
import { KeyRing } from '../ops/auth.js';
import type { Limits } from '../ops/limits.js';
import type { Logger } from '../ops/logging.js';
import { GatewayMetrics } from '../ops/metrics.js';
import { PROVIDERS } from '../providers/registry.js';
import { Transport } from '../upstream/transport.js';
import { createRequestHandler, type ProviderRuntime } from './app.js';
import { GatewayOps } from './ops.js';
import { isLoopbackAddress } from './origin.js';
import { StaticFiles } from './static.js';

export interface GatewayOptions {
  env?: Environment;
  /** Overrides on top of the settings read from `env`. */
  settings?: Partial<Settings>;
  /** The configuration file's content (keys with limits, aliases, fallbacks); the environment wins. */
  config?: ConfigFile;
  /** Serve the web page from here (default: the package's `web/` folder when present). */
  webRoot?: string | null;
  /**
   * Where log lines go: one per finished generation and per refused request, with the request
   * id (default: nowhere). `sluice serve` logs JSON lines to stdout at SLUICE_LOG_LEVEL.
   */
  logger?: Logger;
  /** Serve `GET /metrics` (default true; off only to measure what metrics cost). */
  metrics?: boolean;
}

export interface Gateway {
  /** `http://host:port` the gateway listens on. */
  url: string;
  server: Server;
  settings: Settings;
  store: GenerationStore;
  providers: ReadonlyMap<string, ProviderRuntime>;
  /** The in-process emulator serving keyless providers in demo mode. */
  emulator: EmulatorServer | undefined;
  /** Whether requests need a gateway key (SLUICE_API_KEYS or the configuration file). */
  auth: boolean;
  /** Whether it listens on a loopback address only. */
  loopback: boolean;
  /**
   * Stops accepting, lets running streams finish up to the shutdown deadline, then ends each
   * with an `error` frame and `done`, and releases every socket and timer.
   */
  close(deadlineMs?: number): Promise<void>;
}

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function readVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string })
      .version;
  } catch {
    return '0.0.0';
  }
}

/**
 * Connections the kernel may hold for the gateway before it accepts them (Linux caps it at
 * `net.core.somaxconn`). node's default, 511, overflows when thousands of clients connect at
 * once: the kernel then drops their handshakes and each waits a SYN retransmission (1 s, then
 * 3 s...) before it is even accepted, which no amount of spare CPU makes up for.
 */
export const LISTEN_BACKLOG = 4096;
/**
 * Key and base URL for every provider, from the environment; demo mode fills the gaps with the
 * emulator. A provider that runs in process (the local model) sets itself up from the environment.
 */
async function providerRuntimes(
  env: Environment,
  emulator: EmulatorServer | undefined,
  demo: boolean,
): Promise<Map<string, ProviderRuntime>> {
  const runtimes = new Map<string, ProviderRuntime>();
  for (const provider of PROVIDERS) {
    if (provider.configure !== undefined) {
      const setup = await provider.configure(env, { demo });
      runtimes.set(provider.id, {
        settings: { apiKey: undefined, baseUrl: '' },
        configured: setup.unavailable() === undefined,
        emulated: false,
        setup,
      });
      continue;
    }
    const apiKey = provider.apiKeyEnv
      .map((name) => env[name])
      .find((value) => value !== undefined && value !== '');
    const keyless = provider.apiKeyEnv.length === 0;
    const explicitBase = env[provider.baseUrlEnv];
    // Keyless providers (Ollama) are emulated in demo mode unless a base URL says where the real one is.
    const emulate = emulator !== undefined && (keyless ? !explicitBase : apiKey === undefined);
    if (emulate) {
      runtimes.set(provider.id, {
        settings: { apiKey: 'sluice-demo', baseUrl: emulator.baseUrl(provider.id) },
        configured: true,
        emulated: true,
      });
    } else {
      runtimes.set(provider.id, {
        settings: { apiKey, baseUrl: explicitBase || provider.defaultBaseUrl },
        configured: keyless || apiKey !== undefined,
        emulated: false,
      });
    }
  }
  return runtimes;
}

/**
 * Closes what a start that failed had opened, then throws: an in-process emulator or a Redis
 * client left open would keep a process that cannot serve alive.
 */
async function abandon(
  error: unknown,
  ...opened: ({ close(): Promise<void> } | undefined)[]
): Promise<never> {
  await Promise.all(opened.map((resource) => resource?.close().catch(() => {})));
  throw error;
}

/** Why the gateway could not listen, in one line that says what to change. */
function listenFailure(error: unknown, settings: Settings): Error {
  const where = `${settings.host.includes(':') ? `[${settings.host}]` : settings.host}:${settings.port}`;
  const code = (error as NodeJS.ErrnoException).code;
  const reason =
    code === 'EADDRINUSE'
      ? 'the port is already in use (choose another with PORT or --port)'
      : code === 'EACCES'
        ? 'permission denied (ports below 1024 need privileges)'
        : code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN'
          ? 'no such address on this machine (HOST or --host)'
          : (code ?? (error instanceof Error ? error.message : String(error)));
  return new Error(`cannot listen on ${where}: ${reason}`);
}

/**
 * Loads a module that needs ioredis. ioredis is an optional peer dependency: only a gateway
 * with `REDIS_URL` needs it, and a production install without Redis stays small.
 */
async function withIoredis<T>(load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    if (
      (error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' &&
      String(error).includes('ioredis')
    ) {
      throw new Error('REDIS_URL is set, but ioredis is not installed: npm install ioredis@5');
    }
    throw error;
  }
}

/** A Redis connection for the shared limits, ready, or an error naming Redis (never its password). */
async function connectLimitsRedis(url: string): Promise<Redis> {
  const { Redis } = await withIoredis(() => import('ioredis'));
  // No offline queue: while Redis is away, limits fall back to this instance at once.
  const client = new Redis(url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: true });
  client.on('error', () => {});
  try {
    await client.connect();
    return client;
  } catch (error) {
    client.disconnect();
    throw new Error(
      `cannot reach Redis for limits (REDIS_URL): ${(error as NodeJS.ErrnoException).code ?? 'no answer'}`,
    );
  }
}

export async function startGateway(options: GatewayOptions = {}): Promise<Gateway> {
  const env = options.env ?? process.env;
  const settings: Settings = { ...loadSettings(env, options.config), ...options.settings };
  let emulator: EmulatorServer | undefined;
  if (settings.demo) {
    // Loaded only here: a gateway serving real providers never loads the emulators.
    const emulators = await import('../emulators/index.js');
    emulator = new emulators.EmulatorServer({ dialects: emulators.allDialects() });
    await emulator.listen();
  }
  let providers: Map<string, ProviderRuntime>;
  try {
    providers = await providerRuntimes(env, emulator, settings.demo);
  } catch (error) {
    await emulator?.close();
    throw error;
  }
  const memory = new MemoryStore({
    ttlMs: settings.resumeTtlMs,
    maxGenerations: settings.maxGenerations,
    maxStoredBytes: settings.maxStoredBytes,
  });
  let store: GenerationStore = memory;
  const limited = [settings.rateLimit, settings.maxStreamsPerKey, settings.tokensPerMin].some(
    (limit) => limit !== undefined,
  );
  const anyLimits = limited || settings.apiKeys.some((key) => Object.keys(key.limits).length > 0);
  let limitsRedis: Redis | undefined;
  if (settings.redisUrl !== undefined) {
    // Loaded only here: a gateway without Redis never loads ioredis.
    const { RedisStore } = await withIoredis(() => import('../generation/redis.js')).catch((error: unknown) =>
      abandon(error, emulator),
    );
    const redis = new RedisStore(settings.redisUrl, memory, {
      ttlSeconds: Math.ceil(settings.resumeTtlMs / 1000),
      leaseMs: settings.ownerLeaseMs,
    });
    await redis.connect().catch((error: unknown) => abandon(error, emulator));
    store = redis;
    if (anyLimits) {
      limitsRedis = await connectLimitsRedis(settings.redisUrl).catch((error: unknown) =>
        abandon(error, store, emulator),
      );
    }
  }
  // Loaded only when some limit is set.
  const limits: Limits | undefined = anyLimits
    ? new (await import('../ops/limits.js')).Limits({ redis: limitsRedis })
    : undefined;
  const metrics =
    options.metrics === false
      ? undefined
      : new GatewayMetrics({ activeGenerations: () => store.running().length });
  const ops = new GatewayOps({
    settings,
    store,
    keys: new KeyRing(settings.apiKeys),
    limits,
    metrics,
    logger: options.logger,
  });
  const closeLimits = async (): Promise<void> => {
    limits?.close();
    limitsRedis?.disconnect();
  };
  const transport = new Transport({
    connectTimeoutMs: settings.connectTimeoutMs,
    http2: settings.upstreamHttp2,
  });
  const webRoot = options.webRoot === undefined ? join(packageRoot, 'web') : options.webRoot;
  const staticFiles =
    webRoot === null
      ? undefined
      : new StaticFiles({
          '/client/': join(packageRoot, 'dist', 'client'),
          // The browser client imports ../protocol/http.js (routes, headers, event names).
          '/protocol/': join(packageRoot, 'dist', 'protocol'),
          // The page's own files, then its script (src/web/app.ts, built to dist/web/app.js).
          '/': [webRoot, join(packageRoot, 'dist', 'web')],
        });
  let shuttingDown = false;
  let loopback = true;

  const handler = createRequestHandler({
    settings,
    store,
    transport,
    providers,
    staticFiles,
    ops,
    version: readVersion(),
    isShuttingDown: () => shuttingDown,
    boundToLoopback: () => loopback,
  });
  const headersTimeout = 20_000;
  // Streams may run far longer than any request timeout; only the request head and body are
  // timed. The body's own deadline answers 408 first; this is node's backstop behind it.
  const server = createServer(
    {
      keepAliveTimeout: 65_000,
      headersTimeout,
      requestTimeout: headersTimeout + settings.bodyTimeoutMs + 10_000,
    },
    handler,
  );
  // A client may send its whole request and then shut down its sending side (`shutdown(SHUT_WR)`,
  // `socket.end()`): it still reads. By default node:http takes that FIN for a client that left,
  // aborts the request and ends the socket, cutting the stream after its first bytes. With
  // half-open connections allowed, the answer is written to the end and the socket closed after
  // it. A client that really left is seen at the next write (a frame or a keep-alive).
  Object.assign(server, { httpAllowHalfOpen: true });
  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen({ port: settings.port, host: settings.host, backlog: LISTEN_BACKLOG }, () => {
      server.off('error', reject);
      resolvePromise();
    });
  }).catch((error: unknown) =>
    abandon(listenFailure(error, settings), store, transport, emulator, { close: closeLimits }),
  );
  const address = server.address() as AddressInfo;
  loopback = isLoopbackAddress(address.address);
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  let closing: Promise<void> | undefined;
  const close = (deadlineMs = settings.shutdownGraceMs): Promise<void> => {
    closing ??= (async () => {
      shuttingDown = true;
      server.close();
      server.closeIdleConnections();
      const running = store.running();
      const allEnded = Promise.all(
        running.map((generation) => new Promise<void>((done) => generation.onEnd(() => done()))),
      );
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((done) => {
        timer = setTimeout(done, deadlineMs);
      });
      await Promise.race([allEnded, deadline]);
      clearTimeout(timer);
      for (const generation of store.running()) generation.cancel('shutdown');
      // A cancelled run ends at once; should one not, shutdown still finishes a second later.
      let lastTimer: NodeJS.Timeout | undefined;
      await Promise.race([allEnded, new Promise<void>((done) => (lastTimer = setTimeout(done, 1000)))]);
      clearTimeout(lastTimer);
      // Let writers flush the terminal frames before the sockets go.
      await new Promise((done) => setImmediate(done));
      server.closeAllConnections();
      await closeLimits();
      await store.close();
      await transport.close();
      await Promise.all([...providers.values()].map((runtime) => runtime.setup?.close()));
      await emulator?.close();
    })();
    return closing;
  };

  return {
    url: `http://${host}:${address.port}`,
    server,
    settings,
    store,
    providers,
    emulator,
    auth: settings.apiKeys.length > 0,
    loopback,
    close,
  };
}
