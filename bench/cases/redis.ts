import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { request } from 'undici';
import { API_PATHS } from '../../src/protocol/http.js';
import { BenchChild } from '../children.js';
import { type BenchContext, steadyLoad } from '../context.js';
import { type LoadResult, type LoadTarget, loadFailures } from '../loadgen.js';
import { cpuMicros, machineBusyMicros } from '../procfs.js';
import { type RedisServer, startRedisServer } from '../redis-server.js';
import { median, percentile } from '../report.js';
import type { BenchProcesses } from '../setup.js';

/** Starts redis-server for the benchmark, pinned to `cpu` with taskset when given. */
export function startBenchRedis(cpu: string | undefined): Promise<RedisServer> {
  return startRedisServer(cpu === undefined ? {} : { cpu }).catch((error: unknown) => {
    throw new Error(
      `${error instanceof Error ? error.message : String(error)} (the redis and workers cases need it)`,
    );
  });
}

/**
 * Commands redis-server has run so far (INFO commandstats): all (those scripts run included),
 * and script calls (EVAL, EVALSHA), which are the gateway's appends.
 */
export interface CommandCount {
  total: number;
  scripts: number;
}

export async function commandCount(url: string): Promise<CommandCount> {
  const { Redis } = await import('ioredis');
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await client.connect();
    const info = await client.info('commandstats');
    const count: CommandCount = { total: 0, scripts: 0 };
    for (const match of info.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)) {
      const calls = Number(match[2]);
      // The INFO asked here is not the gateway's.
      if (match[1] === 'info') continue;
      count.total += calls;
      if (match[1] === 'eval' || match[1] === 'evalsha') count.scripts += calls;
    }
    return count;
  } finally {
    client.disconnect();
  }
}

/** CPU time of a process so far, microseconds; 0 once it has exited. */
export function cpuOfPid(pid: number): number {
  try {
    return cpuMicros(pid);
  } catch {
    return 0;
  }
}

/**
 * CPU used by processes other than the benchmark's over a stretch of wall time, as a fraction
 * of one core: the machine's busy time minus that of every process the benchmark knows of.
 */
export function otherLoadMeter(processes: BenchProcesses, extraPids: () => readonly number[]): () => number {
  const ours = (): number => {
    const self = process.cpuUsage();
    let sum = self.user + self.system;
    for (const child of processes.all) {
      try {
        sum += cpuMicros(child.pid);
      } catch {
        // exited
      }
    }
    for (const pid of extraPids()) sum += cpuOfPid(pid);
    return sum;
  };
  let machine = machineBusyMicros();
  let mine = ours();
  let wall = performance.now();
  return () => {
    const nowMachine = machineBusyMicros();
    const nowMine = ours();
    const nowWall = performance.now();
    const other = Math.max(0, nowMachine - machine - (nowMine - mine)) / ((nowWall - wall) * 1000);
    machine = nowMachine;
    mine = nowMine;
    wall = nowWall;
    return other;
  };
}

/** One concurrency of the redis case: medians over the rounds. */
export interface RedisRow {
  answers: Answers;
  concurrency: number;
  plainUs: number;
  redisUs: number;
  /** The median over the rounds of redisUs / plainUs, both measured over the same wall time. */
  ratio: number;
  ratioRange: [number, number];
  /** redis-server's own CPU per chunk the mirrored gateway delivered. */
  serverUs: number;
  /**
   * Script calls per stream (streams / calls): one call carries the appends of every generation
   * that read in the same collection window, so this is below one per upstream read.
   */
  appendsPerStream: number;
  plainChunksPerSecond: number;
  redisChunksPerSecond: number;
  otherLoad: number;
  errors: string[];
}

/** Arrival of one frame on the owner's reader and on a reader on another instance. */
export interface FollowerDelay {
  streams: number;
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Frames each stream carried, and the owner's appends per stream (one chunk per upstream read here). */
  framesPerStream: number;
  appendsPerStream: number;
  otherLoad: number;
  errors: string[];
}

export interface RedisReport {
  durationMs: number;
  rounds: number;
  rows: RedisRow[];
  follower: FollowerDelay | undefined;
}

type Answers = 'unpaced' | 'paced';

/**
 * The two kinds of answers: unpaced (the throughput case's, many frames per upstream read) and
 * paced like tokens from a model (one chunk per read, so one append per chunk).
 */
const ANSWERS: Record<Answers, { ttftMs: number; chunkDelayMs: number; chunks: number }> = {
  unpaced: { ttftMs: 0, chunkDelayMs: 0, chunks: 200 },
  paced: { ttftMs: 0, chunkDelayMs: 20, chunks: 50 },
};

