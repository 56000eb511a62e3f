import { mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { API_PATHS } from '../src/protocol/http.js';
import { parseChatRequest } from '../src/protocol/request.js';
import { findProvider } from '../src/providers/registry.js';
import { OPENAI_PATHS } from '../src/server/routes/openai.js';
import { BenchChild, tasksetWorks } from './children.js';
import { log, type Path } from './context.js';
import type { Options } from './options.js';
import type { PathName } from './report.js';

/** The benchmark's child processes, started and not yet known to be ready. */
export interface BenchProcesses {
  emulator: BenchChild;
  emulatorOrigin: string;
  /** The emulator's OpenAI base URL, which the gateway is configured with. */
  openaiBase: string;
  passthrough: BenchChild;
  gateway: BenchChild;
  /**
   * A second gateway process for the OpenAI face: each path's generations (kept for resume)
   * count against its own store, and each path's CPU is its own process's.
   */
  gatewayOpenAi: BenchChild;
  loadgen: BenchChild;
  /** How the processes are pinned to CPUs, for the report. */
  pinning: string;
  /** Starts a fresh pass-through or gateway process (stopped with the others). */
  spawnMiddle(name: Exclude<PathName, 'direct'>, profile: boolean): BenchChild;
  /**
   * Starts another gateway on the gateway's CPU with extra environment (the ops case), and for
   * comparisons with extra Node flags, or as another build's child class spawns it (its own
   * `process.js`, so its own code).
   */
  spawnGateway(
    env: NodeJS.ProcessEnv,
    options?: { nodeArgs?: string[]; build?: typeof BenchChild },
  ): BenchChild;
  /** Every process of the benchmark, for telling its own CPU from other load. */
  readonly all: readonly BenchChild[];
  stopAll(): Promise<void>;
}

/** Gateway / pass-through on CPU 1, emulator and load generator on CPU 0. */
export async function startProcesses(options: Pick<Options, 'cpuProf'>): Promise<BenchProcesses> {
  const pin = availableParallelism() >= 2 && tasksetWorks('0') && tasksetWorks('1');
  const pinning = pin
    ? 'taskset: pass-through / gateway on CPU 1; emulator and load generator on CPU 0; orchestrator unpinned (idle while cells run)'
    : 'none (taskset unavailable or fewer than 2 CPUs): every process shares every CPU';
  const cpuFor = (cpu: string): string | undefined => (pin ? cpu : undefined);
  const emulator = new BenchChild({ role: 'emulator', cpu: cpuFor('0') });
  const emulatorOrigin = await emulator.url;
  if (findProvider('openai') === undefined) throw new Error('the bench needs the openai provider');
  const openaiBase = `${emulatorOrigin}/openai/v1`;
  const gatewayEnv: NodeJS.ProcessEnv = {
    ...process.env,
    SLUICE_DEMO: '0',
    OPENAI_BASE_URL: openaiBase,
    OPENAI_API_KEY: 'bench-dummy-key',
    // Thousands of streams a second from one client would fill the resume store within seconds
    // of the default 5-minute window (new work is then refused, not old work cut short); the
    // benchmark measures streaming, so finished generations are kept for 10 s here.
    SLUICE_RESUME_TTL_MS: '10000',
  };
  delete gatewayEnv.REDIS_URL;
  delete gatewayEnv.PORT;
  if (options.cpuProf !== undefined) mkdirSync(options.cpuProf, { recursive: true });
  const children: BenchChild[] = [emulator];
  const spawnMiddle = (name: Exclude<PathName, 'direct'>, profile: boolean): BenchChild => {
    const child =
      name === 'pass-through'
        ? new BenchChild({
            role: 'passthrough',
            cpu: cpuFor('1'),
            nodeArgs: ['--expose-gc'],
            env: { ...process.env, BENCH_UPSTREAM: emulatorOrigin },
          })
        : new BenchChild({
            role: 'gateway',
            cpu: cpuFor('1'),
            nodeArgs: [
              '--expose-gc',
              ...(profile && options.cpuProf !== undefined
                ? ['--cpu-prof', `--cpu-prof-dir=${join(options.cpuProf, name)}`]
                : []),
            ],
            env: gatewayEnv,
          });
    children.push(child);
    return child;
  };
  const passthrough = spawnMiddle('pass-through', false);
  const gateway = spawnMiddle('sluice', true);
  const gatewayOpenAi = spawnMiddle('sluice-openai', true);
  const loadgen = new BenchChild({ role: 'loadgen', cpu: cpuFor('0') });
  children.push(loadgen);
  const spawnGateway: BenchProcesses['spawnGateway'] = (env, spawnOptions = {}) => {
    const Child = spawnOptions.build ?? BenchChild;
    const child = new Child({
      role: 'gateway',
      cpu: cpuFor('1'),
      nodeArgs: ['--expose-gc', ...(spawnOptions.nodeArgs ?? [])],
      env: { ...gatewayEnv, ...env },
    });
    children.push(child);
    return child;
  };
  const stopAll = async (): Promise<void> => {
    await Promise.all(children.map((child) => child.stop()));
  };
  process.on('SIGINT', () => {
    stopAll().finally(() => process.exit(130));
  });
  return {
    emulator,
    emulatorOrigin,
    openaiBase,
    passthrough,
    gateway,
    gatewayOpenAi,
    loadgen,
    pinning,
    spawnMiddle,
    spawnGateway,
    all: children,
    stopAll,
  };
}

/**
 * Waits for every process, then describes the paths (Sluice twice: native SSE, and the
 * OpenAI-compatible face of a second gateway process). The direct request is byte for byte
 * the one the gateway sends upstream.
 */
export async function connectPaths(processes: BenchProcesses): Promise<Path[]> {
  const { emulatorOrigin, passthrough, gateway, gatewayOpenAi, loadgen } = processes;
  const [passthroughUrl, gatewayUrl, gatewayOpenAiUrl] = await Promise.all([
    passthrough.url,
    gateway.url,
    gatewayOpenAi.url,
    loadgen.url,
  ]);
  log(
    `emulator ${emulatorOrigin}, pass-through ${passthroughUrl}, gateway ${gatewayUrl}; ${processes.pinning}`,
  );

  const openai = findProvider('openai');
  if (openai === undefined) throw new Error('the bench needs the openai provider');
  const chat = parseChatRequest({ provider: 'openai', messages: [{ role: 'user', content: 'Hello' }] });
  if (!chat.ok) throw new Error(chat.issue.message);
  const upstream = openai.buildRequest(chat.request, openai.defaultModel, {
    apiKey: 'bench-dummy-key',
    baseUrl: processes.openaiBase,
  });
  const upstreamPath = new URL(upstream.url).pathname;
  return [
    {
      name: 'direct',
      middle: undefined,
      target: {
        origin: emulatorOrigin,
        path: upstreamPath,
        headers: upstream.headers,
        body: upstream.body,
        kind: 'openai',
      },
    },
    {
      name: 'pass-through',
      middle: passthrough,
      target: {
        origin: passthroughUrl,
        path: upstreamPath,
        headers: upstream.headers,
        body: upstream.body,
        kind: 'openai',
      },
    },
    {
      name: 'sluice',
      middle: gateway,
      target: {
        origin: gatewayUrl,
        path: API_PATHS.stream,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ provider: 'openai', messages: [{ role: 'user', content: 'Hello' }] }),
        kind: 'sluice',
      },
    },
    {
      name: 'sluice-openai',
      middle: gatewayOpenAi,
      target: {
        origin: gatewayOpenAiUrl,
        path: OPENAI_PATHS.chatCompletions,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'openai',
          messages: [{ role: 'user', content: 'Hello' }],
          stream: true,
        }),
        kind: 'openai',
      },
    },
  ];
}
