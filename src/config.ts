import { createHash } from 'node:crypto';
import type { ConfigFile, KeyLimits, ModelTarget, RateWindow } from './config-file.js';
import type { UpstreamHttp2 } from './upstream/transport.js';

export type { ConfigFile, KeyLimits, ModelTarget, RateWindow } from './config-file.js';

/** How much the gateway logs (CONTRACT.md section 10). */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];

/** A gateway key and the limits it has of its own (from the configuration file). */
export interface ApiKey {
  /** What logs, limits and ownership call it: its name, or a fingerprint, never the key. */
  id: string;
  key: string;
  limits: KeyLimits;
}

/**
 * Gateway settings from the environment (CONTRACT.md sections 1, 5 and 10) and the optional
 * configuration file. Read once at start; nothing in a request can change them.
 */
export interface Settings {
  host: string;
  port: number;
  demo: boolean;
  redisUrl: string | undefined;
  connectTimeoutMs: number;
  /**
   * HTTP/2 to upstreams (`SLUICE_UPSTREAM_HTTP2`): `auto` (ALPN on https, prior knowledge on
   * http once the upstream advertises h2c; the default), `h2c` (prior knowledge on http from the
   * start; demo mode's default), `off`.
   */
  upstreamHttp2: UpstreamHttp2;
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
  /** Gateway keys; empty: the gateway is open. */
  apiKeys: readonly ApiKey[];
  /** Requests that start generations, per key (or client address) and window. */
  rateLimit: RateWindow | undefined;
  /** Running generations per key (or client address). */
  maxStreamsPerKey: number | undefined;
  /** Output tokens per key (or client address) per minute, counted live. */
  tokensPerMin: number | undefined;
  logLevel: LogLevel;
  /** Model names a request may use for a provider and model (configuration file). */
  modelAliases: Readonly<Record<string, ModelTarget>>;
  /** Fallbacks for requests that name none (configuration file); validated, kept for the run. */
  defaultFallbacks: readonly ModelTarget[];
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

/** `1`/`true` or `0`/`false` (any case); anything else is a mistake, not a silent default. */
function boolean(env: Environment, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = raw.trim().toLowerCase();
  if (value === '1' || value === 'true') return true;
  if (value === '0' || value === 'false') return false;
  throw new Error(`${name} must be 1 or 0 (true or false), got "${raw}"`);
}

/** An http(s) URL, when set. */
function url(env: Environment, name: string, protocols: readonly string[]): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  let parsed: URL | undefined;
  try {
    parsed = new URL(raw.trim());
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || !protocols.includes(parsed.protocol)) {
    const examples = protocols.map((protocol) => `${protocol}//...`).join(' or ');
    // The value may hold a password (REDIS_URL): it is not repeated.
    throw new Error(`${name} must be a URL starting with ${examples}`);
  }
  return raw.trim();
}

/** `N/s`, `N/min` or `N/h`. */
export function parseRate(text: string): RateWindow | undefined {
  const match = /^\s*(\d{1,12})\s*\/\s*(s|min|h)\s*$/.exec(text);
  if (match === null) return undefined;
  const points = Number(match[1]);
  if (points < 1) return undefined;
  const seconds = match[2] === 's' ? 1 : match[2] === 'min' ? 60 : 3600;
  return { points, seconds, text: `${points}/${match[2]}` };
}

function rate(env: Environment, name: string, fallback: RateWindow | undefined): RateWindow | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const parsed = parseRate(raw);
  if (parsed === undefined)
    throw new Error(`${name} must be N/s, N/min or N/h with N at least 1, got "${raw}"`);
  return parsed;
}

function optionalInteger(
  env: Environment,
  name: string,
  fallback: number | undefined,
  minimum: number,
): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  return integer(env, name, 0, minimum);
}

const UPSTREAM_HTTP2: readonly UpstreamHttp2[] = ['auto', 'h2c', 'off'];

