import { createParser } from 'eventsource-parser';
import { Agent, request } from 'undici';
import { type OptionSpec, parseOptionsOnly, stringOption, UsageError } from '../src/cli/args.js';
import { BenchChild } from './children.js';
import type { MemorySample } from './process.js';

/**
 * `npm run soak -- --minutes 30 --streams 1000`: the gateway under a long mixed load, in its own
 * process against the emulators in another. Every stream is checked against the contract (ids
 * 1..n without gaps, one `done`, `[DONE]` last); a share of readers disconnect and resume,
 * cancel, stall or start in the background. Every few seconds it prints the gateway's memory,
 * handles, generations and event-loop delay; at the end, after the load drains, it gives a
 * verdict on growth. Exit 0 only with no broken stream and no growth.
 */

const HELP = `Usage: npm run soak -- [--minutes M | --seconds S] [--streams N] [--interval S] [--seed N]

  --minutes M    how long the load runs (default 30)
  --seconds S    the same in seconds (for short runs)
  --streams N    concurrent streams (default 1000)
  --interval S   seconds between samples (default 10; 5 for runs under 5 minutes)
  --seed N       seed of the behaviour and provider choices (default 1)
`;

const SPEC: OptionSpec = {
  minutes: 'string',
  seconds: 'string',
  streams: 'string',
  interval: 'string',
  seed: 'string',
};
const PROVIDERS = ['openai', 'anthropic', 'gemini', 'together', 'ollama'] as const;
type Behaviour = 'full' | 'resume' | 'cancel' | 'stall' | 'background';
/** Shares of each behaviour, in percent. */
const MIX: readonly [Behaviour, number][] = [
  ['full', 55],
  ['resume', 15],
  ['cancel', 10],
  ['stall', 5],
  ['background', 15],
];

/** The behaviour whose share `roll` (0 to 100) falls in. */
function pick(roll: number): Behaviour {
  let below = 0;
  for (const [behaviour, share] of MIX) {
    below += share;
    if (roll < below) return behaviour;
  }
  return 'full';
}

interface Vitals {
  rss: number;
  heapUsed: number;
  handles: number;
  running: number;
  stored: number;
  loopDelayP99Ms: number;
}

interface Frame {
  id: number;
  event: string;
}

/** A small seeded generator (xorshift32), so a failing run can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

function number(raw: string | undefined, name: string, fallback: number, min: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min)
    throw new UsageError(`--${name} must be a number of at least ${min}`);
  return value;
}

/**
 * Handles an idle gateway may hold after a load that it did not before: what is made once and
 * lives as long as the gateway (a sweep timer, a pool's timer). A leak per stream is hundreds of
 * thousands over a soak.
 */
const HANDLE_SLACK = 32;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

class Soak {
  readonly counts = new Map<Behaviour, number>();
  readonly errors: string[] = [];
  private readonly agent = new Agent({ connections: null, keepAliveTimeout: 10_000 });

  constructor(private readonly url: string) {}

  /** Closes the readers' connections, as clients that went away would. */
  close(): Promise<void> {
    return this.agent.close();
  }

  /** Reads an SSE body; stops after `limit` frames when given (the caller then drops or cancels). */
  private async read(
    body: AsyncIterable<Buffer>,
    limit = Number.POSITIVE_INFINITY,
  ): Promise<{ frames: Frame[]; done: boolean }> {
    const frames: Frame[] = [];
    let done = false;
    const parser = createParser({
      onEvent(message) {
        if (message.data === '[DONE]') done = true;
        else frames.push({ id: Number(message.id), event: message.event ?? 'message' });
      },
    });
    for await (const piece of body) {
      parser.feed(piece.toString('utf8'));
      if (frames.length >= limit) break;
    }
    return { frames, done };
  }

  private check(what: string, frames: readonly Frame[], done: boolean, firstId = 1): void {
    const broken = frames.findIndex((frame, index) => frame.id !== firstId + index);
    if (broken !== -1) this.errors.push(`${what}: frame ${broken} has id ${frames[broken]?.id}`);
    else if (frames.filter((frame) => frame.event === 'done').length !== 1 || frames.at(-1)?.event !== 'done')
      this.errors.push(`${what}: does not end with exactly one done`);
    else if (!done) this.errors.push(`${what}: no [DONE] after done`);
  }

