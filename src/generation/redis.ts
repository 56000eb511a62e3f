import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Frame } from '../protocol/frames.js';
import type { Followable, Generation, GenerationInit } from './generation.js';
import { FrameLog, type LogReader } from './log.js';
import { type GenerationResult, resultOf } from './result.js';
import type { CancelOutcome, GenerationStore, MemoryStore, StoreRefusal } from './store.js';

/**
 * Generations shared through Redis, so that any gateway instance can resume, cancel or read a
 * generation that another instance runs. The owner keeps its in-memory log (its readers never
 * wait on Redis) and mirrors it, in order, into a list; other instances mirror the list back
 * into a log of their own and follow it through pub/sub.
 *
 * Keys (all expire): `sluice:gen:{id}:meta` (hash: owner (the instance), client (who started
 * it: a key id or a client address), status), `sluice:gen:{id}:frames`
 * (list of frames as JSON `{"event", "data"}`, index = id - 1), `sluice:gen:{id}:readers`
 * (readers attached on other instances), `sluice:instance:{id}` (the lease of a live instance).
 * Channels: `sluice:gen:{id}` (new frames: the last id, or "end"), `sluice:cancel` (ids).
 *
 * Leases: every instance refreshes its own lease key while it runs. A running generation whose
 * owner's lease has lapsed was left by an instance that died; the first instance that serves a
 * reader or a result of it ends it in Redis, atomically and once, with `error` and `done`.
 */

const PREFIX = 'sluice:gen:';
const CANCEL_CHANNEL = 'sluice:cancel';
/** How long the first connection may take before a gateway that cannot reach Redis gives up starting. */
const CONNECT_TIMEOUT_MS = 5000;
/** Safety bound on a running generation's keys, should its owner die. */
const RUNNING_TTL_SECONDS = 24 * 3600;

const INSTANCE_PREFIX = 'sluice:instance:';
const metaKey = (id: string) => `${PREFIX}${id}:meta`;
const framesKey = (id: string) => `${PREFIX}${id}:frames`;
const readersKey = (id: string) => `${PREFIX}${id}:readers`;
const channel = (id: string) => `${PREFIX}${id}`;

/** A frame as stored in Redis: typed JSON, built around the data JSON the log already encoded. */
function storedFrame(log: LogReader, id: number): string {
  return `{"event":"${log.frame(id).event}","data":${log.dataJson(id)}}`;
}

function parseStoredFrames(texts: readonly string[]): Frame[] {
  return texts.map((text) => JSON.parse(text) as Frame);
}

/**
 * Appends the terminal frames of a generation whose owner's lease lapsed, if it still runs and
 * its owner is still gone; marks it done and wakes its followers. Atomic: it happens once.
 * KEYS: meta, frames. ARGV: instance key prefix, error frame, done frame, ttl seconds, channel.
 */
const END_ORPHAN_SCRIPT = `
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return 0 end
local owner = redis.call('HGET', KEYS[1], 'owner')
if owner and redis.call('EXISTS', ARGV[1] .. owner) == 1 then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[2], ARGV[3])
redis.call('HSET', KEYS[1], 'status', 'done')
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('PUBLISH', ARGV[5], 'end')
return 1
`;

/** The frames that end a generation its instance abandoned, from what its log holds. */
function orphanTerminalFrames(frames: readonly Frame[], now: number): [string, string] {
  const result = resultOf('', frames, false);
  const start = frames[0]?.event === 'start' ? frames[0].data : undefined;
  const envelope = { provider: result.provider, model: result.model };
  const partial = frames.some((frame) => frame.event === 'chunk' || frame.event === 'tool_call_start');
  const output = Math.ceil((result.text.length + result.thinking.length) / 4);
  const error: Frame = {
    event: 'error',
    data: {
      ...envelope,
      code: 'internal',
      message: 'the gateway instance running this generation stopped',
      retryable: true,
      partial,
    },
  };
  const done: Frame = {
    event: 'done',
    data: {
      ...envelope,
      finish_reason: 'error',
      usage: {
        input_tokens: 0,
        output_tokens: output,
        thinking_tokens: null,
        total_tokens: output,
        estimated: true,
      },
      stats: {
        ttft_ms: null,
        duration_ms: start === undefined ? 0 : Math.max(0, now - start.created),
        output_tokens_per_second: null,
        attempts: 1,
      },
    },
  };
  return [JSON.stringify(error), JSON.stringify(done)];
}

export interface RedisStoreOptions {
  /** How long a finished generation stays readable, in seconds. */
  ttlSeconds: number;
  /** How long an instance's lease lasts without a refresh (SLUICE_OWNER_LEASE_MS). */
  leaseMs: number;
}

