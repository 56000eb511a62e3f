import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  numberOption,
  type OptionSpec,
  parseOptionsOnly,
  stringOption,
  UsageError,
} from '../src/cli/args.js';
import type { BenchChild } from './children.js';
import type { Path } from './context.js';
import type { LoadResult, LoadSpec } from './loadgen.js';
import type { LoopSample } from './process.js';
import { type ProcessTimes, processTimes } from './procfs.js';
import { median, percentile } from './report.js';
import { connectPaths, startProcesses } from './setup.js';

const HELP = `Usage: node dist-bench/bench/compare.js [options]

Alternating rounds of the latency case's load (paced answers, one chunk per upstream read) on
the pass-through, this build's gateway, and, when asked, a second gateway: another build's
(--base), or this one with other Node flags (--node-args=...) or settings (--env). Each round
loads each in turn and prints what its process spent: CPU per chunk and per stream (user and
system apart), read and write calls, page faults, event-loop delay p99, GC time and time to
first token; the end gives the medians over the rounds. For A/B comparisons that one full
benchmark run cannot resolve.

Options:
  --concurrency N   streams at once (default 512)
  --chunks N        content chunks a stream, 20 ms apart after a 50 ms first token (default 50)
  --streams N       streams a round (default 3 x concurrency)
  --rounds N        measured rounds, after one warm-up round (default 4, at most 50)
  --base DIR        a dist-bench directory built from another checkout: its gateway is the second
  --node-args=FLAGS Node flags for the second gateway (this build's, unless --base), written
                    after "=" since they start with dashes: --node-args="--perf-basic-prof"
  --env K=V[,K=V]   environment settings for the second gateway (this build's, unless --base):
                    --env SLUICE_UPSTREAM_HTTP2=off
  -h, --help        this text
`;

const SPEC: OptionSpec = {
  concurrency: 'string',
  chunks: 'string',
  streams: 'string',
  rounds: 'string',
  base: 'string',
  'node-args': 'string',
  env: 'string',
};

/** What /proc says a process has used so far: CPU and faults (stat), read and write calls (io). */
interface Usage extends ProcessTimes {
  reads: number;
  writes: number;
}

function usage(pid: number): Usage {
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  const count = (name: string): number => Number(new RegExp(`${name}: (\\d+)`).exec(io)?.[1] ?? Number.NaN);
  return { ...processTimes(pid), reads: count('syscr'), writes: count('syscw') };
}

interface Round {
  cpuPerChunkUs: number;
  cpuPerStreamUs: number;
}

