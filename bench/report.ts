import type { CodecCost } from './codec-cost.js';

/** The benchmark's figures and their rendering as Markdown tables (stdout and docs). */

/**
 * `sluice-openai`: Sluice's OpenAI-compatible face (/v1/chat/completions), in a gateway process of
 * its own. `sluice-http1`: the native face with HTTP/1.1 to the emulator (`SLUICE_UPSTREAM_HTTP2=off`),
 * measured beside the pairs at the targets' level as a reference; `sluice` itself runs with the
 * default `auto`, which moves to HTTP/2 once the emulator advertises h2c.
 */
export type PathName = 'direct' | 'pass-through' | 'sluice' | 'sluice-openai' | 'sluice-http1';
export const PATHS: readonly PathName[] = ['direct', 'pass-through', 'sluice', 'sluice-openai'];
export type CaseName = 'latency' | 'throughput' | 'burst';

export interface Cell {
  caseName: CaseName;
  concurrency: number;
  path: PathName;
  started: number;
  completed: number;
  failed: number;
  incomplete: number;
  errors: string[];
  chunks: number;
  chunksPerSecond: number;
  ttftSamples: number;
  ttftP50: number;
  ttftP99: number;
  /** CPU of the pass-through or gateway process per delivered chunk, µs (undefined for direct). */
  cpuPerChunkUs: number | undefined;
  /** Busy fraction of one core: the middle process, and emulator + load generator together. */
  middleBusy: number | undefined;
  clientSideBusy: number;
  /** CPU used by other processes on the machine during the cell, fraction of one core. */
  otherLoad: number;
  /** Measurements taken (a cell is re-run when other load was high). */
  attempts: number;
  /** VmHWM of the middle process over this cell, bytes. */
  peakRss: number | undefined;
  /** The middle process's event-loop delay, p99 over the cell, ms. */
  loopDelayP99Ms?: number | undefined;
  /** Share of the cell's wall time the middle process spent in GC pauses, and the longest pause (ms). */
  gcShare?: number | undefined;
  gcMaxMs?: number | undefined;
  /**
   * Set on the extra pass-through and Sluice cells measured alternately at the targets' level
   * (1, 2...); the tables show the first cells, the targets the median over all pairs.
   */
  repeat?: number;
}

export interface IdleCell {
  path: Exclude<PathName, 'direct'>;
  streams: number;
  opened: number;
  rssPerStream: number;
  heapPerStream: number;
  baselineRss: number;
  gc: boolean;
  errors: string[];
}

export interface RunInfo {
  date: string;
  command: string;
  quick: boolean;
  nproc: number;
  node: string;
  cpuModel: string;
  kernel: string;
  pinning: string;
  peakReset: boolean;
  clockTicks: number;
  latency: { chunks: number; delayMs: number; ttftMs: number; samples: string };
  throughput: { chunks: number; durationMs: number };
  burst: { chunks: number; concurrency: number; durationMs: number };
  idleStreams: number;
  durationS: number;
}

export interface Report {
  info: RunInfo;
  cells: Cell[];
  idle: IdleCell[];
  codecs: CodecCost[];
}

/** The middle of the samples (the mean of the two middle ones for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? Number.NaN)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/** Nearest-rank percentile of unsorted samples. */
export function percentile(samples: readonly number[], fraction: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(fraction * sorted.length)));
  return sorted[rank - 1] ?? Number.NaN;
}

const dash = '-';

function fixed(value: number | undefined, digits = 1): string {
  return value === undefined || !Number.isFinite(value) ? dash : value.toFixed(digits);
}

function signed(value: number | undefined, digits = 1): string {
  if (value === undefined || !Number.isFinite(value)) return dash;
  return `${value >= 0 ? '+' : ''}${value.toFixed(digits)}`;
}

function ratio(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? dash : `${value.toFixed(2)}x`;
}

function percent(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? dash : `${Math.round(value * 100)}%`;
}

function megabytes(bytes: number | undefined): string {
  return bytes === undefined || bytes === 0 ? dash : (bytes / 1024 / 1024).toFixed(0);
}

function kilobytes(bytes: number): string {
  return Number.isFinite(bytes) ? (bytes / 1024).toFixed(1) : dash;
}

function integer(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : dash;
}