export class RedisStore implements GenerationStore {
  readonly instanceId = randomBytes(8).toString('hex');
  private readonly client: Redis;
  private readonly subscriber: Redis;
  private readonly listeners = new Map<string, Set<(message: string) => void>>();
  private readonly ttlSeconds: number;
  private readonly leaseMs: number;
  private leaseTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly url: string,
    private readonly local: MemoryStore,
    options: RedisStoreOptions,
  ) {
    this.ttlSeconds = options.ttlSeconds;
    this.leaseMs = options.leaseMs;
    const connection = { maxRetriesPerRequest: 2, enableOfflineQueue: true, lazyConnect: false };
    this.client = new Redis(url, connection);
    this.subscriber = new Redis(url, connection);
    // Connection errors are retried by ioredis; requests that fail surface where they are made.
    this.client.on('error', () => {});
    this.subscriber.on('error', () => {});
    this.subscriber.on('message', (name: string, message: string) => {
      if (name === CANCEL_CHANNEL) {
        this.local.cancelHere(message);
        return;
      }
      for (const listener of this.listeners.get(name) ?? []) listener(message);
    });
  }

  /**
   * Connects both clients, or gives up within `timeoutMs` (at the first connection error) with
   * one line that names Redis and where it was looked for, never the URL's password. On failure
   * both clients are disconnected, so no reconnection loop keeps the process alive.
   */
  async connect(timeoutMs = CONNECT_TIMEOUT_MS): Promise<void> {
    const ready = Promise.all([this.client.ping(), this.subscriber.subscribe(CANCEL_CHANNEL)]);
    ready.catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    let onError: ((error: Error) => void) | undefined;
    const failed = new Promise<never>((_, reject) => {
      onError = reject;
      this.client.once('error', onError);
      this.subscriber.once('error', onError);
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([ready, failed]);
      await this.renewLease();
    } catch (error) {
      await this.close();
      throw new Error(`cannot reach Redis at ${this.where} (REDIS_URL): ${this.reason(error)}`);
    } finally {
      clearTimeout(timer);
      if (onError !== undefined) {
        this.client.off('error', onError);
        this.subscriber.off('error', onError);
      }
    }
    // Three renewals per lease: one missed refresh never makes a live instance look dead.
    this.leaseTimer = setInterval(
      () => void this.renewLease().catch(() => {}),
      Math.max(50, this.leaseMs / 3),
    );
    this.leaseTimer.unref();
  }

  private renewLease(): Promise<unknown> {
    return this.client.set(`${INSTANCE_PREFIX}${this.instanceId}`, '1', 'PX', this.leaseMs);
  }

  /** `host:port` of the Redis URL, without its credentials. */
  private get where(): string {
    try {
      const url = new URL(this.url);
      return `${url.hostname}:${url.port || 6379}`;
    } catch {
      return 'the configured address';
    }
  }

  private reason(error: unknown): string {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ECONNREFUSED') return 'connection refused';
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'unknown host';
    let message = (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
    try {
      const password = decodeURIComponent(new URL(this.url).password);
      if (password !== '') message = message.split(password).join('[redacted]');
    } catch {
      // not a URL: nothing of it is in the message
    }
    return message;
  }

  async close(): Promise<void> {
    // The lease is left to expire: by now every generation this instance ran has ended.
    clearInterval(this.leaseTimer);
    this.local.clear();
    this.client.disconnect();
    this.subscriber.disconnect();
  }

  get size(): number {
    return this.local.size;
  }

  running(): Generation[] {
    return this.local.running();
  }

  start(init: Omit<GenerationInit, 'id'>): Generation | StoreRefusal {
    const generation = this.local.start(init);
    if (typeof generation === 'string') return generation;
    generation.remoteReaders = async () => Number((await this.client.get(readersKey(generation.id))) ?? 0);
    this.mirror(generation);
    return generation;
  }

  /** Mirrors a generation this instance runs into Redis, from its first frame to its end. */
  private mirror(generation: Generation): void {
    const id = generation.id;
    const log = generation.log;
    let mirrored = 0;
    let writing = false;
    let finished = false;
    const flush = async (): Promise<void> => {
      if (writing || finished) return;
      writing = true;
      try {
        while (mirrored < log.lastId || (log.ended && !finished)) {
          const lastId = log.lastId;
          const ended = log.ended;
          const texts: string[] = [];
          for (let frameId = mirrored + 1; frameId <= lastId; frameId++)
            texts.push(storedFrame(log, frameId));
          const batch = this.client.multi();
          if (mirrored === 0) {
            batch
              .hset(metaKey(id), { owner: this.instanceId, client: generation.owner, status: 'running' })
              .expire(metaKey(id), RUNNING_TTL_SECONDS);
          }
          if (texts.length > 0)
            batch.rpush(framesKey(id), ...texts).expire(framesKey(id), RUNNING_TTL_SECONDS);
          if (ended) {
            batch
              .hset(metaKey(id), { status: 'done' })
              .expire(metaKey(id), this.ttlSeconds)
              .expire(framesKey(id), this.ttlSeconds)
              .expire(readersKey(id), this.ttlSeconds);
          }
          batch.publish(channel(id), ended ? 'end' : String(lastId));
          await batch.exec();
          mirrored = lastId;
          if (ended) finished = true;
        }
      } catch {
        // Redis unavailable: local readers are unaffected; other instances cannot follow.
        finished = log.ended;
      } finally {
        writing = false;
      }
    };
    log.subscribe(() => {
      void flush();
    });
    void flush();
  }

  async follow(id: string): Promise<Followable | undefined> {
    return this.local.get(id) ?? (await this.followRemote(id));
  }

  /** A generation that another instance runs, mirrored into a local log through Redis. */
  private async followRemote(id: string): Promise<Followable | undefined> {
    const exists = await this.client.exists(metaKey(id));
    if (!exists) return undefined;
    const log = new FrameLog();
    const name = channel(id);
    // One refresh at a time, re-run when messages arrived meanwhile: frames must be appended
    // in order and exactly once. Status and frames are read in one transaction, so a `done`
    // status always comes with the final frame.
    let refreshing = false;
    let again = false;
    const refresh = async (): Promise<void> => {
      if (refreshing) {
        again = true;
        return;
      }
      refreshing = true;
      try {
        do {
          again = false;
          const replies = await this.client
            .multi()
            .hget(metaKey(id), 'status')
            .lrange(framesKey(id), log.lastId, -1)
            .exec();
          if (log.ended) break;
          const status = replies?.[0]?.[1] as string | null | undefined;
          const texts = (replies?.[1]?.[1] as string[] | undefined) ?? [];
          log.append(parseStoredFrames(texts));
          if (status === 'done' || status === null || status === undefined) log.end();
        } while (again && !log.ended);
      } finally {
        refreshing = false;
      }
    };
    // While the owner is silent, check its lease: a dead owner's generation is ended here.
    const watchdog = setInterval(
      () => {
        void this.endIfOrphaned(id)
          .then((ended) => (ended ? refresh() : undefined))
          .catch(() => {});
      },
      Math.max(50, this.leaseMs / 2),
    );
    watchdog.unref();
    const set = this.listeners.get(name) ?? new Set();
    const release = (): void => {
      clearInterval(watchdog);
      set.delete(onMessage);
      if (set.size === 0) {
        this.listeners.delete(name);
        void this.subscriber.unsubscribe(name).catch(() => {});
      }
    };
    const onMessage = (): void => {
      void refresh()
        .catch(() => log.end())
        .then(() => {
          if (log.ended) release();
        });
    };
    set.add(onMessage);
    this.listeners.set(name, set);
    if (set.size === 1) await this.subscriber.subscribe(name);
    await this.endIfOrphaned(id);
    await refresh();
    if (log.ended) release();
    const client = this.client;
    return {
      id,
      log,
      attachReader() {
        void client
          .multi()
          .incr(readersKey(id))
          .expire(readersKey(id), RUNNING_TTL_SECONDS)
          .exec()
          .catch(() => {});
      },
      detachReader() {
        void client.decr(readersKey(id)).catch(() => {});
        if (log.ended) release();
      },
    };
  }

  async cancel(id: string): Promise<CancelOutcome> {
    const here = this.local.cancelHere(id);
    if (here !== undefined) return here;
    if (await this.endIfOrphaned(id)) return 'ended';
    const status = await this.client.hget(metaKey(id), 'status');
    if (status === null) return 'unknown';
    if (status === 'done') return 'ended';
    await this.client.publish(CANCEL_CHANNEL, id);
    return 'cancelled';
  }

  /**
   * Ends a running generation whose owner's lease lapsed (its instance died). True when this
   * call ended it; false when it runs on a live instance, already ended, or is unknown.
   */
  private async endIfOrphaned(id: string): Promise<boolean> {
    const [status, owner] = await this.client.hmget(metaKey(id), 'status', 'owner');
    if (status !== 'running' || owner === null || owner === this.instanceId) return false;
    if ((await this.client.exists(`${INSTANCE_PREFIX}${owner}`)) === 1) return false;
    const frames = parseStoredFrames(await this.client.lrange(framesKey(id), 0, -1));
    const [error, done] = orphanTerminalFrames(frames, Date.now());
    const ended = await this.client.eval(
      END_ORPHAN_SCRIPT,
      2,
      metaKey(id),
      framesKey(id),
      INSTANCE_PREFIX,
      error,
      done,
      String(this.ttlSeconds),
      channel(id),
    );
    return ended === 1;
  }

  async ownerOf(id: string): Promise<string | undefined> {
    const here = this.local.get(id);
    if (here !== undefined) return here.owner;
    return (await this.client.hget(metaKey(id), 'client')) ?? undefined;
  }

  /** Both connections up and Redis answering a PING within a second. */
  async ready(): Promise<boolean> {
    if (this.client.status !== 'ready' || this.subscriber.status !== 'ready') return false;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), 1000);
    });
    try {
      return await Promise.race([this.client.ping().then(() => true), timeout]);
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  async result(id: string): Promise<GenerationResult | undefined> {
    const here = this.local.get(id);
    if (here !== undefined) return here.result();
    await this.endIfOrphaned(id);
    const replies = await this.client.multi().hget(metaKey(id), 'status').lrange(framesKey(id), 0, -1).exec();
    const status = replies?.[0]?.[1] as string | null | undefined;
    if (status === null || status === undefined) return undefined;
    const texts = (replies?.[1]?.[1] as string[] | undefined) ?? [];
    return resultOf(id, parseStoredFrames(texts), status === 'done');
  }
}
