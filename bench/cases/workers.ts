import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { type BenchContext, steadyLoad } from '../context.js';
import type { LoadResult, LoadSpec, LoadTarget } from '../loadgen.js';
import { median, percentile } from '../report.js';
import type { BenchProcesses } from '../setup.js';
import { cpuOfPid, otherLoadMeter, startBenchRedis } from './redis.js';

/** The built CLI, as `npx sluice` runs it (dist-bench/bench/cases -> dist/cli). */
const CLI = fileURLToPath(new URL('../../../dist/cli/main.js', import.meta.url));

/** `sluice serve` in a process of its own (its workers are its children). */
interface Served {
  url: string;
  pid: number;
  /** The primary and its workers. */
  pids(): number[];
  stop(): Promise<void>;
}

/** Children of `pid`, from /proc (the cluster workers of a primary). */
function childrenOf(pid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

async function startServe(workers: number, env: NodeJS.ProcessEnv): Promise<Served> {
  const args = [
    CLI,
    'serve',
    '--port',
    '0',
    '--host',
    '127.0.0.1',
    ...(workers > 1 ? ['--workers', String(workers)] : []),
  ];
  const child: ChildProcess = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`sluice serve did not start within 20 s:\n${output}`)),
      20_000,
    );
    child.stderr?.on('data', (data: Buffer) => {
      output += data.toString();
      // The primary prints the banner once every worker listens.
      const match = /listening on (http:\/\/[\d.:]+)/.exec(output);
      if (match?.[1] !== undefined && (workers === 1 || output.includes('workers:'))) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`sluice serve exited before listening:\n${output}`));
    });
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('sluice serve has no pid');
  return {
    url,
    pid,
    pids: () => [pid, ...childrenOf(pid)],
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

type Load = 'throughput' | 'latency';

/** One configuration at one concurrency and load: medians over the rounds. */
export interface WorkersRow {
  load: Load;
  concurrency: number;
  workers: number;
  chunksPerSecond: number;
  ttftP50: number;
  ttftP99: number;
  /** Primary and workers together, per delivered chunk. */
  cpuPerChunkUs: number;
  /** CPU time / wall time: the gateway's processes, and emulator + load generator + redis-server. */
  gatewayBusy: number;
  clientSideBusy: number;
  otherLoad: number;
  errors: string[];
}

export interface WorkersReport {
  rounds: number;
  throughput: { chunks: number; durationMs: number };
  latency: { chunks: number; delayMs: number; ttftMs: number };
  rows: WorkersRow[];
}

/**
 * `sluice serve --workers 2` against one worker (`sluice serve`), both with REDIS_URL, at the
 * same fixed loads: unpaced answers for chunks per second, paced ones for time to first token.
 * Both run the built CLI, unpinned; emulator, load generator and redis-server stay on CPU 0, so
 * on a 2-CPU machine the second worker shares its core with them. Rounds alternate the two.
 */
export async function workersCase(
  context: BenchContext,
  processes: BenchProcesses,
  settings: { durationMs: number; pinned: boolean },
  levels: readonly number[],
): Promise<WorkersReport> {
  if (!existsSync(CLI))
    throw new Error(`the workers case runs the built CLI (${CLI}): run \`npm run build\` first`);
  const redis = await startBenchRedis(settings.pinned ? '0' : undefined);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SLUICE_DEMO: '0',
    OPENAI_BASE_URL: processes.openaiBase,
    OPENAI_API_KEY: 'bench-dummy-key',
    SLUICE_RESUME_TTL_MS: '2000',
    SLUICE_LOG_LEVEL: 'silent',
    REDIS_URL: redis.url,
  };
  delete env.PORT;
  delete env.SLUICE_WORKERS;
  const rounds = context.quick ? 1 : 3;
  const throughput = { chunks: 200, durationMs: settings.durationMs };
  const latency = { chunks: 50, delayMs: 20, ttftMs: 50 };
  const servers: Served[] = [];
  try {
    const one = await startServe(1, env);
    servers.push(one);
    const two = await startServe(2, env);
    servers.push(two);
    const configs = [
      { workers: 1, served: one },
      { workers: 2, served: two },
    ];
    context.log(
      `workers case: sluice serve (${one.url}) and sluice serve --workers 2 (${two.url}), REDIS_URL ` +
        `(redis-server pid ${redis.pid}), ${rounds} rounds`,
    );
    const sluice = context.paths.find((path) => path.name === 'sluice');
    if (sluice === undefined) throw new Error('the workers case needs the sluice path');
    const samples = new Map<string, Omit<WorkersRow, 'errors'>[]>();
    const errors = new Map<string, string[]>();
    const clientPids = (): number[] => [processes.emulator.pid, processes.loadgen.pid, redis.pid];

    const measure = async (
      load: Load,
      concurrency: number,
      workers: number,
      served: Served,
    ): Promise<void> => {
      const target: LoadTarget = { ...sluice.target, origin: served.url };
      const streamMs = latency.ttftMs + (latency.chunks - 1) * latency.delayMs;
      const spec: Omit<LoadSpec, keyof LoadTarget> =
        load === 'throughput'
          ? steadyLoad(concurrency, throughput.durationMs, throughput.chunks)
          : {
              concurrency,
              maxRequests: concurrency * 3,
              durationMs: streamMs * 12 + 10_000,
              hardTimeoutMs: streamMs * 12 + 20_000,
              rampMs: streamMs,
              measureAfterMs: streamMs,
              expectedChunks: latency.chunks,
            };
      // Unmeasured first: every worker's pools open their connections.
      await context.loadgen.call<LoadResult>('run', {
        ...target,
        ...spec,
        ...(load === 'throughput' ? { durationMs: 500 } : { maxRequests: concurrency, rampMs: 0 }),
      });
      const pids = served.pids();
      const otherLoad = otherLoadMeter(processes, () => [redis.pid, ...pids]);
      const cpu = (list: readonly number[]): number => list.reduce((sum, pid) => sum + cpuOfPid(pid), 0);
      const before = { gateway: cpu(pids), client: cpu(clientPids()) };
      const began = performance.now();
      const result = await context.loadgen.call<LoadResult>('run', { ...target, ...spec });
      const wallUs = (performance.now() - began) * 1000;
      const used = { gateway: cpu(pids) - before.gateway, client: cpu(clientPids()) - before.client };
      const key = `${load}/${concurrency}/${workers}`;
      const sample = {
        load,
        concurrency,
        workers,
        chunksPerSecond: result.windowMs > 0 ? (result.windowChunks * 1000) / result.windowMs : Number.NaN,
        ttftP50: percentile(result.ttftMs, 0.5),
        ttftP99: percentile(result.ttftMs, 0.99),
        cpuPerChunkUs: result.chunks === 0 ? Number.NaN : used.gateway / result.chunks,
        gatewayBusy: used.gateway / wallUs,
        clientSideBusy: used.client / wallUs,
        otherLoad: otherLoad(),
      };
      samples.set(key, [...(samples.get(key) ?? []), sample]);
      if (result.failed + result.incomplete > 0) {
        const list = errors.get(key) ?? [];
        if (list.length < 3)
          list.push(`${result.failed} failed, ${result.incomplete} short; ${result.errors.join('; ')}`);
        errors.set(key, list);
      }
      context.log(
        `  workers ${load} c=${concurrency} workers=${workers}: ${Math.round(sample.chunksPerSecond)} chunks/s, ` +
          `ttft p50 ${sample.ttftP50.toFixed(2)} p99 ${sample.ttftP99.toFixed(2)} ms, ` +
          `cpu ${sample.cpuPerChunkUs.toFixed(1)} µs/chunk, gateway busy ${Math.round(sample.gatewayBusy * 100)}%, ` +
          `other load ${Math.round(sample.otherLoad * 100)}%`,
      );
    };

    for (let round = 0; round < rounds; round++) {
      // Alternate which goes first, so neither always follows the other's garbage.
      const order = round % 2 === 0 ? configs : [...configs].reverse();
      for (const load of ['throughput', 'latency'] as const) {
        await context.pace(
          load === 'throughput'
            ? { ttftMs: 0, chunkDelayMs: 0, chunks: throughput.chunks }
            : { ttftMs: latency.ttftMs, chunkDelayMs: latency.delayMs, chunks: latency.chunks },
        );
        for (const concurrency of levels) {
          for (const config of order) await measure(load, concurrency, config.workers, config.served);
        }
      }
    }
    const rows: WorkersRow[] = [];
    for (const load of ['throughput', 'latency'] as const) {
      for (const concurrency of levels) {
        for (const workers of [1, 2]) {
          const key = `${load}/${concurrency}/${workers}`;
          const list = samples.get(key) ?? [];
          const of = (pick: (sample: Omit<WorkersRow, 'errors'>) => number): number => median(list.map(pick));
          rows.push({
            load,
            concurrency,
            workers,
            chunksPerSecond: of((sample) => sample.chunksPerSecond),
            ttftP50: of((sample) => sample.ttftP50),
            ttftP99: of((sample) => sample.ttftP99),
            cpuPerChunkUs: of((sample) => sample.cpuPerChunkUs),
            gatewayBusy: of((sample) => sample.gatewayBusy),
            clientSideBusy: of((sample) => sample.clientSideBusy),
            otherLoad: of((sample) => sample.otherLoad),
            errors: errors.get(key) ?? [],
          });
        }
      }
    }
    return { rounds, throughput, latency, rows };
  } finally {
    await Promise.all(servers.map((served) => served.stop()));
    await redis.stop();
  }
}

