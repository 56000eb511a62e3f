import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { StreamErrorCode } from '../protocol/frames.js';
import type { Generation, GenerationSummary } from './generation.js';
import type { FrameLog } from './log.js';

/**
 * Generations in Redis, so that any gateway instance can resume, cancel or read a generation
 * that another instance runs. The owner keeps its in-memory log (its readers never wait on
 * Redis) and mirrors it, in order, into a list; other instances mirror the list back into
 * memory and follow it through pub/sub.
 *
 * Keys (all expire): `sluice:gen:{id}:meta` (hash), `sluice:gen:{id}:frames` (list of SSE
 * text, index = id - 1), `sluice:gen:{id}:readers` (readers attached on other instances).
 * Channels: `sluice:gen:{id}` (new frames: the last id, or "end"), `sluice:cancel` (ids).
 */

const PREFIX = 'sluice:gen:';
const CANCEL_CHANNEL = 'sluice:cancel';
/** Safety bound on a running generation's keys, should its owner die. */
const RUNNING_TTL_SECONDS = 24 * 3600;

const metaKey = (id: string) => `${PREFIX}${id}:meta`;
const framesKey = (id: string) => `${PREFIX}${id}:frames`;
const readersKey = (id: string) => `${PREFIX}${id}:readers`;
const channel = (id: string) => `${PREFIX}${id}`;

/** What the SSE writer needs of a generation, local or remote. */
export interface Followable {
  readonly id: string;
  readonly log: FrameLog;
  attachReader(): void;
  detachReader(): void;
}

/** The result endpoint's body, for a generation on another instance. */
export type RemoteResult = Record<string, unknown>;

export class RedisGenerations {
  readonly instanceId = randomBytes(8).toString('hex');
  private readonly client: Redis;
  private readonly subscriber: Redis;
  private readonly listeners = new Map<string, Set<(message: string) => void>>();
  private readonly local = new Map<string, Generation>();

  constructor(
    url: string,
    private readonly ttlSeconds: number,
  ) {
    const options = { maxRetriesPerRequest: 2, enableOfflineQueue: true, lazyConnect: false };
    this.client = new Redis(url, options);
    this.subscriber = new Redis(url, options);
    // Connection errors are retried by ioredis; requests that fail surface where they are made.
    this.client.on('error', () => {});
    this.subscriber.on('error', () => {});
    this.subscriber.on('message', (name: string, message: string) => {
      if (name === CANCEL_CHANNEL) {
        this.local.get(message)?.cancel('cancelled');
        return;
      }
      for (const listener of this.listeners.get(name) ?? []) listener(message);
    });
  }

  async start(): Promise<void> {
    await this.subscriber.subscribe(CANCEL_CHANNEL);
  }

  async close(): Promise<void> {
    this.client.disconnect();
    this.subscriber.disconnect();
  }

  /** Mirrors a generation this instance runs into Redis, from its first frame to its end. */
  publish(generation: Generation): void {
    const id = generation.id;
    this.local.set(id, generation);
    let mirrored = 0;
    let writing = false;
    let finished = false;
    const meta = {
      provider: generation.provider,
      model: generation.model,
      emulated: String(generation.emulated),
      created: String(generation.createdAt),
      owner: this.instanceId,
      status: 'running',
    };
    const flush = async (): Promise<void> => {
      if (writing || finished) return;
      writing = true;
      try {
        while (mirrored < generation.log.lastId || (generation.log.ended && !finished)) {
          const lastId = generation.log.lastId;
          const ended = generation.log.ended;
          const texts = generation.log.slice(mirrored, lastId);
          const batch = this.client.multi();
          if (mirrored === 0) batch.hset(metaKey(id), meta).expire(metaKey(id), RUNNING_TTL_SECONDS);
          if (texts.length > 0)
            batch.rpush(framesKey(id), ...texts).expire(framesKey(id), RUNNING_TTL_SECONDS);
          if (ended) {
            batch
              .hset(metaKey(id), { status: 'done', result: JSON.stringify(generation.result()) })
              .expire(metaKey(id), this.ttlSeconds)
              .expire(framesKey(id), this.ttlSeconds)
              .expire(readersKey(id), this.ttlSeconds);
          }
          batch.publish(channel(id), ended ? 'end' : String(lastId));
          await batch.exec();
          mirrored = lastId;
          if (ended) {
            finished = true;
            this.local.delete(id);
          }
        }
      } catch {
        // Redis unavailable: local readers are unaffected; other instances cannot follow.
        finished = generation.log.ended;
      } finally {
        writing = false;
      }
    };
    generation.log.subscribe(() => {
      void flush();
    });
    void flush();
  }

  /** Readers attached on other instances (the owner's grace period waits for them too). */
  async remoteReaders(id: string): Promise<number> {
    const value = await this.client.get(readersKey(id));
    return Number(value ?? 0);
  }

