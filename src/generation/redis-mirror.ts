import type { Redis } from 'ioredis';
import type { Generation } from './generation.js';
import {
  APPEND_SCRIPT,
  channel,
  framesKey,
  metaKey,
  RUNNING_TTL_SECONDS,
  readersKey,
  storedFrame,
} from './redis-keys.js';

/** Most frames sent in one append: a resend after a Redis restart goes in bounded pieces. */
const BATCH_FRAMES = 512;
/** Waits between attempts while Redis cannot be reached, doubling up to the last. */
const RETRY_DELAYS_MS = [100, 250, 500, 1000, 2000];

/**
 * How long frames wait to be sent with those of other generations. Tokens arrive a read at a
 * time, each generation's reads apart from the others'; collecting a while's worth puts the
 * appends of every generation that read meanwhile into one call, instead of one round trip per
 * read. While another instance follows a generation, its frames wait a millisecond at most.
 * While none does, Redis only keeps the record for a resume elsewhere, and they wait longer: a
 * generation's first frames and its end never wait, and an instance that begins to follow says
 * so on `FOLLOW_CHANNEL` (see `MirrorHandle.followed`).
 */
const FOLLOWED_COLLECT_MS = 1;
const UNFOLLOWED_COLLECT_MS = 50;

/** Mirrors with frames to send, flushed together when their collection window closes. */
interface CollectWindow {
  readonly delayMs: number;
  readonly due: Set<() => void>;
  timer: NodeJS.Timeout | undefined;
}

const followedWindow: CollectWindow = { delayMs: FOLLOWED_COLLECT_MS, due: new Set(), timer: undefined };
const unfollowedWindow: CollectWindow = { delayMs: UNFOLLOWED_COLLECT_MS, due: new Set(), timer: undefined };

function flushSoon(window: CollectWindow, flush: () => void): void {
  window.due.add(flush);
  if (window.timer !== undefined) return;
  window.timer = setTimeout(() => closeWindow(window), window.delayMs);
}

function closeWindow(window: CollectWindow): void {
  clearTimeout(window.timer);
  window.timer = undefined;
  const flushes = [...window.due];
  window.due.clear();
  for (const each of flushes) each();
}

/** Sends what every mirror collected, now (a shutdown that cannot wait). */
export function flushCollected(): void {
  closeWindow(followedWindow);
  closeWindow(unfollowedWindow);
}

/**
 * One generation's append (APPEND_SCRIPT): its three keys (meta, frames, readers) and its
 * arguments (after, owner, ended, ttls, channel, client, frames...); its result out.
 */
export type Append = (keys: readonly string[], args: readonly string[]) => Promise<number>;

const APPEND_COMMAND = 'sluiceAppend';

/** Arguments (frames mostly) past which a call is sent and the next appends start another. */
const MAX_CALL_ARGUMENTS = 8192;

interface PendingResult {
  resolve(result: number): void;
  reject(error: unknown): void;
}

/**
 * The append script as a command of `client`, with the appends asked for in the same moment (the
 * mirrors flushed at the end of one collection window) sent as one call: one command, one reply,
 * whatever the number of generations. Each append's keys and arguments are copied once, into the
 * call's. ioredis sends it as EVALSHA, with the script's text (EVAL) only the first time on each
 * connection and again after a NOSCRIPT (a restarted Redis).
 */
export function defineAppend(client: Redis): Append {
  client.defineCommand(APPEND_COMMAND, { lua: APPEND_SCRIPT });
  const command = (client as unknown as Record<string, (...args: string[]) => Promise<unknown>>)[
    APPEND_COMMAND
  ];
  if (command === undefined) throw new Error('ioredis did not define the append command');
  let results: PendingResult[] = [];
  let keys: string[] = [];
  let args: string[] = [];

  const send = (): void => {
    const batch = results;
    if (batch.length === 0) return;
    const call = [String(keys.length)].concat(keys, String(batch.length), args);
    results = [];
    keys = [];
    args = [];
    command.apply(client, call).then(
      (replies) => {
        const values = Array.isArray(replies) ? replies : [];
        batch.forEach((item, index) => {
          const value = values[index];
          if (typeof value === 'number') item.resolve(value);
          else item.reject(new Error('Redis gave no result for an append'));
        });
      },
      (error: unknown) => {
        for (const item of batch) item.reject(error);
      },
    );
  };

  return (appendKeys, appendArgs) =>
    new Promise<number>((resolve, reject) => {
      if (results.length > 0 && args.length + appendArgs.length > MAX_CALL_ARGUMENTS) send();
      if (results.length === 0) queueMicrotask(send);
      results.push({ resolve, reject });
      for (const key of appendKeys) keys.push(key);
      args.push(String(appendArgs.length));
      for (const arg of appendArgs) args.push(arg);
    });
}

