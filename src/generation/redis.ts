import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { RequestError } from '../core/errors.js';
import type { Frame } from '../protocol/frames.js';
import type { Followable, Generation, GenerationInit } from './generation.js';
import { FrameLog } from './log.js';
import {
  CANCEL_CHANNEL,
  channel,
  END_ORPHAN_SCRIPT,
  FOLLOW_CHANNEL,
  framesKey,
  INSTANCE_PREFIX,
  metaKey,
  orphanTerminalFrames,
  parseFramesMessage,
  parseStoredFrames,
  RUNNING_TTL_SECONDS,
  readersKey,
} from './redis-keys.js';
import {
  type Append,
  defineAppend,
  flushCollected,
  type MirrorHandle,
  mirrorGeneration,
} from './redis-mirror.js';
import { type GenerationResult, resultOf } from './result.js';
import type { CancelOutcome, GenerationStore, MemoryStore, StoreRefusal } from './store.js';

/**
 * Generations shared through Redis, so that any gateway instance can resume, cancel or read a
 * generation that another instance runs. The owner keeps its in-memory log (its readers never
 * wait on Redis) and mirrors it, in order, into a list; other instances mirror the list back
 * into a log of their own and follow it through pub/sub (messages carry the new frames).
 *
 * Keys (all expire): `sluice:gen:{id}:meta` (hash: owner, status), `sluice:gen:{id}:frames`
 * (list of frames as JSON `{"event", "data"}`, index = id - 1), `sluice:gen:{id}:readers`
 * (readers attached on other instances), `sluice:instance:{id}` (the lease of a live instance).
 * Channels: `sluice:gen:{id}` (new frames), `sluice:cancel` (ids).
 *
 * Leases: every instance refreshes its own lease key while it runs. A running generation whose
 * owner's lease has lapsed was left by an instance that died; the first instance that serves a
 * reader or a result of it ends it in Redis, atomically and once, with `error` and `done`.
 */

/** How long the first connection may take before a gateway that cannot reach Redis gives up starting. */
const CONNECT_TIMEOUT_MS = 5000;
/** How long closing waits for the last appends to reach Redis. */
const CLOSE_FLUSH_MS = 1000;

export interface RedisStoreOptions {
  /** How long a finished generation stays readable, in seconds. */
  ttlSeconds: number;
  /** How long an instance's lease lasts without a refresh (SLUICE_OWNER_LEASE_MS). */
  leaseMs: number;
}