async function main(argv: string[]): Promise<number> {
  const args = parseOptionsOnly(argv, SPEC);
  if (args === undefined) {
    process.stdout.write(HELP);
    return 0;
  }
  const concurrency = numberOption(args, 'concurrency', { integer: true, min: 1 }) ?? 512;
  if (concurrency > 4000) throw new UsageError('--concurrency must be at most 4000');
  const chunks = numberOption(args, 'chunks', { integer: true, min: 1 }) ?? 50;
  const streams = numberOption(args, 'streams', { integer: true, min: 1 }) ?? 3 * concurrency;
  const rounds = numberOption(args, 'rounds', { integer: true, min: 1 }) ?? 4;
  if (rounds > 50) throw new UsageError('--rounds must be at most 50');
  const base = stringOption(args, 'base');
  const nodeArgs =
    stringOption(args, 'node-args')
      ?.split(/\s+/)
      .filter((arg) => arg !== '') ?? [];

  const env: Record<string, string> = {};
  for (const pair of stringOption(args, 'env')?.split(',') ?? []) {
    const at = pair.indexOf('=');
    if (at < 1) throw new UsageError(`--env takes NAME=VALUE pairs, got "${pair}"`);
    env[pair.slice(0, at)] = pair.slice(at + 1);
  }
  const processes = await startProcesses({ cpuProf: undefined });
  const paths = (await connectPaths(processes)).filter(
    (path) => path.name === 'pass-through' || path.name === 'sluice',
  );
  const compared: { label: string; path: Path }[] = paths.map((path) => ({ label: path.name, path }));
  if (base !== undefined || nodeArgs.length > 0 || Object.keys(env).length > 0) {
    const build =
      base === undefined
        ? undefined
        : (
            (await import(pathToFileURL(resolve(base, 'bench/children.js')).href)) as {
              BenchChild: typeof BenchChild;
            }
          ).BenchChild;
    const second = processes.spawnGateway(env, { nodeArgs, ...(build === undefined ? {} : { build }) });
    const sluice = compared.find((entry) => entry.label === 'sluice');
    if (sluice === undefined) throw new Error('no sluice path');
    compared.push({
      label: [
        base === undefined ? 'sluice' : `sluice at ${base}`,
        ...nodeArgs,
        ...Object.entries(env).map(([name, value]) => `${name}=${value}`),
      ].join(' '),
      path: { ...sluice.path, middle: second, target: { ...sluice.path.target, origin: await second.url } },
    });
  }
  const delayMs = 20;
  const ttftMs = 50;
  await processes.emulator.call('pace', { ttftMs, chunkDelayMs: delayMs, chunks });
  const streamMs = ttftMs + (chunks - 1) * delayMs;
  process.stdout.write(
    `compare: ${concurrency} streams at once, ${streams} a round, ${chunks} chunks ${delayMs} ms apart; ` +
      `${rounds} rounds after a warm-up; ${processes.pinning}\n` +
      `pids: ${compared.map(({ label, path }) => `${label} ${path.middle?.pid}`).join(', ')}\n`,
  );

  const results = new Map<string, Round[]>();
  for (let round = 0; round <= rounds; round++) {
    for (const { label, path } of compared) {
      const middle = path.middle as BenchChild;
      const pid = middle.pid;
      await middle.call('loopReset');
      const before = usage(pid);
      const started = performance.now();
      const spec: LoadSpec = {
        ...path.target,
        concurrency,
        maxRequests: streams,
        durationMs: (streams / concurrency + 2) * streamMs * 3 + 10_000,
        hardTimeoutMs: (streams / concurrency + 2) * streamMs * 3 + 20_000,
        // The warm-up round opens every connection at once; measured rounds spread their arrivals.
        rampMs: round === 0 ? 0 : streamMs,
        measureAfterMs: 0,
        expectedChunks: chunks,
      };
      const load = await processes.loadgen.call<LoadResult>('run', spec);
      const wallMs = performance.now() - started;
      const after = usage(pid);
      const loop = await middle.call<LoopSample>('loopSample');
      if (round === 0) continue;
      const cpuUs = after.userUs + after.systemUs - before.userUs - before.systemUs;
      const perStream = (value: number): string => (value / load.started).toFixed(1);
      const row: Round = { cpuPerChunkUs: cpuUs / load.chunks, cpuPerStreamUs: cpuUs / load.started };
      results.set(label, [...(results.get(label) ?? []), row]);
      process.stdout.write(
        `round ${round} ${label}: ${row.cpuPerChunkUs.toFixed(1)} µs/chunk, ${row.cpuPerStreamUs.toFixed(0)} µs/stream ` +
          `(user ${perStream(after.userUs - before.userUs)}, system ${perStream(after.systemUs - before.systemUs)}); ` +
          `reads ${perStream(after.reads - before.reads)}, writes ${perStream(after.writes - before.writes)}, ` +
          `faults ${perStream(after.minorFaults - before.minorFaults)} a stream; busy ${((cpuUs / 1000 / wallMs) * 100).toFixed(0)}%; ` +
          `loop p99 ${loop.delayP99Ms.toFixed(1)} ms; GC ${loop.gcMs.toFixed(0)} ms; ` +
          `ttft p50 ${percentile(load.ttftMs, 0.5).toFixed(1)} p99 ${percentile(load.ttftMs, 0.99).toFixed(1)} ms; ` +
          `${load.completed} of ${load.started} complete${load.errors.length > 0 ? `; errors: ${load.errors.slice(0, 2).join('; ')}` : ''}\n`,
      );
    }
  }
  const passthrough = median((results.get('pass-through') ?? []).map((row) => row.cpuPerChunkUs));
  for (const [label, rows] of results) {
    const perChunk = median(rows.map((row) => row.cpuPerChunkUs));
    process.stdout.write(
      `median ${label}: ${perChunk.toFixed(1)} µs/chunk, ${median(rows.map((row) => row.cpuPerStreamUs)).toFixed(0)} µs/stream` +
        `${label === 'pass-through' ? '' : `, ${(perChunk / passthrough).toFixed(2)}x the pass-through`}\n`,
    );
  }
  await processes.stopAll();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`compare: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(error instanceof UsageError ? 2 : 1);
  },
);