/**
 * What sharing generations through Redis costs. A redis-server is started on the emulator's
 * CPU, and two fresh gateways on the gateway's CPU: one without REDIS_URL and one with it. Each
 * round loads both at once, like the ops case, so the same other load weighs on both; it reads
 * each gateway's CPU per delivered chunk and redis-server's CPU per chunk of the mirrored one.
 * Then a third gateway on the same Redis resumes streams the second one runs, and the delay
 * between a frame reaching the owner's reader and reaching the other instance's reader is taken.
 */
export async function redisCase(
  context: BenchContext,
  processes: BenchProcesses,
  settings: { durationMs: number; pinned: boolean; cpuProf: string | undefined },
  levels: readonly number[],
): Promise<RedisReport> {
  const sluice = context.paths.find((path) => path.name === 'sluice');
  if (sluice === undefined) throw new Error('the redis case needs the sluice path');
  const redis = await startBenchRedis(settings.pinned ? '0' : undefined);
  const rounds = context.quick ? 3 : 5;
  const ttl = { SLUICE_RESUME_TTL_MS: '2000' };
  const plain = processes.spawnGateway(ttl);
  // --cpu-prof profiles the gateway with Redis (its profile goes to DIR/redis); Node refuses
  // --cpu-prof in NODE_OPTIONS, so that one is started here, configured as spawnGateway does.
  const mirrored =
    settings.cpuProf === undefined
      ? processes.spawnGateway({ ...ttl, REDIS_URL: redis.url })
      : new BenchChild({
          role: 'gateway',
          cpu: settings.pinned ? '1' : undefined,
          nodeArgs: ['--expose-gc', '--cpu-prof', `--cpu-prof-dir=${join(settings.cpuProf, 'redis')}`],
          env: {
            ...process.env,
            SLUICE_DEMO: '0',
            OPENAI_BASE_URL: processes.openaiBase,
            OPENAI_API_KEY: 'bench-dummy-key',
            ...ttl,
            REDIS_URL: redis.url,
          },
        });
  const other = processes.spawnGateway({ ...ttl, REDIS_URL: redis.url });
  // Processes of this case that spawnGateway did not start (and so are not in processes.all).
  const ours = (): number[] => [redis.pid, ...(processes.all.includes(mirrored) ? [] : [mirrored.pid])];
  try {
    const [plainUrl, mirroredUrl, otherUrl] = await Promise.all([plain.url, mirrored.url, other.url]);
    const targets: Record<'plain' | 'redis', LoadTarget> = {
      plain: { ...sluice.target, origin: plainUrl },
      redis: { ...sluice.target, origin: mirroredUrl },
    };
    context.log(
      `redis case: without Redis ${plainUrl}, with ${mirroredUrl} ` +
        `(redis-server pid ${redis.pid}${settings.pinned ? ', CPU 0' : ''}), loaded together`,
    );
    const both = (spec: Record<string, unknown>): Promise<[LoadResult, LoadResult]> =>
      Promise.all([
        context.loadgen.call<LoadResult>('run', { ...targets.plain, ...spec }),
        context.loadgen.call<LoadResult>('run', { ...targets.redis, ...spec }),
      ]);
    const rows: RedisRow[] = [];
    for (const answers of ['unpaced', 'paced'] as const) {
      const pace = ANSWERS[answers];
      await context.pace(pace);
      for (const concurrency of levels) {
        const spec = steadyLoad(concurrency, settings.durationMs, pace.chunks);
        await both({ ...spec, durationMs: 2000 });
        const samples = {
          plain: [] as number[],
          redis: [] as number[],
          server: [] as number[],
          appends: [] as number[],
        };
        const rates = { plain: [] as number[], redis: [] as number[] };
        const ratios: number[] = [];
        const loads: number[] = [];
        const errors: string[] = [];
        for (let round = 0; round < rounds; round++) {
          const otherLoad = otherLoadMeter(processes, ours);
          const commandsBefore = await commandCount(redis.url);
          const before = {
            plain: cpuMicros(plain.pid),
            redis: cpuMicros(mirrored.pid),
            server: cpuOfPid(redis.pid),
          };
          const [plainResult, redisResult] = await both(spec);
          const used = {
            plain: cpuMicros(plain.pid) - before.plain,
            redis: cpuMicros(mirrored.pid) - before.redis,
            server: cpuOfPid(redis.pid) - before.server,
          };
          loads.push(otherLoad());
          const commandsAfter = await commandCount(redis.url);
          for (const [mode, result] of [
            ['without Redis', plainResult],
            ['with Redis', redisResult],
          ] as const) {
            const failures = loadFailures(mode, result);
            if (failures !== undefined && errors.length < 4) errors.push(failures);
          }
          if (plainResult.chunks === 0 || redisResult.chunks === 0) continue;
          const plainUs = used.plain / plainResult.chunks;
          const redisUs = used.redis / redisResult.chunks;
          samples.plain.push(plainUs);
          samples.redis.push(redisUs);
          samples.server.push(used.server / redisResult.chunks);
          samples.appends.push(
            (commandsAfter.scripts - commandsBefore.scripts) / Math.max(1, redisResult.completed),
          );
          rates.plain.push((plainResult.windowChunks * 1000) / plainResult.windowMs);
          rates.redis.push((redisResult.windowChunks * 1000) / redisResult.windowMs);
          ratios.push(redisUs / plainUs);
          context.log(
            `  redis ${answers} c=${concurrency} round ${round + 1}/${rounds}: without ${plainUs.toFixed(2)} µs/chunk, ` +
              `with ${redisUs.toFixed(2)} µs/chunk (${(redisUs / plainUs).toFixed(2)}x), redis-server ` +
              `${(used.server / redisResult.chunks).toFixed(2)} µs/chunk, ` +
              `${(samples.appends.at(-1) ?? 0).toFixed(1)} append calls/stream, other load ${Math.round((loads.at(-1) ?? 0) * 100)}%`,
          );
        }
        rows.push({
          answers,
          concurrency,
          plainUs: median(samples.plain),
          redisUs: median(samples.redis),
          ratio: median(ratios),
          ratioRange: [Math.min(...ratios), Math.max(...ratios)],
          serverUs: median(samples.server),
          appendsPerStream: median(samples.appends),
          plainChunksPerSecond: median(rates.plain),
          redisChunksPerSecond: median(rates.redis),
          otherLoad: median(loads),
          errors,
        });
      }
    }
    const follower = await followerDelay(context, processes, ours, redis.url, mirroredUrl, otherUrl);
    return { durationMs: settings.durationMs, rounds, rows, follower };
  } finally {
    await Promise.all([plain.stop(), mirrored.stop(), other.stop()]);
    await redis.stop();
  }
}

