import { type BenchContext, steadyLoad } from '../context.js';
import type { LoadResult } from '../loadgen.js';
import type { Cell, RunInfo } from '../report.js';

export function throughputSettings(quick: boolean): RunInfo['throughput'] {
  return { chunks: quick ? 100 : 200, durationMs: quick ? 1500 : 3000 };
}

/** Unpaced answers: chunks per second delivered to all clients, per path and concurrency. */
export async function throughputCase(
  context: BenchContext,
  settings: RunInfo['throughput'],
  levels: readonly number[],
): Promise<Cell[]> {
  context.log(`throughput case: ${settings.chunks} chunks, no delay`);
  await context.pace({ ttftMs: 0, chunkDelayMs: 0, chunks: settings.chunks });
  const cells: Cell[] = [];
  for (const concurrency of levels) {
    for (const path of context.paths) {
      const spec = steadyLoad(concurrency, settings.durationMs, settings.chunks);
      // A short unmeasured run at this concurrency opens its connections first.
      await context.loadgen.call<LoadResult>('run', { ...path.target, ...spec, durationMs: 300 });
      cells.push(await context.measure('throughput', path, spec));
    }
  }
  return cells;
}