/** A generation being mirrored. */
export interface MirrorHandle {
  /** Resolves once the end is in Redis (or the mirror gave up, or another instance ended it). */
  readonly finished: Promise<void>;
  /** Another instance follows the generation now: send what it lacks at once, and keep up. */
  followed(): void;
}

export interface MirrorOptions {
  instanceId: string;
  /** How long a finished generation's keys live. */
  ttlSeconds: number;
  /** Give up on a generation Redis has not taken for this long (its keys would have expired). */
  giveUpMs: number;
}

/**
 * Mirrors a generation this instance runs into Redis, from its first frame to its end: one
 * scripted append per upstream read (everything new since the last one), never waiting on
 * Redis for the local readers. While Redis cannot be reached, the stream goes on and the
 * mirror retries with backoff; once Redis is back (even restarted empty) it sends what Redis
 * lacks, so nothing is lost and nothing is stored twice.
 */
export function mirrorGeneration(
  append: Append,
  generation: Generation,
  options: MirrorOptions,
): MirrorHandle {
  const id = generation.id;
  const log = generation.log;
  const keys = [metaKey(id), framesKey(id), readersKey(id)];
  let mirrored = 0;
  /** Whether the last append found an instance following (publishing to it). */
  let followed = false;
  let endMirrored = false;
  let writing = false;
  let failures = 0;
  let failingSince: number | undefined;
  let retry: NodeJS.Timeout | undefined;
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const stop = (): void => {
    endMirrored = true;
    finish();
  };

  const pending = (): boolean => !endMirrored && (mirrored < log.lastId || log.ended);

  const appendOnce = async (): Promise<void> => {
    const lastId = Math.min(log.lastId, mirrored + BATCH_FRAMES);
    const ended = log.ended && lastId === log.lastId;
    const args = [
      String(mirrored),
      options.instanceId,
      ended ? '1' : '0',
      String(RUNNING_TTL_SECONDS),
      String(options.ttlSeconds),
      channel(id),
      generation.owner,
    ];
    for (let frameId = mirrored + 1; frameId <= lastId; frameId++) args.push(storedFrame(log, frameId));
    const reply = await append(keys, args);
    if (reply === -2) {
      // Another instance ended it while this one was cut off from Redis: stop mirroring.
      stop();
      return;
    }
    if (reply >= 0) {
      // Redis holds fewer frames than sent before (it restarted): send again from there.
      mirrored = reply;
      return;
    }
    mirrored = lastId;
    followed = reply === -1;
    if (ended) stop();
  };

  const flush = async (): Promise<void> => {
    if (writing || retry !== undefined) return;
    writing = true;
    try {
      while (pending()) await appendOnce();
      failures = 0;
      failingSince = undefined;
    } catch {
      // Redis unreachable: the local readers are unaffected; try again a little later.
      failingSince ??= Date.now();
      if (Date.now() - failingSince > options.giveUpMs) {
        stop();
        return;
      }
      const delay = RETRY_DELAYS_MS[Math.min(failures, RETRY_DELAYS_MS.length - 1)] ?? 2000;
      failures++;
      retry = setTimeout(() => {
        retry = undefined;
        void flush();
      }, delay);
      retry.unref();
    } finally {
      writing = false;
    }
  };

  const flushNow = (): void => void flush();
  const schedule = (): void => {
    // The first frames (another instance may look the generation up at once) and the end go now.
    if (mirrored === 0 || log.ended) queueMicrotask(flushNow);
    else flushSoon(followed ? followedWindow : unfollowedWindow, flushNow);
  };
  log.subscribe(schedule);
  schedule();
  return {
    finished,
    followed: () => {
      followed = true;
      flushNow();
    },
  };
}
