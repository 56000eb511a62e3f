import { monitorEventLoopDelay } from 'node:perf_hooks';

/**
 * Event-loop delay as the time a timer runs late.
 *
 * `monitorEventLoopDelay` records the whole time between two runs of its sampling timer, the
 * sampling interval included (Node's own description in nodejs/node#62935: "samples had an
 * implicit floor of resolution ms"). An idle loop sampled every 10 ms reads 10 ms, one sampled
 * every 100 ms reads 100 ms. The delay is what comes past the interval, as Elastic's APM agent
 * and Fastify's under-pressure read it; these figures are that, never below 0.
 */
export interface LoopDelay {
  /** The p-th percentile of the delay since the last reset, ms. */
  percentileMs(p: number): number;
  minMs(): number;
  maxMs(): number;
  meanMs(): number;
  /** Spread of the samples, ms (the interval does not change it). */
  stddevMs(): number;
  /** Samples since the last reset. */
  count(): number;
  reset(): void;
}

/** Starts sampling the event loop every `intervalMs` (the sampling timer does not hold the process open). */
export function monitorLoopDelay(intervalMs: number): LoopDelay {
  const histogram = monitorEventLoopDelay({ resolution: intervalMs });
  histogram.enable();
  /** A sample in ns, as delay past the interval in ms; 0 before any sample. */
  const past = (ns: number): number => (histogram.count === 0 ? 0 : delayPastInterval(ns, intervalMs));
  return {
    percentileMs: (p) => past(histogram.percentile(p)),
    minMs: () => past(histogram.min),
    maxMs: () => past(histogram.max),
    meanMs: () => past(histogram.mean),
    stddevMs: () => (histogram.count === 0 ? 0 : histogram.stddev / 1e6),
    count: () => histogram.count,
    reset: () => histogram.reset(),
  };
}

/** One `monitorEventLoopDelay` sample (ns, interval included) as the delay past the interval, ms. */
export function delayPastInterval(sampleNs: number, intervalMs: number): number {
  return Math.max(0, sampleNs / 1e6 - intervalMs);
}
