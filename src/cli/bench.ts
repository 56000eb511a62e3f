import {
  type HealthResult,
  health,
  SluiceConnectionError,
  SluiceRequestError,
  streamChat,
} from '../client/index.js';
import {
  flag,
  listOption,
  numberOption,
  type OptionSpec,
  parseArgs,
  stringOption,
  UsageError,
} from './args.js';
import { benchJson, benchTable, type Sample, type Target } from './bench-report.js';
import {
  apiKeyOption,
  DEFAULT_URL,
  describeFailure,
  EXIT,
  gatewayUrl,
  onInterrupt,
  writeErr,
  writeOut,
} from './common.js';
import { ProgressBar } from './terminal.js';

const SPEC: OptionSpec = {
  providers: 'string',
  models: 'string',
  runs: 'string',
  concurrency: 'string',
  prompt: 'string',
  'max-tokens': 'string',
  json: 'boolean',
  url: 'string',
  'api-key': 'string',
};

const USAGE_HINT = 'Run "sluice bench --help" for usage.';
const DEFAULT_PROMPT = 'In three sentences, explain why rivers meander.';
const GOOD_FINISH = new Set(['stop', 'length', 'tool_calls']);

interface BenchInvocation {
  url: string;
  providers: string[] | undefined;
  models: string[] | undefined;
  runs: number;
  concurrency: number;
  prompt: string;
  maxTokens: number | undefined;
  json: boolean;
  apiKey: string | undefined;
}

