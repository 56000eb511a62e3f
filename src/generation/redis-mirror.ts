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

/** The owner's append (APPEND_SCRIPT): keys and arguments in, the script's reply out. */
export type Append = (keysAndArgs: readonly string[]) => Promise<unknown>;

const APPEND_COMMAND = 'sluiceAppend';

/**
 * The append script as a command of `client`: ioredis sends it as EVALSHA, with the script's
 * text (EVAL) only the first time on each connection and again after a NOSCRIPT (a restarted
 * Redis), instead of a kilobyte of Lua with every append.
 */
export function defineAppend(client: Redis): Append {
  client.defineCommand(APPEND_COMMAND, { numberOfKeys: 3, lua: APPEND_SCRIPT });
  const command = (client as unknown as Record<string, (...args: string[]) => Promise<unknown>>)[
    APPEND_COMMAND
  ];
  if (command === undefined) throw new Error('ioredis did not define the append command');
  return (keysAndArgs) => command.apply(client, keysAndArgs as string[]);
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
export function mirrorGeneration(append: Append, generation: Generation, options: MirrorOptions): void {
  const id = generation.id;
  const log = generation.log;
  const keys = [metaKey(id), framesKey(id), readersKey(id)];
  let mirrored = 0;
  let endMirrored = false;
  let writing = false;
  let failures = 0;
  let failingSince: number | undefined;
  let retry: NodeJS.Timeout | undefined;

  const pending = (): boolean => !endMirrored && (mirrored < log.lastId || log.ended);

  const appendOnce = async (): Promise<void> => {
    const lastId = Math.min(log.lastId, mirrored + BATCH_FRAMES);
    const ended = log.ended && lastId === log.lastId;
    const frames: string[] = [];
    for (let frameId = mirrored + 1; frameId <= lastId; frameId++) frames.push(storedFrame(log, frameId));
    const reply = Number(
      await append([
        ...keys,
        String(mirrored),
        options.instanceId,
        ended ? '1' : '0',
        String(RUNNING_TTL_SECONDS),
        String(options.ttlSeconds),
        channel(id),
        generation.owner,
        ...frames,
      ]),
    );
    if (reply === -2) {
      // Another instance ended it while this one was cut off from Redis: stop mirroring.
      endMirrored = true;
      return;
    }
    if (reply >= 0) {
      // Redis holds fewer frames than sent before (it restarted): send again from there.
      mirrored = reply;
      return;
    }
    mirrored = lastId;
    if (ended) endMirrored = true;
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
        endMirrored = true;
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

  log.subscribe(() => {
    void flush();
  });
  void flush();
}
