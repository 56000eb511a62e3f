import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type BenchContext, steadyLoad } from '../context.js';
import { type LoadResult, type LoadTarget, loadFailures } from '../loadgen.js';
import { cpuMicros } from '../procfs.js';
import { summarizeProfiles } from '../profile.js';
import { median } from '../report.js';
import type { BenchProcesses } from '../setup.js';

/** One concurrency of the ops case: gateway CPU per chunk with everything off and on. */
export interface OpsRow {
  /** Streams per gateway. */
  concurrency: number;
  /** Medians over the rounds. */
  offUs: number;
  onUs: number;
  /** The median over the rounds of (on / off - 1), both measured over the same wall time. */
  overhead: number;
  /** The least and most of those per-round figures. */
  overheadRange: [number, number];
  errors: string[];
}

const KEY = 'bench-gateway-key';

/** Chunks per answer: the throughput case's full-run length (a typical answer is longer still). */
const CHUNKS = 200;

/** How often both gateways are scraped during the case. */
const SCRAPE_EVERY_MS = 5000;

/** Rounds per concurrency. */
const ROUNDS = 10;

const PARTS = ['keys', 'limits', 'metrics', 'logs'] as const;
type Part = (typeof PARTS)[number];

/**
 * What the gateway with the parts on is configured with: limits high enough never to refuse.
 * BENCH_OPS_PARTS (a list of keys, limits, metrics, logs; default all; `none` for the same
 * gateway twice, which shows the noise) measures some of them alone.
 */
function onEnv(parts: ReadonlySet<Part>): NodeJS.ProcessEnv {
  return {
    BENCH_OPS: ['off', ...(['metrics', 'logs'] as const).filter((part) => parts.has(part))].join(','),
    ...(parts.has('keys') ? { SLUICE_API_KEYS: KEY } : {}),
    ...(parts.has('limits')
      ? {
          SLUICE_RATE_LIMIT: '1000000/s',
          SLUICE_MAX_STREAMS_PER_KEY: '100000',
          SLUICE_TOKENS_PER_MIN: '1000000000000',
        }
      : {}),
    SLUICE_LOG_LEVEL: 'info',
    // A short resume window: thousands of finished answers a second must not fill the store.
    SLUICE_RESUME_TTL_MS: '2000',
  };
}

/** The parts BENCH_OPS_PARTS names (all when unset). */
export function opsParts(text: string | undefined): Set<Part> {
  if (text === undefined || text.trim() === '') return new Set(PARTS);
  if (text.trim() === 'none') return new Set();
  const parts = new Set<Part>();
  for (const name of text.split(',').map((part) => part.trim())) {
    if (!(PARTS as readonly string[]).includes(name))
      throw new Error(`BENCH_OPS_PARTS: unknown part "${name}"; expected ${PARTS.join(', ')} or none`);
    parts.add(name as Part);
  }
  return parts;
}

/**
 * What keys, limits, metrics and logs cost. Two fresh gateways share the gateway's CPU: one with
 * all of them off (no keys, no limits, no metrics, no logger) and one with all of them on (a key
 * on every request, a rate, a stream and a token limit, metrics, a log line per generation). Each
 * round loads both at once, with the same concurrency each, on unpaced answers of 200 chunks,
 * and reads each process's CPU per delivered chunk over the same wall time: whatever else the
 * machine does then weighs on both alike, which separate runs on a shared machine do not give.
 */
