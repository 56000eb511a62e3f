import { setMaxListeners } from 'node:events';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';

/**
 * The load generator: closed-loop streams over a pooled undici client, with the lightest SSE
 * reading that still tells content from the rest (a byte search, no parser), so the client
 * costs as little CPU as possible on the core it shares with the emulator.
 */

/** What counts as one delivered content chunk on each kind of stream. */
export type StreamKind = 'sluice' | 'openai';

const NEEDLES: Record<StreamKind, Buffer> = {
  // Sluice: one `chunk` frame per answer piece (CONTRACT.md section 3).
  sluice: Buffer.from('event: chunk\n'),
  // OpenAI Chat Completions: a delta whose first field is content; the role-only first delta
  // (`{"role":"assistant","content":""...}`) and the finish and usage chunks do not match.
  openai: Buffer.from('"delta":{"content":"'),
};

/** Counts occurrences of a byte string across chunk boundaries. */
export class NeedleCounter {
  private carry: Buffer = Buffer.alloc(0);

  constructor(private readonly needle: Buffer) {}

  count(chunk: Buffer): number {
    const text = this.carry.length === 0 ? chunk : Buffer.concat([this.carry, chunk]);
    let found = 0;
    let at = text.indexOf(this.needle);
    while (at !== -1) {
      found++;
      at = text.indexOf(this.needle, at + this.needle.length);
    }
    // A match cut by the chunk boundary is completed next time; a whole one cannot fit in here.
    const keep = this.needle.length - 1;
    this.carry = Buffer.from(text.subarray(Math.max(0, text.length - keep)));
    return found;
  }
}

export interface LoadTarget {
  origin: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  kind: StreamKind;
  /** Close the client connection after each stream, so every stream starts on a fresh socket. */
  freshConnections?: boolean;
  /** Client connections to the origin at most (default 4096); the scale case needs 10,000. */
  connections?: number;
}

export interface LoadSpec extends LoadTarget {
  concurrency: number;
  /** Most requests started in all. */
  maxRequests: number;
  /** No request starts after this many ms. */
  durationMs: number;
  /** Whatever still runs this long after the start is aborted. */
  hardTimeoutMs: number;
  /** Worker i starts its first request at i * rampMs / concurrency, spreading arrivals. */
  rampMs: number;
  /** TTFT samples only from requests started this long after the start (the ramp is warm-up). */
  measureAfterMs: number;
  /** Content chunks a complete stream carries. */
  expectedChunks: number;
}

export interface LoadResult {
  started: number;
  completed: number;
  /** Non-200, transport errors, aborts. */
  failed: number;
  /** Streams that ended with another number of content chunks than expected. */
  incomplete: number;
  /** Content chunks delivered, all streams. */
  chunks: number;
  /** Content chunks delivered before `durationMs` (the steady-state window). */
  windowChunks: number;
  windowMs: number;
  elapsedMs: number;
  /** Request sent to first content chunk, ms, for measured requests. */
  ttftMs: number[];
  errors: string[];
}

interface StreamOutcome {
  ok: boolean;
  chunks: number;
  ttftMs: number | undefined;
  error?: string;
}

/** What went wrong in a load run, named by `label`; undefined when every stream was whole. */
export function loadFailures(label: string, result: LoadResult): string | undefined {
  if (result.failed + result.incomplete === 0) return undefined;
  return `${label}: ${result.failed} failed, ${result.incomplete} short; ${result.errors.join('; ')}`;
}

const pools = new Map<string, Pool>();

/** Up to 4,096 client connections by default: the latency case runs 2,000 streams at once. */
function poolFor(origin: string, connections = 4096): Pool {
  const key = `${origin} ${connections}`;
  let pool = pools.get(key);
  if (pool === undefined) {
    pool = new Pool(origin, {
      connections,
      pipelining: 1,
      keepAliveTimeout: 60_000,
      headersTimeout: 0,
      bodyTimeout: 0,
      // Thousands of connections at once wait in the server's accept queue while it works
      // through them: a patient client, as one that retries would be.
      ...(connections > 1024 ? { connectTimeout: 60_000 } : {}),
    });
    pools.set(key, pool);
  }
  return pool;
}

async function oneStream(
  target: LoadTarget,
  signal: AbortSignal,
  onChunks: (count: number) => void,
): Promise<StreamOutcome> {
  const counter = new NeedleCounter(NEEDLES[target.kind]);
  const sentAt = performance.now();
  let ttftMs: number | undefined;
  let chunks = 0;
  let answered = false;
  try {
    const response = await poolFor(target.origin, target.connections).request({
      path: target.path,
      method: 'POST',
      headers: target.headers,
      body: target.body,
      signal,
      reset: target.freshConnections === true,
    });
    answered = true;
    if (response.statusCode !== 200) {
      const text = await response.body.text();
      return { ok: false, chunks, ttftMs, error: `HTTP ${response.statusCode}: ${text.slice(0, 120)}` };
    }
    await new Promise<void>((resolve, reject) => {
      response.body.on('data', (data: Buffer) => {
        const found = counter.count(data);
        if (found === 0) return;
        if (ttftMs === undefined) ttftMs = performance.now() - sentAt;
        chunks += found;
        onChunks(found);
      });
      response.body.on('end', resolve);
      response.body.on('error', reject);
    });
    return { ok: true, chunks, ttftMs };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // Where it failed tells a refused or dropped connection from a stream cut while it ran.
    const where = answered ? `after ${chunks} chunks` : 'before the response';
    return { ok: false, chunks, ttftMs, error: `${message} (${where})` };
  }
}

