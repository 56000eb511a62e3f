import { availableParallelism, cpus, release } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { burstCase, burstSettings } from './cases/burst.js';
import { codecCase } from './cases/codec.js';
import { idleCase, idleStreamCount } from './cases/idle.js';
import { latencyCase, latencyInfo, latencySettings } from './cases/latency.js';
import { localCase, renderLocal } from './cases/local.js';
import { type OpsRow, opsCase, renderOps } from './cases/ops.js';
import { type RedisReport, redisCase, renderRedis } from './cases/redis.js';
import { renderScale, type ScaleRow, scaleCase, scaleSettings } from './cases/scale.js';
import { throughputCase, throughputSettings } from './cases/throughput.js';
import { renderUpstream, type UpstreamRow, upstreamCase } from './cases/upstream.js';
import { warmUp } from './cases/warmup.js';
import { renderWorkers, type WorkersReport, workersCase } from './cases/workers.js';
import { type BenchContext, log, type Path } from './context.js';
import { DOCS, writeDocs } from './docs.js';
import { createMeasurer } from './measure.js';
import { HELP, parseOptions } from './options.js';
import { CLOCK_TICKS } from './procfs.js';
import { summarizeProfiles } from './profile.js';
import { type Cell, type IdleCell, type Report, renderReport } from './report.js';
import { connectPaths, startProcesses } from './setup.js';

/**
 * `npm run bench`: direct-to-emulator, a byte pass-through proxy and Sluice, each in its own
 * process; every case (bench/cases/) measures the paths in turn, and the report goes to stdout
 * and, for a full run, to docs/benchmarks.md.
 */
async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  if (options === undefined) {
    process.stdout.write(HELP);
    return;
  }
  const began = performance.now();
  const quick = options.quick;
  const latency = latencySettings(quick, options.pairs);
  const throughput = throughputSettings(quick);
  const burst = burstSettings(quick);
  const idleStreams = idleStreamCount(quick);

  // The local model runs before the emulator's processes start, with the machine to itself.
  const local = options.cases.has('local') ? renderLocal(await localCase(quick)) : '';
  if ([...options.cases].every((name) => name === 'local')) {
    process.stdout.write(`\n## Sluice benchmark\n\n${local}`);
    return;
  }
  const codecs = codecCase(quick);
  const processes = await startProcesses(options);
  try {
    const paths = (await connectPaths(processes)).filter((path) => options.paths.has(path.name));
    const measurer = createMeasurer(processes, began + (quick ? 120_000 : 270_000));
    const context: BenchContext = {
      quick,
      paths,
      loadgen: processes.loadgen,
      pace: (scenario) => processes.emulator.call('pace', scenario),
      measure: measurer.measure,
      log,
    };

    await warmUp(context);
    const cells: Cell[] = [];
    if (options.cases.has('latency')) {
      const sluice = paths.find((path) => path.name === 'sluice');
      const http1Reference =
        sluice === undefined
          ? undefined
          : async (): Promise<Path> => {
              const middle = processes.spawnGateway({ SLUICE_UPSTREAM_HTTP2: 'off' });
              const origin = await middle.url;
              return { name: 'sluice-http1', middle, target: { ...sluice.target, origin } };
            };
      cells.push(...(await latencyCase(context, latency, options.latencyConcurrency, http1Reference)));
    }
    if (options.cases.has('throughput')) {
      cells.push(...(await throughputCase(context, throughput, options.concurrency)));
    }
    if (options.cases.has('burst')) cells.push(...(await burstCase(context, burst)));
    const idle: IdleCell[] = options.cases.has('idle') ? await idleCase(context, processes, idleStreams) : [];
    const ops: OpsRow[] = options.cases.has('ops')
      ? await opsCase(context, processes, throughput, options.concurrency)
      : [];
    const pinned = processes.pinning.startsWith('taskset');
    const redis: RedisReport | undefined = options.cases.has('redis')
      ? await redisCase(
          context,
          processes,
          { ...throughput, pinned, cpuProf: options.cpuProf },
          options.concurrency,
        )
      : undefined;
    const workers: WorkersReport | undefined = options.cases.has('workers')
      ? await workersCase(context, processes, { ...throughput, pinned }, options.concurrency)
      : undefined;
    const upstream: UpstreamRow[] = options.cases.has('upstream')
      ? await upstreamCase(context, processes)
      : [];
    const scale: ScaleRow[] = options.cases.has('scale') ? await scaleCase(context, processes) : [];

    await processes.stopAll();
    codecs.again();
    const report: Report = {
      info: {
        date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
        quick,
        nproc: availableParallelism(),
        node: process.version,
        cpuModel: cpus()[0]?.model.trim() ?? 'unknown CPU',
        kernel: release(),
        pinning: processes.pinning,
        peakReset: measurer.peakReset,
        clockTicks: CLOCK_TICKS,
        latency: latencyInfo(latency),
        throughput,
        burst,
        idleStreams,
        durationS: (performance.now() - began) / 1000,
      },
      cells,
      idle,
      codecs: codecs.costs,
    };
    const text = `${renderReport(report)}${local === '' ? '' : `\n${local}`}`;
    process.stdout.write(`\n## Sluice benchmark\n\n${text}\n`);
    if (ops.length > 0) {
      process.stdout.write(
        `\n### What keys, limits, metrics and logs cost (gateway CPU per chunk, both loaded together, 6 rounds)\n\n${renderOps(ops)}`,
      );
      for (const row of ops)
        if (row.errors.length > 0) log(`errors (ops c=${row.concurrency}): ${row.errors.join('; ')}`);
    }
    if (redis !== undefined) {
      process.stdout.write(
        `\n### What Redis costs (gateway CPU per chunk with and without REDIS_URL, both loaded together)\n\n${renderRedis(redis)}`,
      );
    }
    if (workers !== undefined) {
      process.stdout.write(
        `\n### sluice serve --workers 2 against one worker, both with REDIS_URL\n\n${renderWorkers(workers)}`,
      );
    }
    if (upstream.length > 0) {
      process.stdout.write(
        `\n### Upstream over HTTP/1.1 and over h2c (Sluice, fresh gateway process each)\n\n${renderUpstream(upstream)}`,
      );
      for (const row of upstream)
        if (row.errors.length > 0) log(`errors (upstream ${row.protocol}): ${row.errors.join('; ')}`);
    }
    if (scale.length > 0) {
      process.stdout.write(
        `\n### Many open streams (fresh pass-through and gateway processes)\n\n${renderScale(scale, scaleSettings(quick))}`,
      );
    }
    for (const cell of cells) {
      if (cell.errors.length > 0)
        log(`errors (${cell.caseName} c=${cell.concurrency} ${cell.path}): ${cell.errors.join('; ')}`);
    }
    if (options.cpuProf !== undefined) {
      const directory = join(options.cpuProf, 'sluice');
      process.stdout.write(`\n### Gateway CPU profile (${directory})\n\n${summarizeProfiles(directory)}\n`);
      if (redis !== undefined) {
        const mirrored = join(options.cpuProf, 'redis');
        process.stdout.write(
          `\n### Gateway with REDIS_URL, CPU profile (${mirrored})\n\n${summarizeProfiles(mirrored)}\n`,
        );
      }
    }
    if (options.docs) {
      writeDocs(text);
      log(`wrote ${DOCS}`);
    }
  } finally {
    await processes.stopAll();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
