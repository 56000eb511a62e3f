import { performance } from 'node:perf_hooks';
import type { BenchChild } from './children.js';
import type { CellSpec, Path } from './context.js';
import { log } from './context.js';
import type { LoadResult } from './loadgen.js';
import type { LoopSample, MemorySample } from './process.js';
import { cpuMicros, machineBusyMicros, memory, resetPeak } from './procfs.js';
import { type CaseName, type Cell, percentile } from './report.js';

/** Other processes' CPU (fraction of one core) under which the machine counts as quiet. */
const QUIET = 0.1;
/** Above this, a cell is measured again (up to three times, while the time budget lasts). */
const BUSY = 0.25;

export interface Measurer {
  measure(caseName: CaseName, path: Path, spec: CellSpec): Promise<Cell>;
  /** Whether every reset of the middle process's peak RSS (VmHWM) worked so far. */
  readonly peakReset: boolean;
}

/** CPU time of a benchmark process so far; 0 once it has exited. */
function cpuOf(child: BenchChild): number {
  try {
    return cpuMicros(child.pid);
  } catch {
    return 0;
  }
}

/**
 * Other work on the machine (another build or test run) skews every figure: each cell waits for
 * a quiet machine, measures what else ran meanwhile, and is re-run when it was busy.
 */
export function createMeasurer(
  processes: { emulator: BenchChild; loadgen: BenchChild; all: readonly BenchChild[] },
  budgetEnd: number,
): Measurer {
  const { emulator, loadgen } = processes;
  let peakReset = true;
  const snapshot = (): { machine: number; ours: number } => {
    const self = process.cpuUsage();
    return {
      machine: machineBusyMicros(),
      // Every process the benchmark started, those started for one case included.
      ours: processes.all.reduce((sum, child) => sum + cpuOf(child), self.user + self.system),
    };
  };
  const otherSince = (before: { machine: number; ours: number }, wallUs: number): number => {
    const after = snapshot();
    return Math.max(0, after.machine - before.machine - (after.ours - before.ours)) / wallUs;
  };
  const waitForQuiet = async (): Promise<void> => {
    const giveUpAt = Math.min(performance.now() + 10_000, budgetEnd);
    while (performance.now() < giveUpAt) {
      const before = snapshot();
      await new Promise((done) => setTimeout(done, 400));
      if (otherSince(before, 400_000) < QUIET) return;
    }
  };

  const measureOnce = async (caseName: CaseName, path: Path, spec: CellSpec): Promise<Cell> => {
    await waitForQuiet();
    const middlePid = path.middle?.pid;
    if (middlePid !== undefined) peakReset = resetPeak(middlePid) && peakReset;
    const cpuBefore = {
      middle: middlePid === undefined ? 0 : cpuMicros(middlePid),
      client: cpuMicros(emulator.pid) + cpuMicros(loadgen.pid),
    };
    await path.middle?.call('loopReset');
    const machineBefore = snapshot();
    const wallBefore = performance.now();
    const result = await loadgen.call<LoadResult>('run', { ...path.target, ...spec });
    const loop = await path.middle?.call<LoopSample>('loopSample');
    const wallUs = (performance.now() - wallBefore) * 1000;
    const otherLoad = otherSince(machineBefore, wallUs);
    const middleUs = middlePid === undefined ? undefined : cpuMicros(middlePid) - cpuBefore.middle;
    const clientUs = cpuMicros(emulator.pid) + cpuMicros(loadgen.pid) - cpuBefore.client;
    return {
      caseName,
      concurrency: spec.concurrency,
      path: path.name,
      started: result.started,
      completed: result.completed,
      failed: result.failed,
      incomplete: result.incomplete,
      errors: result.errors,
      chunks: result.chunks,
      chunksPerSecond: result.windowMs > 0 ? (result.windowChunks * 1000) / result.windowMs : Number.NaN,
      ttftSamples: result.ttftMs.length,
      ttftP50: percentile(result.ttftMs, 0.5),
      ttftP99: percentile(result.ttftMs, 0.99),
      cpuPerChunkUs: middleUs === undefined || result.chunks === 0 ? undefined : middleUs / result.chunks,
      middleBusy: middleUs === undefined ? undefined : middleUs / wallUs,
      clientSideBusy: clientUs / wallUs,
      otherLoad,
      attempts: 1,
      peakRss: middlePid === undefined ? undefined : memory(middlePid).peak,
      loopDelayP99Ms: loop?.delayP99Ms,
      gcShare: loop === undefined ? undefined : (loop.gcMs * 1000) / wallUs,
      gcMaxMs: loop?.gcMaxMs,
    };
  };

  const measure = async (caseName: CaseName, path: Path, spec: CellSpec): Promise<Cell> => {
    let cell = await measureOnce(caseName, path, spec);
    let attempts = 1;
    while (cell.otherLoad > BUSY && attempts < 3 && performance.now() < budgetEnd) {
      attempts++;
      log(`  (other load ${Math.round(cell.otherLoad * 100)}% of a core: measuring again)`);
      const again = await measureOnce(caseName, path, spec);
      if (again.otherLoad < cell.otherLoad) cell = again;
    }
    cell.attempts = attempts;
    log(
      `  ${caseName} c=${spec.concurrency} ${path.name}: ${cell.completed} streams, ` +
        `${Math.round(cell.chunksPerSecond)} chunks/s, ttft p50 ${cell.ttftP50.toFixed(2)} ` +
        `p99 ${cell.ttftP99.toFixed(2)} ms, cpu ${cell.cpuPerChunkUs?.toFixed(1) ?? '-'} µs/chunk, ` +
        `other load ${Math.round(cell.otherLoad * 100)}%` +
        `${cell.failed + cell.incomplete > 0 ? `, ${cell.failed} failed, ${cell.incomplete} short ${cell.errors.join('; ')}` : ''}`,
    );
    return cell;
  };

  return {
    measure,
    get peakReset() {
      return peakReset;
    },
  };
}

/** Memory after full GCs, once RSS has stopped moving (V8 returns freed pages lazily). */
export async function settledMemory(child: BenchChild): Promise<MemorySample> {
  let sample = await child.call<MemorySample>('memory');
  let rss = memory(child.pid).rss;
  for (let round = 0; round < 10; round++) {
    await new Promise((done) => setTimeout(done, 150));
    sample = await child.call<MemorySample>('memory');
    const next = memory(child.pid).rss;
    const stable = Math.abs(next - rss) < 256 * 1024;
    rss = next;
    if (stable) break;
  }
  return { ...sample, rss };
}