const sleep = (ms: number): Promise<void> =>
  ms <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, ms));

/** Closed loop: `concurrency` workers, each starting its next stream when the last one ends. */
export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const controller = new AbortController();
  // Every stream of the run listens to this one signal.
  setMaxListeners(0, controller.signal);
  const hardTimer = setTimeout(() => controller.abort(new Error('bench hard timeout')), spec.hardTimeoutMs);
  const start = performance.now();
  const stopAt = start + spec.durationMs;
  const result: LoadResult = {
    started: 0,
    completed: 0,
    failed: 0,
    incomplete: 0,
    chunks: 0,
    windowChunks: 0,
    windowMs: spec.durationMs,
    elapsedMs: 0,
    ttftMs: [],
    errors: [],
  };
  const onChunks = (count: number): void => {
    result.chunks += count;
    if (performance.now() <= stopAt) result.windowChunks += count;
  };

  const worker = async (index: number): Promise<void> => {
    await sleep((index * spec.rampMs) / spec.concurrency);
    while (result.started < spec.maxRequests && performance.now() < stopAt && !controller.signal.aborted) {
      result.started++;
      const startedAt = performance.now();
      const outcome = await oneStream(spec, controller.signal, onChunks);
      if (!outcome.ok) {
        result.failed++;
        // Up to five different messages: one kind repeated thousands of times hides the others.
        if (result.errors.length < 5 && outcome.error !== undefined && !result.errors.includes(outcome.error))
          result.errors.push(outcome.error);
        continue;
      }
      result.completed++;
      if (outcome.chunks !== spec.expectedChunks) result.incomplete++;
      if (outcome.ttftMs !== undefined && startedAt - start >= spec.measureAfterMs) {
        result.ttftMs.push(outcome.ttftMs);
      }
    }
  };

  await Promise.all(Array.from({ length: spec.concurrency }, (_, index) => worker(index)));
  clearTimeout(hardTimer);
  result.elapsedMs = performance.now() - start;
  // When the run ended early (count-bounded), the window is the whole run.
  result.windowMs = Math.min(spec.durationMs, result.elapsedMs);
  return result;
}

export interface IdleResult {
  opened: number;
  failed: number;
  errors: string[];
}

let idle: { controller: AbortController; settled: Promise<unknown> } | undefined;

/**
 * Opens `count` streams and resolves once each has its response headers (for Sluice, with the
 * `start` frame on its way); they stay open, reading whatever comes, until `closeIdle`.
 */
export async function openIdle(target: LoadTarget, count: number, timeoutMs: number): Promise<IdleResult> {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  const opened: Promise<{ ok: boolean; error?: string }>[] = [];
  const bodies: Promise<void>[] = [];
  for (let index = 0; index < count; index++) {
    const response = poolFor(target.origin, target.connections).request({
      path: target.path,
      method: 'POST',
      headers: target.headers,
      body: target.body,
      signal: controller.signal,
    });
    opened.push(
      response.then(
        (answer) => {
          bodies.push(
            new Promise<void>((resolve) => {
              answer.body.on('data', () => {});
              answer.body.on('end', resolve);
              answer.body.on('error', () => resolve());
            }),
          );
          return answer.statusCode === 200 ? { ok: true } : { ok: false, error: `HTTP ${answer.statusCode}` };
        },
        (error: unknown) => ({ ok: false, error: error instanceof Error ? error.message : String(error) }),
      ),
    );
  }
  const timeout = new Promise<'timeout'>((resolve) =>
    setTimeout(() => resolve('timeout'), timeoutMs).unref(),
  );
  const all = await Promise.race([Promise.all(opened), timeout]);
  idle = { controller, settled: Promise.allSettled([...opened, ...bodies]) };
  if (all === 'timeout') return { opened: 0, failed: count, errors: ['timed out opening idle streams'] };
  const failures = all.filter((entry) => !entry.ok);
  return {
    opened: count - failures.length,
    failed: failures.length,
    errors: failures.slice(0, 5).map((entry) => entry.error ?? 'failed'),
  };
}

export async function closeIdle(): Promise<void> {
  if (idle === undefined) return;
  idle.controller.abort(new Error('bench: idle streams closed'));
  await idle.settled;
  idle = undefined;
}

export async function closePools(): Promise<void> {
  await Promise.all([...pools.values()].map((pool) => pool.destroy()));
  pools.clear();
}
