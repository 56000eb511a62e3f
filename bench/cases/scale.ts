import { loadavg } from 'node:os';
import type { BenchChild } from '../children.js';
import type { BenchContext } from '../context.js';
import type { LoadResult, LoadSpec, LoadTarget } from '../loadgen.js';
import { cpuMicros, descriptors, memory } from '../procfs.js';
import type { BenchProcesses } from '../setup.js';

export interface ScaleSettings {
  streams: number;
  chunks: number;
  chunkDelayMs: number;
  /** Stream i starts at i * rampMs / streams. */
  rampMs: number;
}

export function scaleSettings(quick: boolean): ScaleSettings {
  return quick
    ? { streams: 2000, chunks: 5, chunkDelayMs: 3000, rampMs: 8000 }
    : // 333 new streams a second, a ramp one core keeps up with on a shared machine; every
      // stream lasts past the end of the ramp, so all are open at once.
      { streams: 10_000, chunks: 8, chunkDelayMs: 5000, rampMs: 30_000 };
}

export interface ScaleRow {
  path: 'pass-through' | 'sluice-h2c';
  streams: number;
  /** Streams the load generator started (one each, plus one again for each that failed early). */
  started: number;
  /** Streams that ended with every chunk. */
  finished: number;
  /** Streams that failed (an HTTP error, a reset, a timeout) or ended short. */
  errors: number;
  errorSamples: string[];
  /** What the pass-through counted itself (EMFILE on accept or on connecting upstream). */
  middleErrors: Record<string, number>;
  /** Most streams the emulator was writing at once. */
  peakUpstreamStreams: number;
  /** Sluice: most generations running at once in the gateway. */
  peakRunning: number | undefined;
  /** Most connections open at the emulator at once. */
  peakUpstreamConnections: number;
  peakRss: number;
  peakSockets: number;
  /** The middle process died during the run (its last readings are reported). */
  died: boolean;
  elapsedMs: number;
  /** CPU time of the middle process over the run, seconds (its core's share is cpu / elapsed). */
  cpuSeconds: number;
  /** The machine's 1-minute load average at the start and the end of the run. */
  load: [number, number];
}

interface EmulatorStats {
  active: number;
  connections: { http1: number; http2: number; open: number };
}

/**
 * 10,000 concurrent slow streams (a few chunks seconds apart), opened over a ramp, through the
 * byte pass-through (two sockets per stream: past the open-file limit it fails with EMFILE,
 * which is counted, not fatal) and through Sluice with h2c to the emulator (one socket per
 * stream plus a few upstream connections). Each middle process is fresh.
 */
export async function scaleCase(context: BenchContext, processes: BenchProcesses): Promise<ScaleRow[]> {
  const settings = scaleSettings(context.quick);
  const sluice = context.paths.find((path) => path.name === 'sluice');
  const passthrough = context.paths.find((path) => path.name === 'pass-through');
  context.log(
    `scale case: ${settings.streams} streams over ${settings.rampMs / 1000} s, ` +
      `${settings.chunks} chunks ${settings.chunkDelayMs / 1000} s apart`,
  );
  await Promise.all([processes.gateway.stop(), processes.gatewayOpenAi.stop(), processes.passthrough.stop()]);
  const rows: ScaleRow[] = [];
  // --paths pass-through or --paths sluice runs one of the two.
  const names = (['pass-through', 'sluice-h2c'] as const).filter((name) =>
    context.paths.some((path) => path.name === (name === 'sluice-h2c' ? 'sluice' : name)),
  );
  for (const name of names) {
    const base = (name === 'pass-through' ? passthrough : sluice)?.target;
    if (base === undefined) continue;
    const middle =
      name === 'pass-through'
        ? processes.spawnMiddle('pass-through', false)
        : processes.spawnGateway({
            SLUICE_UPSTREAM_HTTP2: 'h2c',
            // Every stream is a generation, held a while after it ends for resume.
            SLUICE_MAX_GENERATIONS: String(settings.streams * 3),
          });
    try {
      const target: LoadTarget = { ...base, origin: await middle.url, connections: settings.streams };
      rows.push(await runOne(context, processes, middle, target, name, settings));
    } finally {
      await middle.stop();
    }
    const row = rows.at(-1);
    if (row !== undefined) {
      context.log(
        `  ${name}: ${row.started} started, ${row.finished} of ${row.streams} finished, ${row.errors} errors` +
          `${Object.keys(row.middleErrors).length > 0 ? ` (${JSON.stringify(row.middleErrors)})` : ''}, ` +
          `peak ${row.peakUpstreamStreams} upstream streams on ${row.peakUpstreamConnections} connections, ` +
          `${row.peakRunning === undefined ? '' : `peak ${row.peakRunning} generations running, `}` +
          `peak RSS ${(row.peakRss / 1048576).toFixed(0)} MB, peak ${row.peakSockets} sockets` +
          `, ${row.cpuSeconds.toFixed(1)} s CPU in ${(row.elapsedMs / 1000).toFixed(0)} s` +
          `${row.died ? ', the process died' : ''}`,
      );
    }
  }
  return rows;
}