/** The workers case as Markdown tables. */
export function renderWorkers(report: WorkersReport): string {
  const percent = (value: number): string => (Number.isFinite(value) ? `${Math.round(value * 100)}%` : '-');
  const fixed = (value: number, digits: number): string =>
    Number.isFinite(value) ? value.toFixed(digits) : '-';
  const integer = (value: number): string =>
    Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '-';
  const describe = (load: Load): string =>
    load === 'throughput'
      ? `unpaced, ${report.throughput.chunks} chunks`
      : `${report.latency.chunks} chunks ${report.latency.delayMs} ms apart, TTFT ${report.latency.ttftMs} ms`;
  const lines = [
    `Medians over ${report.rounds} rounds (the two configurations alternate). Both run the built CLI with ` +
      'REDIS_URL and SLUICE_LOG_LEVEL=silent, unpinned; emulator, load generator and redis-server share CPU 0. ' +
      'CPU µs/chunk: primary and workers together. Busy: CPU time / wall time (100% = one core).',
    '',
    '| answers | streams | workers | chunks/s | TTFT p50 ms | TTFT p99 ms | CPU µs/chunk | gateway busy | emu+load+redis busy | other load | errors |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const row of report.rows) {
    lines.push(
      `| ${describe(row.load)} | ${row.concurrency} | ${row.workers} | ${integer(row.chunksPerSecond)} | ` +
        `${fixed(row.ttftP50, 2)} | ${fixed(row.ttftP99, 2)} | ${fixed(row.cpuPerChunkUs, 1)} | ` +
        `${percent(row.gatewayBusy)} | ${percent(row.clientSideBusy)} | ${percent(row.otherLoad)} | ` +
        `${row.errors.length === 0 ? '0' : row.errors.join('; ')} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}
