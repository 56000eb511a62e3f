import { resolve } from 'node:path';
import { flag, type OptionSpec, parseOptionsOnly, stringOption, UsageError } from '../src/cli/args.js';

export const HELP = `Usage: npm run bench -- [--quick] [--no-docs] [--cases latency,throughput,burst,idle,local]
                      [--concurrency 1,64,512] [--pairs N] [--cpu-prof DIR]

Measures direct-to-emulator, a byte pass-through proxy and Sluice, each component in its own
process (pinned apart with taskset), and prints the results as Markdown tables.

  --quick          concurrency 1 and 64, fewer chunks, shorter cells (does not write docs)
  --no-docs        do not rewrite the generated section of docs/benchmarks.md
  --cases LIST     only these cases (default: latency,throughput,burst,idle,local; local is
                   the in-process model, direct through node-llama-cpp and through Sluice);
                   \`ops\` (not in the default) compares gateway CPU per chunk with keys,
                   limits, metrics and logs all off and all on; \`redis\` (not in the
                   default, needs redis-server) compares gateway CPU per chunk with and
                   without REDIS_URL, redis-server's own, and how soon a reader on a
                   second gateway sees a frame; \`workers\` (not in the default, needs
                   redis-server and \`npm run build\`) runs \`sluice serve --workers 2\`
                   against one worker: chunks/s and time to first token at a fixed load;
                   \`upstream\` (not in the default) compares Sluice with HTTP/1.1 and with
                   h2c upstream: sockets, memory per idle stream, CPU per chunk; \`scale\`
                   (not in the default, about 2 minutes) holds 10,000 slow streams open at
                   once through the pass-through and through Sluice with h2c upstream
                   (2,000 with --quick)
  --concurrency L  only these concurrencies (up to 4000; default 1,64,512, and 2000 for the
                   latency case)
  --paths LIST     only these paths (direct,pass-through,sluice,sluice-openai)
  --pairs N        cells of the pass-through and Sluice, one right after the other, at the
                   latency targets' level (default 5, 1 with --quick; 1 to 20): the targets
                   take the median over them
  --cpu-prof DIR   run the gateway under --cpu-prof, write its profile to DIR and print the
                   functions with the most self time (implies --no-docs)
`;

export interface Options {
  quick: boolean;
  docs: boolean;
  cases: Set<string>;
  concurrency: number[];
  /** The latency case's levels: `concurrency`, and 2,000 in a full run. */
  latencyConcurrency: number[];
  paths: Set<string>;
  /** Pass-through and Sluice cells, one right after the other, at the latency targets' level. */
  pairs: number;
  cpuProf: string | undefined;
}

const CASES = [
  'latency',
  'throughput',
  'burst',
  'idle',
  'local',
  'ops',
  'redis',
  'workers',
  'upstream',
  'scale',
];

const SPEC: OptionSpec = {
  quick: 'boolean',
  'no-docs': 'boolean',
  cases: 'string',
  concurrency: 'string',
  paths: 'string',
  pairs: 'string',
  'cpu-prof': 'string',
};

/** Pairs at the targets' level in a full run: the machine's speed drifts over minutes, and a median of five holds against one slow minute. */
const DEFAULT_PAIRS = 5;
const MAX_PAIRS = 20;

/** The benchmark's options, or `undefined` when help was asked for. */
export function parseOptions(argv: readonly string[]): Options | undefined {
  const args = parseOptionsOnly(argv, SPEC);
  if (args === undefined) return undefined;
  const quick = flag(args, 'quick');
  const noDocs = flag(args, 'no-docs');
  const cases = stringOption(args, 'cases');
  const concurrency = stringOption(args, 'concurrency');
  const cpuProf = stringOption(args, 'cpu-prof');
  const paths = stringOption(args, 'paths');
  const pairsText = stringOption(args, 'pairs');
  const pairs = pairsText === undefined ? (quick ? 1 : DEFAULT_PAIRS) : Number(pairsText);
  if (!Number.isInteger(pairs) || pairs < 1 || pairs > MAX_PAIRS) {
    throw new UsageError(`--pairs takes an integer from 1 to ${MAX_PAIRS}`);
  }
  const levels = concurrency?.split(',').map(Number) ?? (quick ? [1, 64] : [1, 64, 512]);
  // The latency case also runs at 2,000 streams in a full run: where something other than CPU shows.
  const latencyLevels = concurrency === undefined && !quick ? [...levels, 2000] : levels;
  const caseNames = (cases ?? 'latency,throughput,burst,idle,local').split(',');
  const unknown = caseNames.find((name) => !CASES.includes(name));
  if (unknown !== undefined) throw new UsageError(`unknown case "${unknown}"; expected ${CASES.join(', ')}`);
  if (levels.some((level) => !Number.isInteger(level) || level < 1 || level > 4000)) {
    throw new UsageError('--concurrency takes integers from 1 to 4000');
  }
  return {
    quick,
    docs:
      !noDocs &&
      !quick &&
      cpuProf === undefined &&
      cases === undefined &&
      concurrency === undefined &&
      paths === undefined &&
      pairsText === undefined,
    paths: new Set((paths ?? 'direct,pass-through,sluice,sluice-openai').split(',')),
    cases: new Set(caseNames),
    concurrency: levels,
    latencyConcurrency: latencyLevels,
    pairs,
    cpuProf: cpuProf === undefined ? undefined : resolve(cpuProf),
  };
}