export class RedisStore implements GenerationStore {
  readonly instanceId = randomBytes(8).toString('hex');
  private readonly client: Redis;
  private readonly append: Append;
  private readonly subscriber: Redis;
  private readonly listeners = new Map<string, Set<(message: string) => void>>();
  /** Mirrors of the generations run here whose end is not in Redis yet, by generation id. */
  private readonly mirrors = new Map<string, MirrorHandle>();
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
    // Commands issued within one turn of the event loop (the appends of every generation whose
    // upstream read arrived in it) go out in one write, and Redis answers them in one.
    this.client = new Redis(url, { ...connection, enableAutoPipelining: true });
    this.subscriber = new Redis(url, connection);
    this.append = defineAppend(this.client);
    // Connection errors are retried by ioredis; requests that fail surface where they are made.
    this.client.on('error', () => {});
    this.subscriber.on('error', () => {});
    this.subscriber.on('message', (name: string, message: string) => {
      if (name === CANCEL_CHANNEL) {
        this.local.cancelHere(message);
        return;
      }
      if (name === FOLLOW_CHANNEL) {
        this.mirrors.get(message)?.followed();
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
    const ready = Promise.all([
      this.client.ping(),
      this.subscriber.subscribe(CANCEL_CHANNEL, FOLLOW_CHANNEL),
    ]);
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
    // The lease is left to expire: by now every generation this instance ran has ended. Their
    // last frames may still be on their way to Redis: sent now, and waited for (bounded).
    clearInterval(this.leaseTimer);
    if (this.mirrors.size > 0) {
      flushCollected();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all([...this.mirrors.values()].map((mirror) => mirror.finished)),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, CLOSE_FLUSH_MS);
        }),
      ]);
      clearTimeout(timer);
    }
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
    const mirror = mirrorGeneration(this.append, generation, {
      instanceId: this.instanceId,
      ttlSeconds: this.ttlSeconds,
      giveUpMs: this.ttlSeconds * 1000,
    });
    this.mirrors.set(generation.id, mirror);
    void mirror.finished.then(() => this.mirrors.delete(generation.id));
    return generation;
  }

  async follow(id: string): Promise<Followable | undefined> {
    return this.local.get(id) ?? (await this.remote(() => this.followRemote(id)));
  }

  /**
   * A call that needs Redis (a generation another instance runs): while Redis cannot be
   * reached, a clear 503 at once instead of a request that waits on a reconnecting client.
   */
  private async remote<T>(call: () => Promise<T>): Promise<T> {
    const unavailable = () =>
      new RequestError(
        'unavailable',
        `generations run by other instances cannot be reached while Redis (${this.where}) is unavailable; try again shortly`,
      );
    if (this.client.status !== 'ready') throw unavailable();
    try {
      return await call();
    } catch (error) {
      if (error instanceof RequestError) throw error;
      throw unavailable();
    }
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
    let missingSince: number | undefined;
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
          if (status === 'done' || status === 'running') {
            missingSince = undefined;
            log.append(parseStoredFrames(texts));
            if (status === 'done') log.end();
          } else {
            // Gone from Redis: it restarted empty and the owner is sending it again, or, past
            // the bound, it is lost (its owner died meanwhile): end the reader's stream then.
            missingSince ??= Date.now();
            if (Date.now() - missingSince > 2 * this.leaseMs) endLost(log);
          }
        } while (again && !log.ended);
      } finally {
        refreshing = false;
      }
    };
    // While the owner is silent, check its lease (a dead owner's generation is ended here) and
    // read what may have been missed while the subscription was down.
    const watchdog = setInterval(
      () => {
        void this.endIfOrphaned(id)
          .then(() => refresh())
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
    /**
     * The frames the message carries, appended at once when they follow what the log holds
     * (no read back from Redis: a follower is one hop behind the owner, not two). False when
     * they cannot be: a read is running (it appends in order), a gap, or no frames in it.
     */
    const applyMessage = (message: string): boolean => {
      if (log.ended) return true;
      if (refreshing) return false;
      const frames = parseFramesMessage(message);
      if (frames === undefined || frames.after > log.lastId) return false;
      const fresh = frames.texts.slice(log.lastId - frames.after);
      if (fresh.length > 0 || frames.after + frames.texts.length === log.lastId) {
        log.append(parseStoredFrames(fresh));
        missingSince = undefined;
        if (frames.ended) log.end();
      }
      return true;
    };
    const onMessage = (message: string): void => {
      let applied = false;
      try {
        applied = applyMessage(message);
      } catch {
        // Not frames this code wrote (another publisher on the channel): the list is the record.
      }
      if (applied) {
        if (log.ended) release();
        return;
      }
      void refresh()
        // Redis went away mid-read: the watchdog reads again once it is back.
        .catch(() => {})
        .then(() => {
          if (log.ended) release();
        });
    };
    set.add(onMessage);
    this.listeners.set(name, set);
    if (set.size === 1) await this.subscriber.subscribe(name);
    // Its owner, if it runs, sends what it holds at once and keeps up from now on.
    void this.client.publish(FOLLOW_CHANNEL, id).catch(() => {});
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
    return this.remote(() => this.cancelRemote(id));
  }

  private async cancelRemote(id: string): Promise<CancelOutcome> {
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

  /** Who started a generation (a key id or a client address), wherever it runs. */
  async ownerOf(id: string): Promise<string | undefined> {
    const here = this.local.get(id);
    if (here !== undefined) return here.owner;
    return (await this.remote(() => this.client.hget(metaKey(id), 'client'))) ?? undefined;
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
    return this.remote(() => this.resultRemote(id));
  }

  private async resultRemote(id: string): Promise<GenerationResult | undefined> {
    await this.endIfOrphaned(id);
    const replies = await this.client.multi().hget(metaKey(id), 'status').lrange(framesKey(id), 0, -1).exec();
    const status = replies?.[0]?.[1] as string | null | undefined;
    if (status === null || status === undefined) return undefined;
    const texts = (replies?.[1]?.[1] as string[] | undefined) ?? [];
    return resultOf(id, parseStoredFrames(texts), status === 'done');
  }
}

/** Ends a follower's mirror of a generation that vanished from Redis, with `error` and `done`. */
function endLost(log: FrameLog): void {
  const [error, done] = orphanTerminalFrames(log.all(), Date.now());
  const frames = [JSON.parse(error) as Frame, JSON.parse(done) as Frame];
  const message = 'the generation was lost from Redis before it ended';
  if (frames[0]?.event === 'error') frames[0].data.message = message;
  log.append(frames);
  log.end();
}
