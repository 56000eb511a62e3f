/**
 * Gateway settings from the environment (CONTRACT.md sections 1 and 5). Read once at start;
 * nothing in a request can change them.
 */
export interface Settings {
  host: string;
  port: number;
  demo: boolean;
  redisUrl: string | undefined;
  connectTimeoutMs: number;
  /** Set only when configured; otherwise each provider's own (30 s, Together longer) applies. */
  idleTimeoutMs: number | undefined;
  maxRetries: number;
  /** Overrides every provider's own first backoff when set. */
  retryBaseMs: number | undefined;
  bufferFrames: number;
  /** How long a reader's socket may stay full before, `bufferFrames` behind, it counts as stalled. */
  stallTimeoutMs: number;
  keepAliveMs: number;
  resumeGraceMs: number;
  resumeTtlMs: number;
  maxBodyBytes: number;
  /** Bound on the bytes of all request bodies being read at once; past it, 503 at once. */
  maxPendingBodyBytes: number;
  /** How long a request body may take to arrive once reading starts; past it, 408. */
  bodyTimeoutMs: number;
  /** The SSE `retry:` a client is told to wait before reconnecting. */
  clientRetryMs: number;
  /** How long running streams may go on after SIGTERM before they are ended. */
  shutdownGraceMs: number;
  /** Bound on generations held at once (running plus resumable). */
  maxGenerations: number;
  /** Bound on one generation's stored frames, in bytes of SSE text. */
  maxLogBytes: number;
  /** Bound on the frames kept for finished generations (resume window), in bytes. */
  maxStoredBytes: number;
  /** Processes serving one port (`sluice serve --workers N`); more than one needs Redis. */
  workers: number;
  /** How long an instance's lease on the generations it runs lasts without a refresh (Redis). */
  ownerLeaseMs: number;
  /**
   * Origins whose pages may call the gateway (CORS): empty, the default, sends no CORS header at
   * all (same origin only); `['*']` lets any page in.
   */
  corsOrigins: readonly string[];
  /**
   * `Host` values accepted besides the loopback names while the gateway listens on a loopback
   * address: a name alone accepts it with any port.
   */
  allowedHosts: readonly string[];
}

/** The contract's default upstream idle timeout. */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;

export type Environment = Record<string, string | undefined>;

/** An integer setting from the environment: `fallback` when unset, an error naming it when malformed. */
export function integer(env: Environment, name: string, fallback: number, minimum = 0): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < minimum) {
    throw new Error(`${name} must be an integer of at least ${minimum}, got "${raw}"`);
  }
  return value;
}

function list(env: Environment, name: string): string[] {
  return (env[name] ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

/** `*`, or origins as a browser sends them in `Origin` (`https://app.example:8443`). */
function corsOrigins(env: Environment): string[] {
  const values = list(env, 'SLUICE_CORS_ORIGIN');
  if (values.includes('*')) return ['*'];
  return values.map((value) => {
    let url: URL | undefined;
    try {
      url = new URL(value);
    } catch {
      url = undefined;
    }
    const bare = url !== undefined && url.pathname === '/' && url.search === '' && url.hash === '';
    if (url === undefined || !bare || !/^https?:$/.test(url.protocol) || url.username !== '') {
      throw new Error(
        `SLUICE_CORS_ORIGIN must be * or comma-separated origins like https://app.example, got "${value}"`,
      );
    }
    return url.origin;
  });
}

export function loadSettings(env: Environment = process.env): Settings {
  const retryBase = env.SLUICE_RETRY_BASE_MS;
  return {
    host: env.HOST || '127.0.0.1',
    port: integer(env, 'PORT', 8000),
    demo: env.SLUICE_DEMO === '1' || env.SLUICE_DEMO === 'true',
    redisUrl: env.REDIS_URL || undefined,
    connectTimeoutMs: integer(env, 'SLUICE_CONNECT_TIMEOUT_MS', 5000, 1),
    idleTimeoutMs: env.SLUICE_IDLE_TIMEOUT_MS ? integer(env, 'SLUICE_IDLE_TIMEOUT_MS', 30_000, 1) : undefined,
    maxRetries: integer(env, 'SLUICE_MAX_RETRIES', 2),
    retryBaseMs:
      retryBase === undefined || retryBase === '' ? undefined : integer(env, 'SLUICE_RETRY_BASE_MS', 1000),
    bufferFrames: integer(env, 'SLUICE_BUFFER_FRAMES', 64, 1),
    stallTimeoutMs: integer(env, 'SLUICE_STALL_TIMEOUT_MS', 5000, 1),
    keepAliveMs: integer(env, 'SLUICE_KEEPALIVE_MS', 15_000, 10),
    resumeGraceMs: integer(env, 'SLUICE_RESUME_GRACE_MS', 10_000),
    resumeTtlMs: integer(env, 'SLUICE_RESUME_TTL_MS', 300_000, 1),
    maxBodyBytes: integer(env, 'SLUICE_MAX_BODY_BYTES', 1_048_576, 1),
    maxPendingBodyBytes: integer(env, 'SLUICE_MAX_PENDING_BODY_BYTES', 64 * 1024 * 1024, 1),
    bodyTimeoutMs: integer(env, 'SLUICE_BODY_TIMEOUT_MS', 30_000, 1),
    clientRetryMs: integer(env, 'SLUICE_CLIENT_RETRY_MS', 1000),
    shutdownGraceMs: integer(env, 'SLUICE_SHUTDOWN_GRACE_MS', 10_000),
    maxGenerations: integer(env, 'SLUICE_MAX_GENERATIONS', 10_000, 1),
    maxLogBytes: integer(env, 'SLUICE_MAX_LOG_BYTES', 64 * 1024 * 1024, 1024),
    maxStoredBytes: integer(env, 'SLUICE_MAX_STORED_BYTES', 256 * 1024 * 1024, 1024),
    workers: integer(env, 'SLUICE_WORKERS', 1, 1),
    ownerLeaseMs: integer(env, 'SLUICE_OWNER_LEASE_MS', 5000, 100),
    corsOrigins: corsOrigins(env),
    allowedHosts: list(env, 'SLUICE_ALLOWED_HOSTS').map((host) => host.toLowerCase()),
  };
}