  private async post(path: string, provider: string) {
    return request(`${this.url}${path}`, {
      method: 'POST',
      dispatcher: this.agent,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ provider, messages: [{ role: 'user', content: 'Tell me about streams.' }] }),
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    });
  }

  private async get(path: string, lastEventId?: number) {
    return request(`${this.url}${path}`, {
      dispatcher: this.agent,
      headers: lastEventId === undefined ? {} : { 'last-event-id': String(lastEventId) },
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    });
  }

  async once(behaviour: Behaviour, provider: string, next: () => number): Promise<void> {
    this.counts.set(behaviour, (this.counts.get(behaviour) ?? 0) + 1);
    const label = `${behaviour} ${provider}`;
    if (behaviour === 'background') {
      const created = await this.post('/api/v1/generations', provider);
      const { stream_url: streamUrl } = (await created.body.json()) as { stream_url: string };
      const response = await this.get(streamUrl);
      const { frames, done } = await this.read(response.body);
      this.check(label, frames, done);
      return;
    }
    const response = await this.post('/api/v1/chat/stream', provider);
    if (response.statusCode !== 200) {
      this.errors.push(`${label}: HTTP ${response.statusCode}`);
      await response.body.dump();
      return;
    }
    const id = String(response.headers['x-generation-id']);
    if (behaviour === 'full') {
      const { frames, done } = await this.read(response.body);
      this.check(label, frames, done);
      return;
    }
    const cut = 2 + Math.floor(next() * 10);
    const first = await this.read(response.body, cut);
    if (behaviour === 'stall') {
      // Holds the connection without reading for a while, then goes away.
      await sleep(500 + next() * 2000);
      response.body.destroy();
      return;
    }
    response.body.destroy();
    if (first.frames.at(-1)?.event === 'done') return;
    if (behaviour === 'cancel') {
      const cancel = await request(`${this.url}/api/v1/chat/stream/${id}/cancel`, {
        method: 'POST',
        dispatcher: this.agent,
      });
      await cancel.body.dump();
    }
    const lastId = first.frames.at(-1)?.id ?? 0;
    const resumed = await this.get(`/api/v1/chat/stream/${id}`, lastId);
    if (resumed.statusCode === 204) return;
    const rest = await this.read(resumed.body);
    this.check(label, [...first.frames, ...rest.frames], rest.done);
  }
}