/** Paced streams for the follower delay: frames far enough apart that each is its own read. */
const FOLLOW = { streams: 16, chunks: 60, delayMs: 10 };

/** Reads an SSE stream, calling `onIds` with the frame ids each network read carried and its time. */
async function readIds(
  url: string,
  init: { method: 'GET' | 'POST'; headers: Record<string, string>; body?: string },
  onIds: (ids: number[], at: number, text: string) => void,
): Promise<void> {
  const response = await request(url, { ...init, headersTimeout: 20_000, bodyTimeout: 20_000 });
  if (response.statusCode !== 200) {
    throw new Error(`HTTP ${response.statusCode}: ${(await response.body.text()).slice(0, 120)}`);
  }
  let carry = '';
  for await (const data of response.body) {
    const at = performance.now();
    const text = carry + (data as Buffer).toString('utf8');
    const cut = text.lastIndexOf('\n\n');
    carry = cut === -1 ? text : text.slice(cut + 2);
    const whole = cut === -1 ? '' : text.slice(0, cut + 2);
    const ids: number[] = [];
    for (const match of whole.matchAll(/^id: (\d+)$/gm)) ids.push(Number(match[1]));
    onIds(ids, at, whole);
  }
}

/**
 * How soon a reader on another instance sees a frame: streams are started on the gateway that
 * runs them (the writer) and resumed at once on a second gateway sharing the Redis; both are read
 * here, by the same process and clock. Frames the resumed stream got in its first read (the
 * backlog) are not counted, only live ones.
 */
