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
 * time, each generation's reads apart from the others'; collecting a millisecond's worth puts
 * the appends of every generation that read meanwhile into one write (the client pipelines
 * them), instead of one round trip per read. Followers see frames that much later at most.
 */
const COLLECT_MS = 1;

/** Mirrors with frames to send, flushed together when the collection window closes. */
const due = new Set<() => void>();
let collecting = false;

function flushSoon(flush: () => void): void {
  due.add(flush);
  if (collecting) return;
  collecting = true;
  setTimeout(flushCollected, COLLECT_MS);
}

/** Sends what every mirror collected, now (the window's end, or a shutdown that cannot wait). */
export function flushCollected(): void {
  collecting = false;
  const flushes = [...due];
  due.clear();
  for (const each of flushes) each();
}

/** One generation's append (APPEND_SCRIPT): its three keys, then its arguments; its result out. */
export type Append = (keysAndArgs: readonly string[]) => Promise<number>;

const APPEND_COMMAND = 'sluiceAppend';

/** Arguments (frames mostly) past which a call is sent and the next appends start another. */
const MAX_CALL_ARGUMENTS = 8192;

interface QueuedAppend {
  keysAndArgs: readonly string[];
  resolve(result: number): void;
  reject(error: unknown): void;
}

/**
 * The append script as a command of `client`, with the appends asked for in the same moment (the
 * mirrors flushed at the end of one collection window) sent as one call: one command, one reply,
 * whatever the number of generations. ioredis sends it as EVALSHA, with the script's text (EVAL)
 * only the first time on each connection and again after a NOSCRIPT (a restarted Redis).
 */
export function defineAppend(client: Redis): Append {
  client.defineCommand(APPEND_COMMAND, { lua: APPEND_SCRIPT });
  const command = (client as unknown as Record<string, (...args: string[]) => Promise<unknown>>)[
    APPEND_COMMAND
  ];
  if (command === undefined) throw new Error('ioredis did not define the append command');
  let queued: QueuedAppend[] = [];
  let queuedArguments = 0;

  const send = (): void => {
    const batch = queued;
    queued = [];
    queuedArguments = 0;
    if (batch.length === 0) return;
    const keys: string[] = [];
    const args: string[] = [String(batch.length)];
    for (const { keysAndArgs } of batch) {
      keys.push(keysAndArgs[0] ?? '', keysAndArgs[1] ?? '', keysAndArgs[2] ?? '');
      args.push(String(keysAndArgs.length - 3));
      for (let index = 3; index < keysAndArgs.length; index++) args.push(keysAndArgs[index] ?? '');
    }
    command.call(client, String(keys.length), ...keys, ...args).then(
      (replies) => {
        const results = Array.isArray(replies) ? replies : [];
        batch.forEach((item, index) => {
          const result = results[index];
          if (typeof result === 'number') item.resolve(result);
          else item.reject(new Error('Redis gave no result for an append'));
        });
      },
      (error: unknown) => {
        for (const item of batch) item.reject(error);
      },
    );
  };

  return (keysAndArgs) =>
    new Promise<number>((resolve, reject) => {
      if (queued.length > 0 && queuedArguments + keysAndArgs.length > MAX_CALL_ARGUMENTS) send();
      if (queued.length === 0) queueMicrotask(send);
      queued.push({ keysAndArgs, resolve, reject });
      queuedArguments += keysAndArgs.length;
    });
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
 * lacks, so nothing is lost and nothing is stored twice. Resolves once the end is in Redis (or
 * the mirror gave up, or another instance ended the generation).
 */
export function mirrorGeneration(
  append: Append,
  generation: Generation,
  options: MirrorOptions,
): Promise<void> {
  const id = generation.id;
  const log = generation.log;
  const keys = [metaKey(id), framesKey(id), readersKey(id)];
  let mirrored = 0;
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
    const frames: string[] = [];
    for (let frameId = mirrored + 1; frameId <= lastId; frameId++) frames.push(storedFrame(log, frameId));
    const reply = await append([
      ...keys,
      String(mirrored),
      options.instanceId,
      ended ? '1' : '0',
      String(RUNNING_TTL_SECONDS),
      String(options.ttlSeconds),
      channel(id),
      generation.owner,
      ...frames,
    ]);
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
  log.subscribe(() => flushSoon(flushNow));
  flushSoon(flushNow);
  return finished;
}