async function runOne(
  context: BenchContext,
  processes: BenchProcesses,
  middle: BenchChild,
  target: LoadTarget,
  name: ScaleRow['path'],
  settings: ScaleSettings,
): Promise<ScaleRow> {
  await context.pace({ ttftMs: 500, chunkDelayMs: settings.chunkDelayMs, chunks: settings.chunks });
  const spec: LoadSpec = {
    ...target,
    concurrency: settings.streams,
    maxRequests: settings.streams,
    // Every stream starts, however late a starved load generator gets to it.
    durationMs: settings.rampMs + settings.chunks * settings.chunkDelayMs + 30_000,
    hardTimeoutMs: settings.rampMs + settings.chunks * settings.chunkDelayMs + 60_000,
    rampMs: settings.rampMs,
    measureAfterMs: 0,
    expectedChunks: settings.chunks,
  };
  const peaks = { rss: 0, sockets: 0, streams: 0, connections: 0, running: 0 };
  let died = false;
  let sampling = true;
  const sample = async (): Promise<void> => {
    while (sampling) {
      try {
        const reading = memory(middle.pid);
        peaks.rss = Math.max(peaks.rss, reading.rss, reading.peak);
        peaks.sockets = Math.max(peaks.sockets, descriptors(middle.pid).sockets);
      } catch {
        died = true;
      }
      if (name === 'sluice-h2c') {
        const vitals = await middle.call<{ running: number }>('vitals').catch(() => undefined);
        if (vitals !== undefined) peaks.running = Math.max(peaks.running, vitals.running);
      }
      const stats = await processes.emulator.call<EmulatorStats>('stats').catch(() => undefined);
      if (stats !== undefined) {
        peaks.streams = Math.max(peaks.streams, stats.active);
        peaks.connections = Math.max(peaks.connections, stats.connections.open);
      }
      await new Promise((done) => setTimeout(done, 250));
    }
  };
  const sampler = sample();
  const started = Date.now();
  const loadBefore = loadavg()[0] ?? 0;
  let cpuBefore = 0;
  try {
    cpuBefore = cpuMicros(middle.pid);
  } catch {
    died = true;
  }
  const result = await context.loadgen.call<LoadResult>('run', spec);
  const elapsedMs = Date.now() - started;
  let cpuSeconds = Number.NaN;
  try {
    cpuSeconds = (cpuMicros(middle.pid) - cpuBefore) / 1e6;
  } catch {
    died = true;
  }
  sampling = false;
  await sampler;
  const middleErrors =
    name === 'pass-through'
      ? await middle.call<Record<string, number>>('errors').catch(() => {
          died = true;
          return {};
        })
      : {};
  const finished = result.completed - result.incomplete;
  return {
    path: name,
    streams: settings.streams,
    started: result.started,
    finished,
    errors: settings.streams - finished,
    errorSamples: result.errors,
    middleErrors,
    peakUpstreamStreams: peaks.streams,
    peakRunning: name === 'sluice-h2c' ? peaks.running : undefined,
    peakUpstreamConnections: peaks.connections,
    peakRss: peaks.rss,
    peakSockets: peaks.sockets,
    died,
    elapsedMs,
    cpuSeconds,
    load: [loadBefore, loadavg()[0] ?? 0],
  };
}

export function renderScale(rows: readonly ScaleRow[], settings: ScaleSettings): string {
  const lines = [
    `${settings.streams} streams opened over ${settings.rampMs / 1000} s, each ${settings.chunks} chunks ${settings.chunkDelayMs / 1000} s apart (after 0.5 s to the first).`,
    '',
    '| path | finished | errors | peak streams at the emulator | peak emulator connections | peak RSS | peak sockets held | CPU (s) over wall (s) | load average, start / end |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const row of rows) {
    const counted = Object.entries(row.middleErrors)
      .map(([key, count]) => `${count} ${key}`)
      .join(', ');
    lines.push(
      `| ${row.path} | ${row.finished} | ${row.errors}${counted === '' ? '' : ` (${counted})`}${row.died ? ', process died' : ''} | ` +
        `${row.peakUpstreamStreams} | ${row.peakUpstreamConnections} | ${(row.peakRss / 1048576).toFixed(0)} MB | ${row.peakSockets} | ` +
        `${row.cpuSeconds.toFixed(1)} / ${(row.elapsedMs / 1000).toFixed(0)} | ${row.load[0].toFixed(1)} / ${row.load[1].toFixed(1)} |`,
    );
  }
  const samples = rows.flatMap((row) =>
    [...new Set(row.errorSamples)].slice(0, 3).map((sample) => `${row.path}: ${sample}`),
  );
  if (samples.length > 0) lines.push('', `Errors seen (first few, each once): ${samples.join('; ')}`);
  return `${lines.join('\n')}\n`;
}