async function followerDelay(
  context: BenchContext,
  processes: BenchProcesses,
  ours: () => number[],
  redisUrl: string,
  writerUrl: string,
  followerUrl: string,
): Promise<FollowerDelay> {
  context.log(
    `  follower delay: ${FOLLOW.streams} streams, ${FOLLOW.chunks} chunks ${FOLLOW.delayMs} ms apart, resumed on a second gateway`,
  );
  await context.pace({ ttftMs: 0, chunkDelayMs: FOLLOW.delayMs, chunks: FOLLOW.chunks });
  const otherLoad = otherLoadMeter(processes, ours);
  const commandsBefore = await commandCount(redisUrl);
  const delays: number[] = [];
  let frames = 0;
  const errors: string[] = [];
  const one = async (): Promise<void> => {
    const writerAt = new Map<number, number>();
    const followerAt = new Map<number, number>();
    let resumed: Promise<void> | undefined;
    let backlogUntil = Number.POSITIVE_INFINITY;
    await readIds(
      `${writerUrl}${API_PATHS.stream}`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ provider: 'openai', messages: [{ role: 'user', content: 'Hello' }] }),
      },
      (ids, at, text) => {
        for (const id of ids) writerAt.set(id, at);
        frames += ids.length;
        if (resumed !== undefined) return;
        const match = /"generation_id":"([^"]+)"/.exec(text);
        if (match?.[1] === undefined) return;
        let first = true;
        resumed = readIds(
          `${followerUrl}${API_PATHS.resume(match[1])}`,
          { method: 'GET', headers: { 'last-event-id': '0' } },
          (followerIds, followerTime) => {
            for (const id of followerIds) followerAt.set(id, followerTime);
            if (first && followerIds.length > 0) {
              first = false;
              backlogUntil = Math.max(...followerIds);
            }
          },
        );
        // Awaited once the owner's stream ends; a failure before then must not go unhandled.
        resumed.catch(() => {});
      },
    );
    await resumed;
    for (const [id, at] of followerAt) {
      const written = writerAt.get(id);
      if (id > backlogUntil && written !== undefined) delays.push(at - written);
    }
  };
  const outcomes = await Promise.allSettled(Array.from({ length: FOLLOW.streams }, () => one()));
  const appends = (await commandCount(redisUrl)).scripts - commandsBefore.scripts;
  for (const outcome of outcomes) {
    if (outcome.status === 'rejected' && errors.length < 4) errors.push(String(outcome.reason));
  }
  return {
    streams: FOLLOW.streams,
    samples: delays.length,
    p50Ms: percentile(delays, 0.5),
    p99Ms: percentile(delays, 0.99),
    maxMs: delays.length === 0 ? Number.NaN : Math.max(...delays),
    framesPerStream: frames / FOLLOW.streams,
    appendsPerStream: appends / FOLLOW.streams,
    otherLoad: otherLoad(),
    errors,
  };
}

/** The redis case as Markdown tables. */
export function renderRedis(report: RedisReport): string {
  const percent = (value: number): string => `${Math.round(value * 100)}%`;
  const lines = [
    `Unpaced answers: ${ANSWERS.unpaced.chunks} chunks, no delay (many frames per upstream read); paced: ` +
      `${ANSWERS.paced.chunks} chunks ${ANSWERS.paced.chunkDelayMs} ms apart (one chunk per read). ` +
      `${report.durationMs / 1000} s per round, ${report.rounds} rounds; ` +
      'both gateways loaded together on the gateway CPU; redis-server on the emulator and load generator CPU. ' +
      'Medians over the rounds. Append calls: script calls per stream; one call carries the appends of every ' +
      'generation that read within its collection window (1 ms while another instance follows the generation, ' +
      '50 ms while none does; a first frame and an end at once).',
    '',
    '| answers | streams per gateway | without Redis, µs/chunk | with REDIS_URL, µs/chunk | ratio (median) | rounds ranged | redis-server µs/chunk | append calls per stream | chunks/s without / with | other load |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...report.rows.map(
      (row) =>
        `| ${row.answers} | ${row.concurrency} | ${row.plainUs.toFixed(2)} | ${row.redisUs.toFixed(2)} | ${row.ratio.toFixed(2)}x | ` +
        `${row.ratioRange[0].toFixed(2)}x to ${row.ratioRange[1].toFixed(2)}x | ${row.serverUs.toFixed(2)} | ` +
        `${row.appendsPerStream.toFixed(1)} | ` +
        `${Math.round(row.plainChunksPerSecond).toLocaleString('en-US')} / ${Math.round(row.redisChunksPerSecond).toLocaleString('en-US')} | ` +
        `${percent(row.otherLoad)} |`,
    ),
  ];
  const follower = report.follower;
  if (follower !== undefined) {
    lines.push(
      '',
      `Follower delay: ${follower.streams} streams of ${FOLLOW.chunks} chunks ${FOLLOW.delayMs} ms apart, each ` +
        'resumed at once on a second gateway on the same Redis; the time from a frame reaching the reader on the ' +
        'owning gateway to it reaching the reader on the other one (live frames only, one clock).',
      '',
      '| samples | p50 ms | p99 ms | max ms | frames per stream | append calls per stream | other load | errors |',
      '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
      `| ${follower.samples} | ${follower.p50Ms.toFixed(2)} | ${follower.p99Ms.toFixed(2)} | ${follower.maxMs.toFixed(2)} | ` +
        `${follower.framesPerStream.toFixed(0)} | ${follower.appendsPerStream.toFixed(1)} | ` +
        `${percent(follower.otherLoad)} | ${follower.errors.length === 0 ? '0' : follower.errors.join('; ')} |`,
    );
  }
  for (const row of report.rows) {
    if (row.errors.length > 0)
      lines.push('', `errors at ${row.concurrency} streams: ${row.errors.join('; ')}`);
  }
  return `${lines.join('\n')}\n`;
}