function table(header: string[], rows: string[][]): string {
  const lines = [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`];
  for (const row of rows) lines.push(`| ${row.join(' | ')} |`);
  return lines.join('\n');
}

function find(
  report: Report,
  caseName: CaseName,
  concurrency: number,
  path: PathName,
  repeat = 0,
): Cell | undefined {
  return report.cells.find(
    (cell) =>
      cell.caseName === caseName &&
      cell.concurrency === concurrency &&
      cell.path === path &&
      (cell.repeat ?? 0) === repeat,
  );
}

/** Sluice and the pass-through measured one after the other: the first pair and every repeat. */
function pairsOf(
  report: Report,
  caseName: CaseName,
  concurrency: number,
  path: 'sluice' | 'sluice-http1' = 'sluice',
): { sluice: Cell; pass: Cell }[] {
  const pairs: { sluice: Cell; pass: Cell }[] = [];
  for (let repeat = 0; ; repeat++) {
    const sluice = find(report, caseName, concurrency, path, repeat);
    const pass = find(report, caseName, concurrency, 'pass-through', repeat);
    if (sluice === undefined || pass === undefined) return pairs;
    pairs.push({ sluice, pass });
  }
}

/**
 * A figure over the pairs: the median, and with more than one pair every value, in the order
 * measured (`format` writes one value).
 */
function overPairs(measured: number[], format: (value: number) => string): { value: number; text: string } {
  const values = measured.filter(Number.isFinite);
  const value = median(values);
  const text =
    values.length > 1
      ? `${format(value)} (median of ${values.length} pairs: ${values.map(format).join(', ')})`
      : format(value);
  return { value, text };
}

/** Sluice's CPU per chunk over the pass-through's in each pair, as the median over the pairs. */
function cpuOverPairs(pairs: { sluice: Cell; pass: Cell }[]): { value: number; text: string } {
  return overPairs(
    pairs.map(
      ({ sluice, pass }) => (sluice.cpuPerChunkUs ?? Number.NaN) / (pass.cpuPerChunkUs ?? Number.NaN),
    ),
    ratio,
  );
}

/** The median of one figure over the cells that have it. */
function medianOf(cells: Cell[], pick: (cell: Cell) => number | undefined): number {
  return median(cells.map((cell) => pick(cell) ?? Number.NaN).filter(Number.isFinite));
}

function concurrencies(report: Report, caseName: CaseName): number[] {
  return [
    ...new Set(report.cells.filter((cell) => cell.caseName === caseName).map((cell) => cell.concurrency)),
  ];
}

function errorsOf(cell: Cell): string {
  const parts: string[] = [];
  if (cell.failed > 0) parts.push(`${cell.failed} failed`);
  if (cell.incomplete > 0) parts.push(`${cell.incomplete} short`);
  return parts.length === 0 ? '0' : parts.join(', ');
}

function otherOf(cell: Cell): string {
  return `${percent(cell.otherLoad)}${cell.attempts > 1 ? ` (${cell.attempts} runs)` : ''}`;
}

const LABEL: Record<PathName, string> = {
  direct: 'direct',
  'pass-through': 'pass-through',
  sluice: 'Sluice',
  'sluice-openai': 'Sluice, OpenAI face',
  'sluice-http1': 'Sluice, HTTP/1.1 upstream',
};

interface Target {
  name: string;
  measured: string;
  limit: string;
  met: boolean | undefined;
}

/**
 * The level the hot-path targets are judged at: 512 streams, or the largest level below 2,000
 * when a run has no 512.
 */
export function targetLevel(levels: readonly number[]): number | undefined {
  if (levels.includes(512)) return 512;
  const below = levels.filter((level) => level < 2000);
  return below.length > 0 ? Math.max(...below) : undefined;
}

export function targets(report: Report): Target[] {
  const out: Target[] = [];
  const maxLatency = targetLevel(concurrencies(report, 'latency')) ?? 64;
  // Sluice and the pass-through alternate at this level: each figure is the median over the pairs.
  const latencyPairs = pairsOf(report, 'latency', maxLatency);
  const ms = (value: number): string => `${signed(value, 2)} ms`;
  const addedP50 = overPairs(
    latencyPairs.map(({ sluice, pass }) => sluice.ttftP50 - pass.ttftP50),
    ms,
  );
  const addedP99 = overPairs(
    latencyPairs.map(({ sluice, pass }) => sluice.ttftP99 - pass.ttftP99),
    ms,
  );
  const known = (value: number): boolean | undefined => (Number.isFinite(value) ? true : undefined);
  out.push({
    name: `latency, ${maxLatency} streams: TTFT added over pass-through, p50`,
    measured: addedP50.text,
    limit: '<= 2 ms',
    met: known(addedP50.value) && addedP50.value <= 2,
  });
  out.push({
    name: `latency, ${maxLatency} streams: TTFT added over pass-through, p99`,
    measured: addedP99.text,
    limit: '<= 15 ms',
    met: known(addedP99.value) && addedP99.value <= 15,
  });
  const loopP99 = overPairs(
    latencyPairs.map(({ sluice }) => sluice.loopDelayP99Ms ?? Number.NaN),
    (value) => `${fixed(value)} ms`,
  );
  const passLoop = medianOf(
    latencyPairs.map(({ pass }) => pass),
    (cell) => cell.loopDelayP99Ms,
  );
  out.push({
    name: `latency, ${maxLatency} streams: gateway event-loop delay p99 (pass-through ${fixed(passLoop)} ms)`,
    measured: loopP99.text,
    limit: '< 20 ms',
    met: known(loopP99.value) && loopP99.value < 20,
  });
  const scaleSluice = find(report, 'latency', 2000, 'sluice');
  const scalePass = find(report, 'latency', 2000, 'pass-through');
  if (scaleSluice !== undefined || scalePass !== undefined) {
    // Every stream carries the same answer, so the ratio of chunks per second is that of streams per second.
    const streams =
      scaleSluice && scalePass ? scaleSluice.chunksPerSecond / scalePass.chunksPerSecond : Number.NaN;
    out.push({
      name: 'latency, 2000 streams: streams/s, Sluice / pass-through',
      measured: ratio(streams),
      limit: '>= 0.90x',
      met: known(streams) && streams >= 0.9,
    });
  }
  const throughputLevels = concurrencies(report, 'throughput');
  const throughputAt = throughputLevels.includes(64) ? 64 : Math.max(1, ...throughputLevels);
  const tSluice = find(report, 'throughput', throughputAt, 'sluice');
  const tPass = find(report, 'throughput', throughputAt, 'pass-through');
  const speed = tSluice && tPass ? tSluice.chunksPerSecond / tPass.chunksPerSecond : Number.NaN;
  out.push({
    name: `throughput, ${throughputAt} streams: chunks/s, Sluice / pass-through`,
    measured: ratio(speed),
    limit: '>= 0.80x',
    met: known(speed) && speed >= 0.8,
  });
  for (const [caseName, concurrency] of [
    ['throughput', throughputAt],
    ['latency', maxLatency],
  ] as const) {
    const pairs = pairsOf(report, caseName, concurrency);
    const cpu = cpuOverPairs(pairs);
    const microseconds = (path: 'sluice' | 'pass'): string =>
      fixed(
        medianOf(
          pairs.map((pair) => pair[path]),
          (cell) => cell.cpuPerChunkUs,
        ),
      );
    // The paced case is the hot path's target (one chunk per read, as models stream); the
    // throughput case (no delay, several chunks a read) keeps the earlier bound.
    const limit = caseName === 'latency' ? 1.3 : 2.5;
    out.push({
      name: `gateway CPU per chunk, Sluice / pass-through (${caseName}, ${concurrency} streams)`,
      measured: `${cpu.text}; ${microseconds('sluice')} vs ${microseconds('pass')} µs`,
      limit: `<= ${limit.toFixed(2)}x`,
      met: known(cpu.value) && cpu.value <= limit,
    });
  }
  const http1Pairs = pairsOf(report, 'latency', maxLatency, 'sluice-http1');
  if (http1Pairs.length > 0) {
    const cpu = cpuOverPairs(http1Pairs);
    const added = (pick: (cell: Cell) => number): string =>
      `${signed(median(http1Pairs.map(({ sluice, pass }) => pick(sluice) - pick(pass))), 2)}`;
    out.push({
      name: `reference: Sluice with HTTP/1.1 to the emulator (latency, ${maxLatency} streams): CPU per chunk / pass-through; TTFT added p50 / p99; loop delay p99`,
      measured:
        `${cpu.text}; ${added((cell) => cell.ttftP50)} / ${added((cell) => cell.ttftP99)} ms; ` +
        `${fixed(
          medianOf(
            http1Pairs.map(({ sluice }) => sluice),
            (cell) => cell.loopDelayP99Ms,
          ),
        )} ms`,
      limit: 'reported beside the targets',
      met: undefined,
    });
  }
  const native = find(report, 'throughput', throughputAt, 'sluice');
  const face = find(report, 'throughput', throughputAt, 'sluice-openai');
  if (face !== undefined) {
    const faceCpu =
      face.cpuPerChunkUs !== undefined && native?.cpuPerChunkUs !== undefined
        ? face.cpuPerChunkUs / native.cpuPerChunkUs
        : Number.NaN;
    out.push({
      name: `gateway CPU per chunk, OpenAI face / native SSE (throughput, ${throughputAt} streams)`,
      measured: `${ratio(faceCpu)} (${fixed(face.cpuPerChunkUs)} vs ${fixed(native?.cpuPerChunkUs)} µs)`,
      limit: '<= 1.20x',
      met: known(faceCpu) && faceCpu <= 1.2,
    });
  }
  const burstCell = report.cells.find((cell) => cell.caseName === 'burst' && cell.path === 'sluice');
  if (burstCell !== undefined) {
    out.push({
      name: `burst, ${burstCell.concurrency} streams on fresh connections: Sluice streams cut before done`,
      measured: `${burstCell.failed} of ${burstCell.started}`,
      limit: '0 (an extra check)',
      met: burstCell.failed === 0,
    });
  }
  const idle = report.idle.find((cell) => cell.path === 'sluice');
  if (idle !== undefined) {
    const perStream = idle.rssPerStream;
    out.push({
      name: `memory per idle open stream, Sluice (${idle.opened} streams, RSS${idle.gc ? ' after GC' : ''}; JS heap ${kilobytes(idle.heapPerStream)} KB)`,
      measured: `${kilobytes(perStream)} KB`,
      limit: '<= 32 KB',
      met: known(perStream) && perStream <= 32 * 1024,
    });
  }
  return out;
}

function otherLoadLine(cells: readonly Cell[]): string {
  if (cells.length === 0) return 'Other load: no cell measured.';
  const loads = cells.map((cell) => cell.otherLoad);
  const median = percentile(loads, 0.5);
  const line =
    `Other load (CPU used by other processes while cells ran, share of one core): median ` +
    `${percent(median)}, max ${percent(Math.max(...loads))}.`;
  return median > 0.25
    ? `${line} **The machine was busy with other work: absolute figures and ratios are skewed; CPU µs/chunk ` +
        'is the least affected.**'
    : line;
}

export function renderReport(report: Report): string {
  const { info } = report;
  const sections: string[] = [];
  sections.push(
    [
      `Run: ${info.date}, \`${info.command}\`${info.quick ? ' (quick: concurrency 1 and 64, fewer chunks)' : ''}, ` +
        `${info.durationS.toFixed(0)} s.`,
      `Machine: nproc ${info.nproc}, ${info.cpuModel}, Linux ${info.kernel}, node ${info.node}.`,
      `Pinning: ${info.pinning}.`,
      otherLoadLine(report.cells),
      `Processes: emulator (\`EmulatorServer\`, every dialect, pace set per case over IPC), pass-through ` +
        `(bench/passthrough.ts, HTTP/1.1 to the emulator), gateway (\`startGateway\`, SLUICE_DEMO=0, OPENAI_BASE_URL at the emulator, ` +
        `SLUICE_UPSTREAM_HTTP2 at its default \`auto\`: HTTP/1.1 to the emulator until its first answer advertises h2c, HTTP/2 after; ` +
        `dummy key, SLUICE_RESUME_TTL_MS=10000, \`--expose-gc\`), load generator (undici Pool, up to 4096 connections); each its own process, ` +
        `all on 127.0.0.1.`,
    ].join('\n'),
  );

  const targetRows = targets(report).map((target) => [
    target.name,
    target.measured,
    target.limit,
    target.met === undefined ? 'n/a' : target.met ? 'met' : '**short**',
  ]);
  sections.push(`### Targets\n\n${table(['target', 'measured', 'target', 'status'], targetRows)}`);

  const latencyRows: string[][] = [];
  for (const concurrency of concurrencies(report, 'latency')) {
    const direct = find(report, 'latency', concurrency, 'direct');
    for (const path of [...PATHS, 'sluice-http1'] as const) {
      const cell = find(report, 'latency', concurrency, path);
      if (cell === undefined) continue;
      latencyRows.push([
        String(concurrency),
        LABEL[path],
        String(cell.ttftSamples),
        fixed(cell.ttftP50, 2),
        fixed(cell.ttftP99, 2),
        path === 'direct' || direct === undefined
          ? dash
          : `${signed(cell.ttftP50 - direct.ttftP50, 2)} / ${signed(cell.ttftP99 - direct.ttftP99, 2)}`,
        integer(cell.chunksPerSecond),
        fixed(cell.cpuPerChunkUs),
        percent(cell.middleBusy),
        fixed(cell.loopDelayP99Ms),
        cell.gcShare === undefined ? dash : `${percent(cell.gcShare)} / ${fixed(cell.gcMaxMs)}`,
        percent(cell.clientSideBusy),
        otherOf(cell),
        megabytes(cell.peakRss),
        errorsOf(cell),
      ]);
    }
    const sluice = find(report, 'latency', concurrency, 'sluice');
    const pass = find(report, 'latency', concurrency, 'pass-through');
    if (sluice && pass) {
      latencyRows.push([
        String(concurrency),
        '*Sluice vs pass-through*',
        '',
        '',
        '',
        `*${signed(sluice.ttftP50 - pass.ttftP50, 2)} / ${signed(sluice.ttftP99 - pass.ttftP99, 2)}*`,
        `*${ratio(sluice.chunksPerSecond / pass.chunksPerSecond)}*`,
        `*${ratio((sluice.cpuPerChunkUs ?? Number.NaN) / (pass.cpuPerChunkUs ?? Number.NaN))}*`,
        '',
        '',
        '',
        '',
        '',
        '',
        '',
      ]);
    }
  }
  sections.push(
    `### Latency case: ${info.latency.chunks} chunks, ${info.latency.delayMs} ms apart, emulator TTFT ` +
      `${info.latency.ttftMs} ms\n\n` +
      `TTFT: request sent to the first content chunk (Sluice: first \`chunk\` frame; direct and pass-through: ` +
      `first \`delta.content\`), as the load generator sees it. Connections are opened by one unmeasured round first; arrivals are then spread over one stream length; ` +
      `samples: ${info.latency.samples}. "added" is over direct (p50 / p99); the italic row is Sluice minus ` +
      `pass-through. CPU µs/chunk: utime+stime of the pass-through or gateway process (/proc, ` +
      `${1000 / info.clockTicks} ms ticks) over the chunks delivered. Busy: CPU time / wall time of the ` +
      `proxy's core and of emulator + load generator together; other load: CPU used by other processes on the ` +
      `machine meanwhile (a cell waits for a quiet machine and is re-run, up to 3 times, when this exceeds 25%). ` +
      `Loop p99: the proxy's event-loop delay, 99th percentile over the cell: how late a timer due every 10 ms ran ` +
      `(monitorEventLoopDelay's samples less its 10 ms interval, which they include; before 2026-11-28 the tables ` +
      `gave the samples as they come, 10 ms more); GC: share of the cell's wall time in garbage-collection pauses / the longest pause, ms.\n\n` +
      table(
        [
          'streams',
          'path',
          'TTFT samples',
          'TTFT p50 ms',
          'TTFT p99 ms',
          'added p50 / p99 ms',
          'chunks/s',
          'CPU µs/chunk',
          'proxy busy',
          'loop p99 ms',
          'GC share / max ms',
          'emu+load busy',
          'other load',
          'peak RSS MB',
          'errors',
        ],
        latencyRows,
      ),
  );

  const throughputRows: string[][] = [];
  for (const concurrency of concurrencies(report, 'throughput')) {
    const pass = find(report, 'throughput', concurrency, 'pass-through');
    for (const path of PATHS) {
      const cell = find(report, 'throughput', concurrency, path);
      if (cell === undefined) continue;
      const versus = path === 'pass-through' || pass === undefined;
      throughputRows.push([
        String(concurrency),
        LABEL[path],
        integer(cell.completed),
        integer(cell.chunksPerSecond),
        versus ? dash : ratio(cell.chunksPerSecond / pass.chunksPerSecond),
        fixed(cell.cpuPerChunkUs),
        versus || cell.cpuPerChunkUs === undefined || pass.cpuPerChunkUs === undefined
          ? dash
          : ratio(cell.cpuPerChunkUs / pass.cpuPerChunkUs),
        percent(cell.middleBusy),
        percent(cell.clientSideBusy),
        otherOf(cell),
        fixed(cell.ttftP50, 1),
        megabytes(cell.peakRss),
        errorsOf(cell),
      ]);
    }
  }
  sections.push(
    `### Throughput case: ${info.throughput.chunks} chunks, no delay, ${info.throughput.durationMs / 1000} s ` +
      `per cell\n\nchunks/s: content chunks delivered to all clients in the steady-state window, per second. ` +
      `Ratios are against the pass-through. Client connections are kept alive across streams.\n\n` +
      table(
        [
          'streams',
          'path',
          'streams done',
          'chunks/s',
          'vs pass-through',
          'CPU µs/chunk',
          'CPU vs pass-through',
          'proxy busy',
          'emu+load busy',
          'other load',
          'TTFT p50 ms',
          'peak RSS MB',
          'errors',
        ],
        throughputRows,
      ),
  );

  const burstRows = report.cells
    .filter((cell) => cell.caseName === 'burst')
    .map((cell) => [
      LABEL[cell.path],
      integer(cell.started),
      integer(cell.completed),
      `${integer(cell.failed)} (${percent(cell.started === 0 ? Number.NaN : cell.failed / cell.started)})`,
      integer(cell.chunksPerSecond),
      fixed(cell.cpuPerChunkUs),
      otherOf(cell),
      cell.errors[0] ?? '',
    ]);
  if (burstRows.length > 0) {
    sections.push(
      `### Burst on fresh connections: ${info.burst.concurrency} streams, ${info.burst.chunks} chunks, no delay, ` +
        `${info.burst.durationMs / 1000} s\n\nEvery stream opens a new client connection and its whole answer ` +
        `arrives at once, so the gateway's \`write()\` often waits for \`drain\` while the log runs more than ` +
        `SLUICE_BUFFER_FRAMES (64) frames ahead. A reader must only be dropped as stalled when its socket stays ` +
        `full (SLUICE_STALL_TIMEOUT_MS), never for a burst: "cut" counts streams closed before \`done\`.\n\n` +
        table(
          ['path', 'streams', 'complete', 'cut', 'chunks/s', 'CPU µs/chunk', 'other load', 'first error'],
          burstRows,
        ),
    );
  }

  const idleRows = report.idle.map((cell) => [
    LABEL[cell.path],
    `${cell.opened} / ${cell.streams}`,
    kilobytes(cell.rssPerStream),
    kilobytes(cell.heapPerStream),
    megabytes(cell.baselineRss),
    cell.gc ? 'RSS delta, GC before both readings' : 'RSS delta, no GC',
    cell.errors.length === 0 ? '0' : cell.errors.join('; '),
  ]);
  sections.push(
    `### Memory per idle open stream\n\nStreams opened against the emulator scripted to wait 120 s before ` +
      `its first token, after a warm-up run of as many streams; RSS from /proc (VmRSS), JS heap from ` +
      `process.memoryUsage(), both read after a full GC.\n\n` +
      table(
        ['path', 'open streams', 'RSS KB/stream', 'JS heap KB/stream', 'baseline RSS MB', 'method', 'errors'],
        idleRows,
      ),
  );

  const codecRows = report.codecs.map((cost) => [
    cost.provider,
    cost.framing,
    String(cost.chunks),
    cost.error === undefined ? fixed(cost.bytes / cost.chunks, 0) : dash,
    cost.error === undefined ? fixed(cost.codecNs, 0) : `error: ${cost.error}`,
    cost.error === undefined ? fixed(cost.pipelineNs, 0) : dash,
    cost.error === undefined && cost.textParts !== cost.chunks ? `${cost.textParts} text parts` : '',
  ]);
  sections.push(
    `### Codec cost per provider (in process)\n\nEach provider's own emulator dialect writes a ${report.codecs[0]?.chunks ?? 1000}-chunk ` +
      `answer (one network read per event); best of several runs in two passes (before and after the other cases). "parse + codec": \`createWireParser(framing)\` ` +
      `+ \`createCodec()\`. "pipeline": the same plus \`FrameEmitter\`, the log append (SSE encoding) and the ` +
      `writer's read, as run.ts and sse-writer.ts do per read, without any I/O.\n\n` +
      table(
        [
          'provider',
          'framing',
          'chunks',
          'bytes/chunk',
          'parse + codec ns/chunk',
          'pipeline ns/chunk',
          'note',
        ],
        codecRows,
      ),
  );
  if (!info.peakReset) {
    sections.push('Peak RSS could not be reset between cells (clear_refs refused): peaks are cumulative.');
  }
  return sections.join('\n\n');
}
