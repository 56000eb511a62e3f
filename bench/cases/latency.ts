import type { BenchContext, Path } from '../context.js';
import type { LoadResult, LoadSpec } from '../loadgen.js';
import { type Cell, type RunInfo, targetLevel } from '../report.js';

export interface LatencySettings {
  chunks: number;
  delayMs: number;
  ttftMs: number;
  /** Sequential streams sampled at concurrency 1. */
  samplesAtOne: number;
  /** Sampled rounds of `concurrency` streams above 1. */
  rounds: number;
  /** Pairs of pass-through and Sluice cells at the targets' level (the first pair included). */
  pairs: number;
}

export function latencySettings(quick: boolean, pairs: number): LatencySettings {
  return {
    chunks: quick ? 20 : 50,
    delayMs: 20,
    ttftMs: 50,
    samplesAtOne: quick ? 5 : 10,
    rounds: quick ? 1 : 2,
    pairs,
  };
}

export function latencyInfo(settings: LatencySettings): RunInfo['latency'] {
  return {
    chunks: settings.chunks,
    delayMs: settings.delayMs,
    ttftMs: settings.ttftMs,
    samples:
      `${settings.samplesAtOne} sequential streams at concurrency 1, ${settings.rounds} x concurrency ` +
      "above (the ramp round is not sampled); at the targets' level, the pass-through and Sluice " +
      `${settings.pairs} times each, one right after the other`,
  };
}

/** Paced answers: time to first token as the client sees it, per path and concurrency. */
export async function latencyCase(
  context: BenchContext,
  settings: LatencySettings,
  levels: readonly number[],
  /** Sluice with HTTP/1.1 to the emulator: measured with each pair at the targets' level. */
  http1Reference?: () => Promise<Path>,
): Promise<Cell[]> {
  const { chunks, delayMs, ttftMs } = settings;
  context.log(`latency case: ${chunks} chunks, ${delayMs} ms apart, ttft ${ttftMs} ms`);
  await context.pace({ ttftMs, chunkDelayMs: delayMs, chunks });
  const streamMs = ttftMs + (chunks - 1) * delayMs;

  const measure = async (concurrency: number, path: Path): Promise<Cell> => {
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
    return context.measure('latency', path, {
      concurrency,
      maxRequests,
      durationMs: expectedMs * 3 + 10_000,
      hardTimeoutMs: expectedMs * 3 + 20_000,
      rampMs,
      measureAfterMs: single ? 1 : rampMs,
      expectedChunks: chunks,
    });
  };

  const cells: Cell[] = [];
  for (const concurrency of levels) {
    for (const path of context.paths) cells.push(await measure(concurrency, path));
  }
  // The machine's speed drifts from one minute to the next: at the targets' level the
  // pass-through and Sluice are measured again, one right after the other, and the targets
  // take the median over these pairs.
  const level = targetLevel(levels);
  const pair = ['pass-through', 'sluice'].map((name) => context.paths.find((path) => path.name === name));
  if (level !== undefined && pair[0] !== undefined && pair[1] !== undefined) {
    const reference = http1Reference === undefined ? undefined : await http1Reference();
    if (reference !== undefined) cells.push(await measure(level, reference));
    for (let repeat = 1; repeat < settings.pairs; repeat++) {
      for (const path of reference === undefined ? (pair as Path[]) : [...(pair as Path[]), reference]) {
        cells.push({ ...(await measure(level, path)), repeat });
      }
    }
  }
  return cells;
}
