import { type BenchContext, steadyLoad } from '../context.js';
import type { Cell, RunInfo } from '../report.js';

export function burstSettings(quick: boolean): RunInfo['burst'] {
  return { chunks: 200, concurrency: 64, durationMs: quick ? 1000 : 2000 };
}

/**
 * Burst on fresh connections: every stream on a new client socket (as browsers' EventSource
 * connections often are), its whole answer arriving at once. Direct has no middle to cut
 * streams, so only the pass-through and Sluice are measured.
 */
export async function burstCase(context: BenchContext, settings: RunInfo['burst']): Promise<Cell[]> {
  context.log(`burst case: ${settings.chunks} chunks, no delay, a fresh client connection per stream`);
  await context.pace({ ttftMs: 0, chunkDelayMs: 0, chunks: settings.chunks });
  const cells: Cell[] = [];
  for (const path of context.paths.filter((candidate) => candidate.name !== 'direct')) {
    cells.push(
      await context.measure(
        'burst',
        { ...path, target: { ...path.target, freshConnections: true } },
        steadyLoad(settings.concurrency, settings.durationMs, settings.chunks),
      ),
    );
  }
  return cells;
}