function parseInvocation(argv: readonly string[]): BenchInvocation {
  const args = parseArgs(argv, SPEC);
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument "${args.positionals[0]}"`);
  const prompt = stringOption(args, 'prompt') ?? DEFAULT_PROMPT;
  if (prompt.trim() === '') throw new UsageError('--prompt must not be empty');
  return {
    url: gatewayUrl(stringOption(args, 'url')),
    providers: listOption(args, 'providers'),
    models: listOption(args, 'models'),
    runs: numberOption(args, 'runs', { integer: true, min: 1 }) ?? 5,
    concurrency: numberOption(args, 'concurrency', { integer: true, min: 1 }) ?? 1,
    prompt,
    maxTokens: numberOption(args, 'max-tokens', { integer: true, min: 1 }),
    json: flag(args, 'json'),
    apiKey: apiKeyOption(stringOption(args, 'api-key')),
  };
}

/**
 * Which provider and model pairs to measure. A `--models` entry `provider:model` (the part
 * before the first colon names a provider) goes to that provider only, so Ollama's
 * `llama3.2:3b` stays a plain model name; plain names go to every provider.
 */
export function planTargets(
  status: HealthResult,
  providers: readonly string[] | undefined,
  models: readonly string[] | undefined,
): Target[] {
  const known = new Set(Object.keys(status.providers));
  const chosen =
    providers ?? Object.entries(status.providers).flatMap(([id, entry]) => (entry.configured ? [id] : []));
  if (chosen.length === 0) {
    throw new UsageError('the gateway has no configured provider to measure; name some with --providers');
  }
  const perProvider = new Map<string, string[]>();
  const everywhere: string[] = [];
  for (const entry of models ?? []) {
    const colon = entry.indexOf(':');
    const prefix = colon === -1 ? '' : entry.slice(0, colon);
    if (known.has(prefix) || chosen.includes(prefix)) {
      if (!chosen.includes(prefix))
        throw new UsageError(`--models names ${prefix}, which is not in --providers`);
      perProvider.set(prefix, [...(perProvider.get(prefix) ?? []), entry.slice(colon + 1)]);
    } else {
      everywhere.push(entry);
    }
  }
  return chosen.flatMap((provider) => {
    const list = [...everywhere, ...(perProvider.get(provider) ?? [])];
    const names = list.length > 0 ? list : [status.providers[provider]?.default_model];
    const emulated = status.providers[provider]?.emulated ?? false;
    return names.map((model) => ({ provider, model, samples: [], failures: [], skipped: 0, emulated }));
  });
}

class RunFailure extends Error {}

/** One streamed run; throws a RunFailure (or the client's error) when it did not finish well. */
async function measure(
  url: string,
  target: Target,
  invocation: BenchInvocation,
  signal: AbortSignal,
): Promise<Sample> {
  const stream = await streamChat(
    {
      provider: target.provider,
      model: target.model,
      messages: [{ role: 'user', content: invocation.prompt }],
      max_tokens: invocation.maxTokens,
    },
    { baseUrl: url, signal, apiKey: invocation.apiKey },
  );
  for await (const _frame of stream) {
    // The stream accumulates the figures; the frames themselves are not needed here.
  }
  if (stream.aborted) {
    await stream.abort();
    throw new DOMException('interrupted', 'AbortError');
  }
  const reason = stream.finishReason;
  if (reason === null || !GOOD_FINISH.has(reason)) {
    const error = stream.error;
    throw new RunFailure(error ? `${error.code}: ${error.message}` : `finish ${reason ?? 'missing'}`);
  }
  const stats = stream.stats;
  if (stats.ttftMs === null) throw new RunFailure('no output');
  const streamingMs = stats.elapsedMs - stats.ttftMs;
  const outputTokens = stream.usage?.output_tokens ?? stats.outputTokens;
  return {
    ttftMs: stats.ttftMs,
    tokensPerSecond: streamingMs > 0 ? (outputTokens * 1000) / streamingMs : null,
    outputTokens,
    durationMs: stats.elapsedMs,
    finishReason: reason,
  };
}

/** `sluice bench`: returns the exit code. */
export async function bench(argv: readonly string[]): Promise<number> {
  let url = process.env.SLUICE_URL || DEFAULT_URL;
  try {
    const invocation = parseInvocation(argv);
    url = invocation.url;
    const targets = planTargets(
      await health({ baseUrl: url, apiKey: invocation.apiKey }),
      invocation.providers,
      invocation.models,
    );
    return await runAll(targets, invocation);
  } catch (error) {
    const failure = describeFailure(error, url, USAGE_HINT);
    writeErr(`sluice bench: ${failure.message}\n`);
    return failure.code;
  }
}

async function runAll(targets: Target[], invocation: BenchInvocation): Promise<number> {
  // Run k of every target before run k+1 of any, so drifting conditions spread evenly.
  const jobs = Array.from({ length: invocation.runs }, () => targets).flat();
  const refused = new Set<Target>();
  const controller = new AbortController();
  const removeInterrupt = onInterrupt(() => controller.abort());
  const bar = new ProgressBar(jobs.length);
  let next = 0;
  let finished = 0;
  let unreachable = false;
  bar.update(0, 'starting');

  const worker = async (): Promise<void> => {
    while (!controller.signal.aborted) {
      const target = jobs[next++];
      if (target === undefined) return;
      if (refused.has(target)) {
        target.skipped++;
      } else {
        try {
          target.samples.push(await measure(invocation.url, target, invocation, controller.signal));
        } catch (error) {
          if (controller.signal.aborted) return;
          if (error instanceof SluiceRequestError) refused.add(target);
          if (error instanceof SluiceConnectionError && error.code === 'unreachable') unreachable = true;
          target.failures.push(reason(error));
        }
      }
      finished++;
      bar.update(finished, `${target.provider}/${target.model ?? '(default)'}`);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(invocation.concurrency, jobs.length) }, worker));
  } finally {
    removeInterrupt();
    bar.clear();
  }

  const setup = {
    url: invocation.url,
    prompt: invocation.prompt,
    runs: invocation.runs,
    concurrency: invocation.concurrency,
  };
  await writeOut(
    invocation.json
      ? `${JSON.stringify(benchJson(targets, setup), null, 2)}\n`
      : benchTable(targets, invocation.runs),
  );
  if (controller.signal.aborted) {
    writeErr('interrupted: running generations were cancelled\n');
    return EXIT.interrupted;
  }
  if (unreachable) return EXIT.unreachable;
  if (refused.size > 0) return EXIT.refused;
  return targets.some((target) => target.failures.length > 0) ? EXIT.streamFailed : EXIT.ok;
}

function reason(error: unknown): string {
  if (error instanceof SluiceRequestError) {
    return `refused: ${error.message}${error.field ? ` (field: ${error.field})` : ''} [${error.status} ${error.code}]`;
  }
  return error instanceof Error ? error.message : String(error);
}
