import { describe, expect, it } from 'vitest';
import { type Cell, type Report, type RunInfo, targetLevel, targets } from './report.js';

/** A latency cell with the figures the targets read; the rest are plausible constants. */
function cell(
  path: Cell['path'],
  figures: { cpu: number; p50: number; p99: number; loop: number },
  repeat?: number,
): Cell {
  return {
    caseName: 'latency',
    concurrency: 512,
    path,
    started: 1536,
    completed: 1536,
    failed: 0,
    incomplete: 0,
    errors: [],
    chunks: 76_800,
    chunksPerSecond: 17_000,
    ttftSamples: 1024,
    ttftP50: figures.p50,
    ttftP99: figures.p99,
    cpuPerChunkUs: figures.cpu,
    middleBusy: 0.8,
    clientSideBusy: 0.7,
    otherLoad: 0,
    attempts: 1,
    peakRss: undefined,
    loopDelayP99Ms: figures.loop,
    ...(repeat === undefined ? {} : { repeat }),
  };
}

function report(cells: Cell[]): Report {
  return { info: {} as RunInfo, cells, idle: [], codecs: [] };
}

function measured(all: ReturnType<typeof targets>, prefix: string): string | undefined {
  return all.find((target) => target.name.startsWith(prefix))?.measured;
}

describe('benchmark targets', () => {
  const pass = (cpu: number, repeat?: number) =>
    cell('pass-through', { cpu, p50: 60, p99: 100, loop: 15 }, repeat);

  it('judges the hot path at 512 streams, else at the largest level below 2,000', () => {
    expect(targetLevel([1, 64, 512, 2000])).toBe(512);
    expect(targetLevel([1, 64, 2000])).toBe(64);
    expect(targetLevel([2000])).toBeUndefined();
  });

  it('takes the median over the pairs measured one after the other, and lists them', () => {
    const sluice = (cpu: number, p50: number, repeat?: number) =>
      cell('sluice', { cpu, p50, p99: 150, loop: 30 }, repeat);
    const all = targets(
      report([pass(40), sluice(60, 100), pass(40, 1), sluice(48, 70, 1), pass(30, 2), sluice(39, 90, 2)]),
    );
    // Per pair: 1.50x, 1.20x, 1.30x; the first pair alone would say 1.50x.
    expect(measured(all, 'gateway CPU per chunk, Sluice / pass-through (latency')).toBe(
      '1.30x (median of 3 pairs: 1.50x, 1.20x, 1.30x); 48.0 vs 40.0 µs',
    );
    expect(measured(all, 'latency, 512 streams: TTFT added over pass-through, p50')).toBe(
      '+30.00 ms (median of 3 pairs: +40.00 ms, +10.00 ms, +30.00 ms)',
    );
    expect(all.find((target) => target.name.includes('(latency, 512'))?.met).toBe(true);
  });

  it('reads a run with one pair as before', () => {
    const all = targets(
      report([
        cell('pass-through', { cpu: 40, p50: 60, p99: 100, loop: 15 }),
        cell('sluice', { cpu: 60, p50: 100, p99: 150, loop: 30 }),
      ]),
    );
    expect(measured(all, 'gateway CPU per chunk, Sluice / pass-through (latency')).toBe(
      '1.50x; 60.0 vs 40.0 µs',
    );
    expect(all.find((target) => target.name.includes('(latency, 512'))?.met).toBe(false);
  });

  it('reports Sluice over HTTP/1.1 beside the targets, against its own pass-through pairs, judging nothing', () => {
    const http1 = (cpu: number, p50: number, repeat?: number) =>
      cell('sluice-http1', { cpu, p50, p99: 140, loop: 25 }, repeat);
    const all = targets(
      report([
        pass(40),
        cell('sluice', { cpu: 44, p50: 70, p99: 120, loop: 18 }),
        http1(56, 90),
        pass(30, 1),
        cell('sluice', { cpu: 33, p50: 66, p99: 110, loop: 17 }, 1),
        http1(39, 80, 1),
      ]),
    );
    const reference = all.find((target) => target.name.startsWith('reference: Sluice with HTTP/1.1'));
    // Per pair: 56/40 = 1.40x, 39/30 = 1.30x; TTFT added +30 and +20 ms (median +25).
    expect(reference?.measured).toBe('1.35x (median of 2 pairs: 1.40x, 1.30x); +25.00 / +40.00 ms; 25.0 ms');
    expect(reference?.met).toBeUndefined();
    // The targets still read the default path only.
    expect(measured(all, 'gateway CPU per chunk, Sluice / pass-through (latency')).toBe(
      '1.10x (median of 2 pairs: 1.10x, 1.10x); 38.5 vs 35.0 µs',
    );
  });
});
