import type { BenchContext } from '../context.js';
import type { LoadResult, LoadSpec } from '../loadgen.js';
import type { Cell, RunInfo } from '../report.js';

export interface LatencySettings {
  chunks: number;
  delayMs: number;
  ttftMs: number;
  /** Sequential streams sampled at concurrency 1. */
  samplesAtOne: number;
  /** Sampled rounds of `concurrency` streams above 1. */
  rounds: number;
}

export function latencySettings(quick: boolean): LatencySettings {
  return {
    chunks: quick ? 20 : 50,
    delayMs: 20,
    ttftMs: 50,
    samplesAtOne: quick ? 5 : 10,
    rounds: quick ? 1 : 2,
  };
}

export function latencyInfo(settings: LatencySettings): RunInfo['latency'] {
  return {
    chunks: settings.chunks,
    delayMs: settings.delayMs,
    ttftMs: settings.ttftMs,
    samples:
      `${settings.samplesAtOne} sequential streams at concurrency 1, ${settings.rounds} x concurrency ` +
      'above (the ramp round is not sampled)',
  };
}

/** Paced answers: time to first token as the client sees it, per path and concurrency. */
export async function latencyCase(
  context: BenchContext,
  settings: LatencySettings,
  levels: readonly number[],
): Promise<Cell[]> {
  const { chunks, delayMs, ttftMs } = settings;
  context.log(`latency case: ${chunks} chunks, ${delayMs} ms apart, ttft ${ttftMs} ms`);
  await context.pace({ ttftMs, chunkDelayMs: delayMs, chunks });
  const streamMs = ttftMs + (chunks - 1) * delayMs;
  const cells: Cell[] = [];
  for (const concurrency of levels) {
    for (const path of context.paths) {
      // One stream length of ramp (its streams are warm-up, not sampled), then `rounds` rounds.
      const single = concurrency === 1;
      const rampMs = single ? 0 : streamMs;
      const maxRequests = single ? 1 + settings.samplesAtOne : concurrency * (1 + settings.rounds);
      const expectedMs = (maxRequests / concurrency + 1) * streamMs;
      if (!single) {
        // One unmeasured round, all at once, so every pool (client, proxy, gateway upstream)
        // holds `concurrency` open connections: connection storms are not what this case measures.
        await context.loadgen.call<LoadResult>('run', {
          ...path.target,
          concurrency,
          maxRequests: concurrency,
          durationMs: expectedMs * 3 + 10_000,
          hardTimeoutMs: expectedMs * 3 + 20_000,
          rampMs: 0,
          measureAfterMs: 0,
          expectedChunks: chunks,
        } satisfies LoadSpec);
      }
      cells.push(
        await context.measure('latency', path, {
          concurrency,
          maxRequests,
          durationMs: expectedMs * 3 + 10_000,
          hardTimeoutMs: expectedMs * 3 + 20_000,
          rampMs,
          measureAfterMs: single ? 1 : rampMs,
          expectedChunks: chunks,
        }),
      );
    }
  }
  return cells;
}
