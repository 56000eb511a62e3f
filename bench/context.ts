import type { Scenario } from '../src/emulators/types.js';
import type { BenchChild } from './children.js';
import type { LoadSpec, LoadTarget } from './loadgen.js';
import type { CaseName, Cell, PathName } from './report.js';

/** One way to the emulator: direct, through the pass-through proxy, or through Sluice. */
export interface Path {
  name: PathName;
  target: LoadTarget;
  /** The pass-through or gateway process; none for direct. */
  middle: BenchChild | undefined;
}

/** How a cell loads its path: everything of a load run but the target. */
export type CellSpec = Omit<LoadSpec, keyof LoadTarget>;

/**
 * A steady load: `concurrency` streams kept running for `durationMs` (each replaced as it ends),
 * all from the start, every one measured; whatever still runs 30 s later is cut.
 */
export function steadyLoad(concurrency: number, durationMs: number, expectedChunks: number): CellSpec {
  return {
    concurrency,
    maxRequests: 1e9,
    durationMs,
    hardTimeoutMs: durationMs + 30_000,
    rampMs: 0,
    measureAfterMs: 0,
    expectedChunks,
  };
}

/** What every case is given: the running processes' handles and the shared measurement rules. */
export interface BenchContext {
  quick: boolean;
  /** The paths chosen with --paths, in the order direct, pass-through, sluice. */
  paths: Path[];
  loadgen: BenchChild;
  /** Sets how the emulator plays every following response. */
  pace(scenario: Scenario): Promise<unknown>;
  /** One cell: waits for a quiet machine, and measures again while other load skewed it. */
  measure(caseName: CaseName, path: Path, spec: CellSpec): Promise<Cell>;
  log(line: string): void;
}

export const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};