/** Demo mode's default is `h2c`: its emulators are on plain-http loopback and speak both. */
function upstreamHttp2(env: Environment, demo: boolean): UpstreamHttp2 {
  const raw = env.SLUICE_UPSTREAM_HTTP2;
  if (raw === undefined || raw.trim() === '') return demo ? 'h2c' : 'auto';
  const value = raw.trim().toLowerCase() as UpstreamHttp2;
  if (!UPSTREAM_HTTP2.includes(value)) {
    throw new Error(`SLUICE_UPSTREAM_HTTP2 must be one of ${UPSTREAM_HTTP2.join(', ')}, got "${raw}"`);
  }
  return value;
}

function logLevel(env: Environment): LogLevel {
  const raw = env.SLUICE_LOG_LEVEL;
  if (raw === undefined || raw.trim() === '') {
    // SLUICE_LOG=0, from before levels, still turns the lines off.
    return boolean(env, 'SLUICE_LOG', true) ? 'info' : 'silent';
  }
  const value = raw.trim().toLowerCase() as LogLevel;
  if (!LOG_LEVELS.includes(value)) {
    throw new Error(`SLUICE_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${raw}"`);
  }
  boolean(env, 'SLUICE_LOG', true);
  return value;
}

/** The fingerprint a key is known by when it has no name: stable on every instance, not the key. */
export function keyFingerprint(key: string): string {
  return `key_${createHash('sha256').update(key).digest('hex').slice(0, 12)}`;
}

/**
 * Gateway keys: SLUICE_API_KEYS when set (it wins over the file), else the file's keys. A
 * key from the environment that the file also lists keeps the file's name and limits.
 */
function apiKeys(env: Environment, file: ConfigFile | undefined): ApiKey[] {
  const fromFile = (file?.keys ?? []).map((entry) => ({
    id: entry.name ?? keyFingerprint(entry.key),
    key: entry.key,
    limits: entry.limits ?? {},
  }));
  if (env.SLUICE_API_KEYS === undefined || env.SLUICE_API_KEYS.trim() === '') return fromFile;
  const keys = list(env, 'SLUICE_API_KEYS');
  for (const key of keys) {
    if (!/^[\x21-\x7e]{1,512}$/.test(key)) {
      throw new Error('SLUICE_API_KEYS must be comma-separated keys of visible ASCII characters (no spaces)');
    }
  }
  return [...new Set(keys)].map(
    (key) => fromFile.find((entry) => entry.key === key) ?? { id: keyFingerprint(key), key, limits: {} },
  );
}

/** Provider base URLs of CONTRACT.md section 1: a malformed one is refused at start. */
const BASE_URL_VARIABLES = [
  'OPENAI_BASE_URL',
  'ANTHROPIC_BASE_URL',
  'GEMINI_BASE_URL',
  'TOGETHER_BASE_URL',
  'OLLAMA_BASE_URL',
];

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

/**
 * The settings, from the environment and, when given, a configuration file (config-file.ts):
 * an environment variable that is set wins over the file. A malformed value is refused with a
 * message that names it, never replaced by a default.
 */
export function loadSettings(env: Environment = process.env, file?: ConfigFile): Settings {
  const retryBase = env.SLUICE_RETRY_BASE_MS;
  for (const name of BASE_URL_VARIABLES) url(env, name, ['http:', 'https:']);
  return {
    host: env.HOST || '127.0.0.1',
    port: integer(env, 'PORT', 8000),
    demo: boolean(env, 'SLUICE_DEMO', false),
    redisUrl: url(env, 'REDIS_URL', ['redis:', 'rediss:']),
    connectTimeoutMs: integer(env, 'SLUICE_CONNECT_TIMEOUT_MS', 5000, 1),
    upstreamHttp2: upstreamHttp2(env, boolean(env, 'SLUICE_DEMO', false)),
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
    apiKeys: apiKeys(env, file),
    rateLimit: rate(env, 'SLUICE_RATE_LIMIT', file?.limits?.rate),
    maxStreamsPerKey: optionalInteger(env, 'SLUICE_MAX_STREAMS_PER_KEY', file?.limits?.max_streams, 1),
    tokensPerMin: optionalInteger(env, 'SLUICE_TOKENS_PER_MIN', file?.limits?.tokens_per_min, 1),
    logLevel: logLevel(env),
    modelAliases: file?.aliases ?? {},
    defaultFallbacks: file?.fallbacks ?? [],
  };
}
