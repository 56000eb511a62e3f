import type { BenchContext } from '../context.js';
import type { LoadResult, LoadSpec } from '../loadgen.js';

/** JIT and connection pools of every path, before any cell is measured. */
export async function warmUp(context: BenchContext): Promise<void> {
  context.log('warm-up...');
  // Short answers: a 200-chunk burst would trip the default gateway's stall rule (see report.ts).
  const warmChunks = 40;
  await context.pace({ ttftMs: 0, chunkDelayMs: 0, chunks: warmChunks });
  for (const path of context.paths) {
    await context.loadgen.call<LoadResult>('run', {
      ...path.target,
      concurrency: 64,
      maxRequests: 1e9,
      durationMs: context.quick ? 700 : 1500,
      hardTimeoutMs: 30_000,
      rampMs: 0,
      measureAfterMs: 0,
      expectedChunks: warmChunks,
    } satisfies LoadSpec);
  }
}
