import type { BenchContext } from '../context.js';
import type { IdleResult, LoadResult, LoadSpec, LoadTarget } from '../loadgen.js';
import { settledMemory } from '../measure.js';
import type { IdleCell } from '../report.js';
import type { BenchProcesses } from '../setup.js';

/** The scale work's memory target is set at 2,000 idle streams. */
export function idleStreamCount(quick: boolean): number {
  return quick ? 200 : 2000;
}

/**
 * Memory per idle open stream, on fresh processes: the cases before leave finished generations
 * (kept for resume) and a grown heap behind, which would blur a per-stream delta. Stops the
 * pass-through and gateway the other cases used.
 */
export async function idleCase(
  context: BenchContext,
  processes: BenchProcesses,
  idleStreams: number,
): Promise<IdleCell[]> {
  const { loadgen, pace } = context;
  const idle: IdleCell[] = [];
  context.log(`idle streams: ${idleStreams} per path, fresh pass-through and gateway processes`);
  await Promise.all([processes.passthrough.stop(), processes.gateway.stop(), processes.gatewayOpenAi.stop()]);
  for (const path of context.paths) {
    // The OpenAI face sends its headers with the first token (so that a failure before it gets
    // OpenAI's status): a stream waiting for its first token is not open yet to a client.
    if (path.name === 'direct' || path.name === 'sluice-openai') continue;
    const middle = processes.spawnMiddle(path.name, false);
    const target: LoadTarget = { ...path.target, origin: await middle.url };
    // Warm-up: as many quick streams at once, so both sides' pools hold that many sockets.
    await pace({ ttftMs: 0, chunkDelayMs: 0, chunks: 1 });
    for (let round = 0; round < 2; round++) {
      await loadgen.call<LoadResult>('run', {
        ...target,
        concurrency: idleStreams,
        maxRequests: idleStreams,
        durationMs: 20_000,
        hardTimeoutMs: 30_000,
        rampMs: 0,
        measureAfterMs: 0,
        expectedChunks: 1,
      } satisfies LoadSpec);
    }
    await pace({ ttftMs: 120_000, chunkDelayMs: 0, chunks: 1 });
    const before = await settledMemory(middle);
    const opened = await loadgen.call<IdleResult>('openIdle', {
      target,
      count: idleStreams,
      timeoutMs: 20_000,
    });
    await new Promise((done) => setTimeout(done, 500));
    const after = await settledMemory(middle);
    await loadgen.call('closeIdle');
    await middle.stop();
    const count = Math.max(1, opened.opened);
    const cell: IdleCell = {
      path: path.name,
      streams: idleStreams,
      opened: opened.opened,
      rssPerStream: (after.rss - before.rss) / count,
      heapPerStream: (after.heapUsed - before.heapUsed) / count,
      baselineRss: before.rss,
      gc: before.gcAvailable,
      errors: opened.errors,
    };
    idle.push(cell);
    context.log(
      `  idle ${path.name}: ${opened.opened} open, ${(cell.rssPerStream / 1024).toFixed(1)} KB RSS, ` +
        `${(cell.heapPerStream / 1024).toFixed(1)} KB heap per stream`,
    );
  }
  return idle;
}