async function main(argv: string[]): Promise<number> {
  const args = parseOptionsOnly(argv, SPEC);
  if (args === undefined) {
    process.stdout.write(HELP);
    return 0;
  }
  const seconds =
    stringOption(args, 'seconds') !== undefined
      ? number(stringOption(args, 'seconds'), 'seconds', 60, 5)
      : number(stringOption(args, 'minutes'), 'minutes', 30, 0.1) * 60;
  const streams = Math.floor(number(stringOption(args, 'streams'), 'streams', 1000, 1));
  const interval = number(stringOption(args, 'interval'), 'interval', seconds < 300 ? 5 : 10, 1);
  const next = random(number(stringOption(args, 'seed'), 'seed', 1, 0));

  const emulator = new BenchChild({ role: 'emulator', cpu: undefined });
  const emulatorUrl = await emulator.url;
  await emulator.call('pace', { ttftMs: 20, chunkDelayMs: 15, chunks: 40, thinkingChunks: 0 });
  // A thousand streams of short answers finish hundreds of generations a second: the default
  // resume window (5 minutes) would fill the store's count bound (10,000) within a minute, after
  // which the gateway refuses new work by design. The soak keeps a 30 s window and room for what
  // it holds, so the store turns over as it would for a gateway sized for this load.
  const env: NodeJS.ProcessEnv = {
    SLUICE_RESUME_TTL_MS: '30000',
    SLUICE_MAX_GENERATIONS: '100000',
    ...process.env,
    SLUICE_DEMO: '0',
    SLUICE_RESUME_GRACE_MS: '2000',
  };
  for (const provider of PROVIDERS) env[`${provider.toUpperCase()}_BASE_URL`] = `${emulatorUrl}/${provider}`;
  env.OPENAI_BASE_URL = `${emulatorUrl}/openai/v1`;
  env.TOGETHER_BASE_URL = `${emulatorUrl}/together/v1`;
  for (const key of ['OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'GEMINI_API_KEY', 'TOGETHER_API_KEY'])
    env[key] = 'sk-soak';
  const gateway = new BenchChild({ role: 'gateway', cpu: undefined, nodeArgs: ['--expose-gc'], env });
  const soak = new Soak(await gateway.url);

  process.stdout.write(
    `soak: ${streams} streams for ${seconds} s against ${await gateway.url} ` +
      `(resume window ${env.SLUICE_RESUME_TTL_MS} ms, at most ${env.SLUICE_MAX_GENERATIONS} generations held)\n`,
  );
  // Growth is judged between a reading a quarter into the run (warm: code compiled, tokenizer
  // loaded, pools open) and the end, both after a full collection.
  let warm: { memory: MemorySample; stored: number } | undefined;
  // Handles (sockets, timers) are judged idle against idle: before any load, and after the load
  // drained and every connection to and from the gateway is closed or has lapsed.
  const idleHandles = ((await gateway.call('vitals')) as Vitals).handles;
  const samples: (Vitals & { at: number; done: number; errors: number })[] = [];
  const started = Date.now();
  const deadline = started + seconds * 1000;
  let completed = 0;

  const worker = async (): Promise<void> => {
    while (Date.now() < deadline) {
      const behaviour = pick(next() * 100);
      const provider = PROVIDERS[Math.floor(next() * PROVIDERS.length)] ?? 'openai';
      try {
        await soak.once(behaviour, provider, next);
      } catch (error) {
        soak.errors.push(
          `${behaviour} ${provider}: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
      completed++;
    }
  };
  process.stdout.write(
    '   t s   RSS MB  heap MB  handles  running  stored  loop p99 ms  streams done  errors\n',
  );
  const sampler = setInterval(() => {
    void (gateway.call('vitals') as Promise<Vitals>).then((vitals) => {
      const at = Math.round((Date.now() - started) / 1000);
      samples.push({ ...vitals, at, done: completed, errors: soak.errors.length });
      process.stdout.write(
        `${String(at).padStart(6)}  ${(vitals.rss / 2 ** 20).toFixed(0).padStart(7)}  ${(vitals.heapUsed / 2 ** 20).toFixed(0).padStart(7)}  ${String(vitals.handles).padStart(7)}  ${String(vitals.running).padStart(7)}  ${String(vitals.stored).padStart(6)}  ${vitals.loopDelayP99Ms.toFixed(1).padStart(11)}  ${String(completed).padStart(12)}  ${String(soak.errors.length).padStart(6)}\n`,
      );
    });
  }, interval * 1000);
  const warmTimer = setTimeout(() => {
    void Promise.all([gateway.call('memory'), gateway.call('vitals')]).then(([memory, vitals]) => {
      warm = {
        memory: memory as MemorySample,
        stored: (vitals as Vitals).stored,
      };
    });
  }, seconds * 250);
  await Promise.all(Array.from({ length: streams }, () => worker()));
  clearTimeout(warmTimer);
  clearInterval(sampler);

  // Drained: running generations end within the grace period; then a full collection.
  const drainUntil = Date.now() + 15_000;
  let after = (await gateway.call('vitals')) as Vitals;
  while (after.running > 0 && Date.now() < drainUntil) {
    await sleep(250);
    after = (await gateway.call('vitals')) as Vitals;
  }
  // The readers' connections close; the gateway's upstream connections lapse once idle (undici
  // keeps them 4 s by default): then only what lives as long as the gateway may be left.
  await soak.close();
  const handlesUntil = Date.now() + 15_000;
  while (after.handles > idleHandles + HANDLE_SLACK && Date.now() < handlesUntil) {
    await sleep(500);
    after = (await gateway.call('vitals')) as Vitals;
  }
  const settled = (await gateway.call('memory')) as MemorySample;
  const storedNow = after.stored;
  // Finished generations stay for the resume window (bounded by the store's bytes), so growth
  // is judged on handles (back to the idle count) and on the heap each generation stored since
  // the warm reading added.
  const warmHeap = warm?.memory.heapUsed ?? settled.heapUsed;
  const storedSince = storedNow - (warm?.stored ?? storedNow);
  const perStoredKb = storedSince > 0 ? (settled.heapUsed - warmHeap) / 1024 / storedSince : 0;
  const handlesBack = after.handles <= idleHandles + HANDLE_SLACK;
  const verdictOk = soak.errors.length === 0 && after.running === 0 && handlesBack && perStoredKb < 64;

  process.stdout.write(
    `\nsoak: ${completed} streams in ${seconds} s (${[...soak.counts].map(([name, count]) => `${name} ${count}`).join(', ')})\n` +
      `  errors: ${soak.errors.length}${soak.errors.length ? ` (first: ${soak.errors[0]})` : ''}\n` +
      `  after drain: running ${after.running}, handles ${after.handles} with every connection closed (before the load: ${idleHandles}, at most ${HANDLE_SLACK} more allowed), stored ${storedNow}\n` +
      `  heap after GC: ${(warmHeap / 2 ** 20).toFixed(1)} MB at 25%, ${(settled.heapUsed / 2 ** 20).toFixed(1)} MB after (${perStoredKb.toFixed(1)} KB per generation stored since); RSS ${(settled.rss / 2 ** 20).toFixed(0)} MB\n` +
      `  loop delay p99, worst sample: ${Math.max(0, ...samples.map((sample) => sample.loopDelayP99Ms)).toFixed(1)} ms\n` +
      `verdict: ${verdictOk ? 'no growth, no broken stream' : 'FAILED'}\n`,
  );
  await gateway.stop();
  await emulator.stop();
  return verdictOk ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`soak: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  },
);