export async function opsCase(
  context: BenchContext,
  processes: BenchProcesses,
  settings: { durationMs: number },
  levels: readonly number[],
): Promise<OpsRow[]> {
  const sluice = context.paths.find((path) => path.name === 'sluice');
  if (sluice === undefined) throw new Error('the ops case needs the sluice path');
  // BENCH_OPS_CPU_PROF=DIR profiles both gateways (DIR/off, DIR/on) and prints where each spent
  // its time: what the ops cost is the difference. Node 20 refuses --cpu-prof in NODE_OPTIONS, so
  // a preloaded module runs the same profiler through the inspector and writes it at exit.
  const profileDir = process.env.BENCH_OPS_CPU_PROF;
  const profiled = (mode: 'off' | 'on'): NodeJS.ProcessEnv => {
    if (profileDir === undefined) return {};
    const folder = join(profileDir, mode);
    mkdirSync(folder, { recursive: true });
    const preload = join(folder, 'profile.mjs');
    writeFileSync(preload, profilerPreload(join(folder, `${mode}.cpuprofile`)));
    return { NODE_OPTIONS: `--import=${pathToFileURL(preload).href}` };
  };
  const parts = opsParts(process.env.BENCH_OPS_PARTS);
  const off = processes.spawnGateway({ BENCH_OPS: 'off', SLUICE_RESUME_TTL_MS: '2000', ...profiled('off') });
  const on = processes.spawnGateway({ ...onEnv(parts), ...profiled('on') });
  const [offUrl, onUrl] = await Promise.all([off.url, on.url]);
  const targets: Record<'off' | 'on', LoadTarget> = {
    off: { ...sluice.target, origin: offUrl },
    on: {
      ...sluice.target,
      origin: onUrl,
      headers: parts.has('keys')
        ? { ...sluice.target.headers, authorization: `Bearer ${KEY}` }
        : sluice.target.headers,
    },
  };
  const named = parts.size === 0 ? 'none (the same gateway twice)' : [...parts].join(', ');
  context.log(
    `ops case: ${CHUNKS} chunks, no delay; all off ${offUrl}, on (${named}) ${onUrl}, loaded together`,
  );
  await context.pace({ ttftMs: 0, chunkDelayMs: 0, chunks: CHUNKS });
  const rows: OpsRow[] = [];
  // Prometheus reads /metrics every few seconds: both gateways are scraped while they are loaded
  // (the one without metrics answers 404), so work done when metrics are read is counted too.
  const scrape = (target: LoadTarget): void => {
    void fetch(`${target.origin}/metrics`, { headers: target.headers })
      .then((response) => response.text())
      .catch(() => {});
  };
  const scraper = setInterval(() => {
    scrape(targets.off);
    scrape(targets.on);
  }, SCRAPE_EVERY_MS);
  const both = (spec: Record<string, unknown>): Promise<[LoadResult, LoadResult]> =>
    Promise.all([
      context.loadgen.call<LoadResult>('run', { ...targets.off, ...spec }),
      context.loadgen.call<LoadResult>('run', { ...targets.on, ...spec }),
    ]);
  try {
    for (const concurrency of levels) {
      const spec = steadyLoad(concurrency, settings.durationMs, CHUNKS);
      // Warm both at this concurrency first (connections, JIT).
      await both({ ...spec, durationMs: 3000 });
      const samples: Record<'off' | 'on', number[]> = { off: [], on: [] };
      const ratios: number[] = [];
      const errors: string[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const before = { off: cpuMicros(off.pid), on: cpuMicros(on.pid) };
        const [offResult, onResult] = await both(spec);
        const used = { off: cpuMicros(off.pid) - before.off, on: cpuMicros(on.pid) - before.on };
        for (const [mode, result] of [
          ['off', offResult],
          ['on', onResult],
        ] as const) {
          const failures = loadFailures(mode, result);
          if (failures !== undefined) errors.push(failures);
        }
        if (offResult.chunks === 0 || onResult.chunks === 0) continue;
        const offUs = used.off / offResult.chunks;
        const onUs = used.on / onResult.chunks;
        samples.off.push(offUs);
        samples.on.push(onUs);
        ratios.push(onUs / offUs - 1);
        context.log(
          `  ops c=${concurrency} round ${round + 1}/${ROUNDS}: all off ${offUs.toFixed(2)} µs/chunk ` +
            `(${offResult.chunks} chunks), all on ${onUs.toFixed(2)} µs/chunk (${onResult.chunks} chunks)`,
        );
      }
      rows.push({
        concurrency,
        offUs: median(samples.off),
        onUs: median(samples.on),
        overhead: median(ratios),
        overheadRange: [Math.min(...ratios), Math.max(...ratios)],
        errors,
      });
    }
  } finally {
    clearInterval(scraper);
    await Promise.all([off.stop(), on.stop()]);
  }
  if (profileDir !== undefined) {
    for (const mode of ['off', 'on'] as const)
      context.log(`\nops case, all ${mode}: ${summarizeProfiles(join(profileDir, mode), 40)}`);
  }
  return rows;
}

/** A module that profiles the process it is preloaded into and writes the profile when it exits. */
function profilerPreload(file: string): string {
  return `import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
const session = new Session();
session.connect();
session.post('Profiler.enable');
session.post('Profiler.setSamplingInterval', { interval: 1000 });
session.post('Profiler.start');
// The inspector answers a session of the same thread synchronously: this works in 'exit'.
process.on('exit', () => {
  session.post('Profiler.stop', (error, result) => {
    if (!error) writeFileSync(${JSON.stringify(file)}, JSON.stringify(result.profile));
  });
});
`;
}

/** The ops case as a Markdown table. */
export function renderOps(rows: readonly OpsRow[]): string {
  const percent = (value: number): string => `${(value * 100).toFixed(1)}%`;
  const lines = [
    '| streams per gateway | all off, µs/chunk | keys + limits + metrics + logs, µs/chunk | overhead (median of rounds) | rounds ranged |',
    '| ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (row) =>
        `| ${row.concurrency} | ${row.offUs.toFixed(2)} | ${row.onUs.toFixed(2)} | ${percent(row.overhead)} | ` +
        `${percent(row.overheadRange[0])} to ${percent(row.overheadRange[1])} |`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}
