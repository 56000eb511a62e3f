import type { BenchChild } from '../children.js';
import { type BenchContext, steadyLoad } from '../context.js';
import type { IdleResult, LoadResult, LoadSpec, LoadTarget } from '../loadgen.js';
import { settledMemory } from '../measure.js';
import { cpuMicros, descriptors } from '../procfs.js';
import type { BenchProcesses } from '../setup.js';

/** How Sluice reaches its upstream in one row of the upstream case. */
export type UpstreamProtocol = 'http1' | 'h2c';

export interface UpstreamRow {
  protocol: UpstreamProtocol;
  idleStreams: number;
  opened: number;
  /** Sockets a fresh gateway process holds before any request: its listening socket, IPC. */
  socketsFresh: number;
  /** Sockets it held with every idle stream open. */
  socketsIdle: number;
  /** Of those, to the upstream: all but the fresh ones and one per client connection. */
  upstreamSockets: number;
  rssPerStream: number;
  heapPerStream: number;
  /** Gateway CPU per content chunk delivered, µs, under the throughput load. */
  cpuPerChunkUs: number;
  chunks: number;
  errors: string[];
}

export function upstreamSettings(quick: boolean): {
  idleStreams: number;
  concurrency: number;
  chunks: number;
  durationMs: number;
} {
  return quick
    ? { idleStreams: 200, concurrency: 64, chunks: 100, durationMs: 1500 }
    : { idleStreams: 500, concurrency: 64, chunks: 200, durationMs: 3000 };
}

/**
 * The same gateway with HTTP/1.1 and with h2c to the emulator, each in a fresh process: sockets
 * held and memory per idle open stream, and CPU per chunk under a throughput load.
 */
export async function upstreamCase(context: BenchContext, processes: BenchProcesses): Promise<UpstreamRow[]> {
  const settings = upstreamSettings(context.quick);
  const sluice = context.paths.find((path) => path.name === 'sluice');
  if (sluice === undefined) throw new Error('the upstream case needs the sluice path');
  context.log(
    `upstream case: Sluice with HTTP/1.1 and with h2c upstream; ${settings.idleStreams} idle streams, ` +
      `then ${settings.concurrency} streams of ${settings.chunks} chunks`,
  );
  await Promise.all([processes.gateway.stop(), processes.gatewayOpenAi.stop(), processes.passthrough.stop()]);
  const rows: UpstreamRow[] = [];
  for (const protocol of ['http1', 'h2c'] as const) {
    const gateway = processes.spawnGateway({ SLUICE_UPSTREAM_HTTP2: protocol === 'h2c' ? 'h2c' : 'off' });
    try {
      rows.push(
        await measureOne(
          context,
          gateway,
          { ...sluice.target, origin: await gateway.url },
          protocol,
          settings,
        ),
      );
    } finally {
      await gateway.stop();
    }
    const row = rows.at(-1);
    if (row !== undefined) {
      context.log(
        `  ${protocol}: ${row.opened} idle open, ${row.socketsIdle} sockets held (${row.upstreamSockets} upstream), ${(row.rssPerStream / 1024).toFixed(1)} KB RSS and ` +
          `${(row.heapPerStream / 1024).toFixed(1)} KB heap per stream, ${row.cpuPerChunkUs.toFixed(1)} µs CPU per chunk`,
      );
    }
  }
  return rows;
}

async function measureOne(
  context: BenchContext,
  gateway: BenchChild,
  target: LoadTarget,
  protocol: UpstreamProtocol,
  settings: ReturnType<typeof upstreamSettings>,
): Promise<UpstreamRow> {
  const { loadgen, pace } = context;
  const errors: string[] = [];
  const socketsFresh = descriptors(gateway.pid).sockets;
  // Warm-up as in the idle case: as many quick streams at once, so the client pool holds its sockets.
  await pace({ ttftMs: 0, chunkDelayMs: 0, chunks: 1 });
  const warm: LoadSpec = {
    ...target,
    concurrency: settings.idleStreams,
    maxRequests: settings.idleStreams,
    durationMs: 20_000,
    hardTimeoutMs: 30_000,
    rampMs: 0,
    measureAfterMs: 0,
    expectedChunks: 1,
  };
  for (let round = 0; round < 2; round++) await loadgen.call<LoadResult>('run', warm);
  await pace({ ttftMs: 120_000, chunkDelayMs: 0, chunks: 1 });
  const before = await settledMemory(gateway);
  const opened = await loadgen.call<IdleResult>('openIdle', {
    target,
    count: settings.idleStreams,
    timeoutMs: 20_000,
  });
  errors.push(...opened.errors);
  await new Promise((done) => setTimeout(done, 500));
  const after = await settledMemory(gateway);
  const socketsIdle = descriptors(gateway.pid).sockets;
  await loadgen.call('closeIdle');
  const count = Math.max(1, opened.opened);

  // CPU per chunk: unpaced answers at a fixed concurrency.
  await pace({ ttftMs: 0, chunkDelayMs: 0, chunks: settings.chunks });
  const spec: LoadSpec = {
    ...target,
    ...steadyLoad(settings.concurrency, settings.durationMs, settings.chunks),
  };
  await loadgen.call<LoadResult>('run', { ...spec, durationMs: 300 });
  const cpuBefore = cpuMicros(gateway.pid);
  const load = await loadgen.call<LoadResult>('run', spec);
  const cpu = cpuMicros(gateway.pid) - cpuBefore;
  errors.push(...load.errors);
  return {
    protocol,
    idleStreams: settings.idleStreams,
    opened: opened.opened,
    socketsFresh,
    socketsIdle,
    // The client pool holds one connection per idle stream (it was warmed to that many).
    upstreamSockets: socketsIdle - socketsFresh - opened.opened,
    rssPerStream: (after.rss - before.rss) / count,
    heapPerStream: (after.heapUsed - before.heapUsed) / count,
    cpuPerChunkUs: load.chunks > 0 ? cpu / load.chunks : Number.NaN,
    chunks: load.chunks,
    errors,
  };
}

export function renderUpstream(rows: readonly UpstreamRow[]): string {
  const lines = [
    '| upstream | idle streams open | gateway sockets held | of which upstream | RSS per idle stream | heap per idle stream | CPU per chunk (64 streams) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const row of rows) {
    lines.push(
      `| ${row.protocol === 'h2c' ? 'h2c' : 'HTTP/1.1'} | ${row.opened} of ${row.idleStreams} | ${row.socketsIdle} | ${row.upstreamSockets} | ` +
        `${(row.rssPerStream / 1024).toFixed(1)} KB | ${(row.heapPerStream / 1024).toFixed(1)} KB | ${row.cpuPerChunkUs.toFixed(1)} µs |`,
    );
  }
  return `${lines.join('\n')}\n`;
}
