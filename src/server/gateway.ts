import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Environment, loadSettings, type Settings } from '../config.js';
import { EmulatorServer } from '../emulators/server.js';
import { RedisGenerations } from '../generation/redis.js';
import { GenerationStore } from '../generation/store.js';
import { PROVIDERS } from '../providers/registry.js';
import { Transport } from '../upstream/transport.js';
import { createRequestHandler, type ProviderRuntime } from './app.js';
import { StaticFiles } from './static.js';

export interface GatewayOptions {
  env?: Environment;
  /** Overrides on top of the settings read from `env`. */
  settings?: Partial<Settings>;
  /** Serve the web page from here (default: the package's `web/` folder when present). */
  webRoot?: string | null;
  /** Where one JSON line per finished generation goes (default: nowhere). */
  log?: (line: Record<string, unknown>) => void;
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

/** Key and base URL for every provider, from the environment; demo mode fills the gaps with the emulator. */
function providerRuntimes(
  env: Environment,
  emulator: EmulatorServer | undefined,
): Map<string, ProviderRuntime> {
  const runtimes = new Map<string, ProviderRuntime>();
  for (const provider of PROVIDERS) {
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

export async function startGateway(options: GatewayOptions = {}): Promise<Gateway> {
  const env = options.env ?? process.env;
  const settings: Settings = { ...loadSettings(env), ...options.settings };
  let emulator: EmulatorServer | undefined;
  if (settings.demo) {
    emulator = new EmulatorServer({ dialects: PROVIDERS.map((provider) => provider.emulator()) });
    await emulator.listen();
  }
  const providers = providerRuntimes(env, emulator);
  const store = new GenerationStore({
    ttlMs: settings.resumeTtlMs,
    maxGenerations: settings.maxGenerations,
    maxStoredBytes: settings.maxStoredBytes,
  });
  const transport = new Transport({ connectTimeoutMs: settings.connectTimeoutMs });
  const webRoot = options.webRoot === undefined ? join(packageRoot, 'web') : options.webRoot;
  const staticFiles =
    webRoot === null
      ? undefined
      : new StaticFiles({ '/client/': join(packageRoot, 'dist', 'client'), '/': webRoot });
  let shuttingDown = false;
  let redis: RedisGenerations | undefined;
  if (settings.redisUrl !== undefined) {
    redis = new RedisGenerations(settings.redisUrl, Math.ceil(settings.resumeTtlMs / 1000));
    await redis.start();
  }

  const handler = createRequestHandler({
    settings,
    store,
    transport,
    providers,
    staticFiles,
    redis,
    log: options.log,
    version: readVersion(),
    isShuttingDown: () => shuttingDown,
  });
  const server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 60_000 }, handler);
  // Streams may run far longer than any request timeout; only the request head and body are timed.
  server.headersTimeout = 20_000;
  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(settings.port, settings.host, () => {
      server.off('error', reject);
      resolvePromise();
    });
  });
  const address = server.address() as AddressInfo;
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
      await allEnded;
      // Let writers flush the terminal frames before the sockets go.
      await new Promise((done) => setImmediate(done));
      server.closeAllConnections();
      store.clear();
      await transport.close();
      await redis?.close();
      await emulator?.close();
    })();
    return closing;
  };

  return { url: `http://${host}:${address.port}`, server, settings, store, providers, emulator, close };
}