  /** A generation that another instance runs, followed through Redis; undefined when unknown. */
  async follow(id: string): Promise<Followable | undefined> {
    const exists = await this.client.exists(metaKey(id));
    if (!exists) return undefined;
    const log = new RemoteFrameLog();
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
          const status = replies?.[0]?.[1] as string | null | undefined;
          const texts = (replies?.[1]?.[1] as string[] | undefined) ?? [];
          log.extend(texts, status === 'done' || status === null || status === undefined);
        } while (again && !log.ended);
      } finally {
        refreshing = false;
      }
    };
    const onMessage = (): void => {
      void refresh().catch(() => log.extend([], true));
    };
    const set = this.listeners.get(name) ?? new Set();
    set.add(onMessage);
    this.listeners.set(name, set);
    if (set.size === 1) await this.subscriber.subscribe(name);
    await refresh();
    const release = (): void => {
      set.delete(onMessage);
      if (set.size === 0) {
        this.listeners.delete(name);
        void this.subscriber.unsubscribe(name).catch(() => {});
      }
    };
    log.onEnd(release);
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

  /** Asks the owner to cancel. */
  async cancel(id: string): Promise<'cancelled' | 'ended' | 'unknown'> {
    const status = await this.client.hget(metaKey(id), 'status');
    if (status === null) return 'unknown';
    if (status === 'done') return 'ended';
    await this.client.publish(CANCEL_CHANNEL, id);
    return 'cancelled';
  }

  /** The accumulated result of a generation run elsewhere. */
  async result(id: string): Promise<RemoteResult | undefined> {
    const meta = await this.client.hgetall(metaKey(id));
    if (meta.provider === undefined) return undefined;
    if (meta.status === 'done' && meta.result) return JSON.parse(meta.result) as RemoteResult;
    const texts = await this.client.lrange(framesKey(id), 0, -1);
    return {
      ...summaryFromFrames(texts),
      generation_id: id,
      status: 'running',
      provider: meta.provider,
      model: meta.model,
    };
  }
}

/** Rebuilds the accumulated text of a running remote generation from its SSE frames. */
function summaryFromFrames(texts: readonly string[]): Record<string, unknown> {
  const summary: GenerationSummary = {
    textPieces: [],
    thinkingPieces: [],
    toolCalls: [],
    finishReason: null,
    usage: null,
    stats: null,
    error: null,
  };
  for (const text of texts) {
    const event = /\nevent: ([a-z_]+)\n/.exec(text)?.[1];
    const dataLine = text.slice(text.indexOf('\ndata: ') + 7, text.lastIndexOf('\n\n'));
    if (event !== 'chunk' && event !== 'thinking' && event !== 'tool_call' && event !== 'error') continue;
    const data = JSON.parse(dataLine) as {
      delta_text: string;
      index: number;
      id: string;
      name: string;
      arguments: string;
      code: StreamErrorCode;
      message: string;
      retryable: boolean;
      partial: boolean;
    };
    if (event === 'chunk') summary.textPieces.push(data.delta_text);
    else if (event === 'thinking') summary.thinkingPieces.push(data.delta_text);
    else if (event === 'tool_call') {
      summary.toolCalls.push({ index: data.index, id: data.id, name: data.name, arguments: data.arguments });
    } else
      summary.error = {
        code: data.code,
        message: data.message,
        retryable: data.retryable,
        partial: data.partial,
      };
  }
  return {
    text: summary.textPieces.join(''),
    thinking: summary.thinkingPieces.join(''),
    tool_calls: summary.toolCalls,
    finish_reason: null,
    usage: null,
    error: summary.error,
  };
}

/** A local mirror of a remote generation's frames; the SSE writer reads it like a local log. */
class RemoteFrameLog implements FrameLog {
  private readonly texts: string[] = [];
  private readonly listeners = new Set<() => void>();
  private readonly endListeners: (() => void)[] = [];
  private closed = false;
  private bytes = 0;

  get lastId(): number {
    return this.texts.length;
  }
  get ended(): boolean {
    return this.closed;
  }
  get sizeBytes(): number {
    return this.bytes;
  }

  extend(texts: readonly string[], ended: boolean): void {
    if (this.closed) return;
    for (const text of texts) {
      this.texts.push(text);
      this.bytes += text.length;
    }
    if (ended) this.closed = true;
    if (texts.length > 0 || ended) for (const listener of this.listeners) listener();
    if (ended) {
      this.listeners.clear();
      for (const listener of this.endListeners.splice(0)) listener();
    }
  }

  onEnd(listener: () => void): void {
    if (this.closed) listener();
    else this.endListeners.push(listener);
  }

  append(): void {
    throw new Error('a remote generation log is read-only');
  }

  end(): void {
    this.extend([], true);
  }

  textAfter(afterId: number): string {
    return afterId >= this.texts.length ? '' : this.texts.slice(Math.max(0, afterId)).join('');
  }

  slice(from: number, to: number): string[] {
    return this.texts.slice(from, to);
  }

  subscribe(listener: () => void): () => void {
    if (this.closed) return () => {};
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }
}
