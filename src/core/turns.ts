import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

/**
 * How the gateway shares one event-loop thread between new requests and the streams already
 * running.
 *
 * One upstream read can carry chunks for hundreds of streams (an HTTP/2 connection delivers a
 * burst of frames at once). Handled all at once, that burst holds the thread for milliseconds,
 * and a request that arrives meanwhile waits in its socket until the burst is done: under load
 * that wait is most of what the gateway adds to the time to the first token. So a stream's reads
 * after its first content wait here and run in slices of at most `SLICE_MS`; between slices the
 * event loop reads its sockets again, and a new request (and a stream's first content) goes
 * first. Nothing waits long: a slice starts in the same turn the read arrived in, once that
 * turn's reads are handled.
 *
 * Each stream is a `Lane`: its tasks run in the order given, whichever run at once and whichever
 * waited. What waits is bounded (`MAX_DEFERRED_TASKS`, `MAX_DEFERRED_BYTES`); past either bound
 * everything waiting runs at once, which is how the gateway worked without slices.
 *
 * Writes to readers are held here too (`holdUntilTurnEnd`): every reader fed in a slice writes in
 * one run at its end.
 */

/**
 * Longest run of waiting tasks before the event loop gets to read its sockets again. At 512 paced
 * streams, 0.2 ms gave a first token 1 to 2 ms sooner at the median and a shorter tail than
 * 0.5 ms at the same CPU; 0.1 ms cost more CPU for little more (docs/benchmarks.md).
 */
export const SLICE_MS = 0.2;
/** Most tasks waiting at once. */
export const MAX_DEFERRED_TASKS = 1024;
/** Most bytes (upstream reads) the waiting tasks may hold. */
export const MAX_DEFERRED_BYTES = 4 * 1024 * 1024;

/** The waiting tasks and what each is given: a ring of fixed size, so waiting allocates nothing. */
const tasks: (((value: never) => void) | undefined)[] = new Array(MAX_DEFERRED_TASKS).fill(undefined);
const values: unknown[] = new Array(MAX_DEFERRED_TASKS).fill(undefined);
const lanes: (Lane | undefined)[] = new Array(MAX_DEFERRED_TASKS).fill(undefined);
const sizes = new Float64Array(MAX_DEFERRED_TASKS);
let head = 0;
let count = 0;
let bytes = 0;
let scheduled = false;
let draining = false;

/** One stream's tasks, in order. */
export class Lane {
  /** Tasks of this lane waiting. */
  waiting = 0;

  /**
   * Runs `task(value)` now when `now` is true and nothing of this lane waits; otherwise after the
   * lane's waiting tasks, in a slice. `size` is what the task holds (an upstream read's bytes).
   * The value is passed apart so that a read costs no closure.
   */
  run<T>(task: (value: T) => void, value: T, size: number, now: boolean): void {
    if (now && this.waiting === 0) {
      task(value);
      return;
    }
    if (count === MAX_DEFERRED_TASKS || bytes + size > MAX_DEFERRED_BYTES) runAll();
    const at = (head + count) % MAX_DEFERRED_TASKS;
    tasks[at] = task as (value: never) => void;
    values[at] = value;
    lanes[at] = this;
    sizes[at] = size;
    count++;
    bytes += size;
    this.waiting++;
    if (!scheduled) {
      scheduled = true;
      setImmediate(drain);
    }
  }
}

/** Takes the oldest waiting task off the ring and runs it. */
function runNext(): void {
  const task = tasks[head] as (value: unknown) => void;
  const value = values[head];
  const lane = lanes[head] as Lane;
  bytes -= sizes[head] ?? 0;
  tasks[head] = undefined;
  values[head] = undefined;
  lanes[head] = undefined;
  head = (head + 1) % MAX_DEFERRED_TASKS;
  count--;
  lane.waiting--;
  task(value);
}

/** Everything waiting, now (a bound was reached). */
function runAll(): void {
  while (count > 0) runNext();
}

/** One slice: waiting tasks until `SLICE_MS` has passed, then the held writes. */
function drain(): void {
  scheduled = false;
  draining = true;
  const deadline = performance.now() + SLICE_MS;
  try {
    while (count > 0) {
      runNext();
      if (performance.now() >= deadline) break;
    }
  } finally {
    draining = false;
    if (count > 0 && !scheduled) {
      scheduled = true;
      setImmediate(drain);
    }
    releaseHeld();
  }
}

/** Sockets corked by `holdUntilTurnEnd`, uncorked together at the end of the turn or the slice. */
let held: Socket[] = [];

function releaseHeld(): void {
  if (held.length === 0) return;
  const sockets = held;
  held = [];
  for (const socket of sockets) if (socket.writableCorked > 0) socket.uncork();
}

/**
 * Holds a response's socket writes until the end of the current slice, or of the event-loop turn
 * when no slice is running: every reader fed by the turn's upstream reads writes in one run,
 * after them. On loopback and on a busy host this spares the kernel a wake-up of the reading
 * process per write.
 */
export function holdUntilTurnEnd(socket: Socket | null): void {
  if (socket === null || socket.writableCorked > 0) return;
  socket.cork();
  if (held.length === 0 && !draining) setImmediate(releaseHeld);
  held.push(socket);
}
