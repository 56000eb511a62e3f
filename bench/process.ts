import { PerformanceObserver } from 'node:perf_hooks';
import { allDialects } from '../src/emulators/dialects.js';
import { EmulatorServer } from '../src/emulators/server.js';
import type { Scenario } from '../src/emulators/types.js';
import { createLogger } from '../src/ops/logging.js';
import { monitorLoopDelay } from '../src/ops/loop-delay.js';
import { startGateway } from '../src/server/gateway.js';
import { closeIdle, closePools, type LoadSpec, type LoadTarget, openIdle, runLoad } from './loadgen.js';
import { startPassthrough } from './passthrough.js';

/**
 * Entry point of the benchmark's child processes: `node dist-bench/bench/process.js <role>`, one
 * role per process (emulator, passthrough, gateway, loadgen). The parent drives them over the
 * IPC channel only, so nothing that steers the benchmark (the emulator's pace included) is
 * reachable over HTTP, through the gateway or otherwise.
 */

export type Role = 'emulator' | 'passthrough' | 'gateway' | 'loadgen';

export interface Call {
  id: number;
  method: string;
  params?: unknown;
}
export interface Reply {
  id: number;
  result?: unknown;
  error?: string;
}
export interface Ready {
  ready: true;
  url: string;
}

export interface MemorySample {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  gcAvailable: boolean;
}

type Handlers = Record<string, (params: unknown) => unknown>;

/** How often the event loop is sampled: a timer due every 10 ms, and how late it ran. */
const LOOP_SAMPLE_MS = 10;

/** How a middle process's event loop fared over a cell: its delay and its garbage collections. */
export interface LoopSample {
  /** Event-loop delay, 99th percentile, ms: how late a timer due every 10 ms ran (src/ops/loop-delay.ts). */
  delayP99Ms: number;
  delayMaxMs: number;
  /** Time spent in garbage-collection pauses, ms, and the longest pause. */
  gcMs: number;
  gcMaxMs: number;
}

/** `loopReset` starts a window, `loopSample` reads it: the pass-through and the gateway both serve these. */
function loopHandlers(): Handlers {
  const delay = monitorLoopDelay(LOOP_SAMPLE_MS);
  let gcMs = 0;
  let gcMaxMs = 0;
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gcMs += entry.duration;
      gcMaxMs = Math.max(gcMaxMs, entry.duration);
    }
  }).observe({ entryTypes: ['gc'] });
  return {
    loopReset: () => {
      delay.reset();
      gcMs = 0;
      gcMaxMs = 0;
    },
    loopSample: (): LoopSample => ({
      delayP99Ms: delay.percentileMs(99),
      delayMaxMs: delay.maxMs(),
      gcMs,
      gcMaxMs,
    }),
  };
}

/** Where the ops case's log lines go: written and discarded, the write included in the cost. */
/** Full collection when the process runs with --expose-gc; always reports memoryUsage(). */
async function collect(): Promise<MemorySample> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc !== undefined) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
  const usage = process.memoryUsage();
  return {
    rss: usage.rss,
    heapUsed: usage.heapUsed,
    external: usage.external,
    arrayBuffers: usage.arrayBuffers,
    gcAvailable: gc !== undefined,
  };
}

function serve(url: string, handlers: Handlers): void {
  const send = (message: Reply | Ready): void => {
    process.send?.(message);
  };
  process.on('message', (message: Call) => {
    const handler = handlers[message.method];
    if (handler === undefined) {
      send({ id: message.id, error: `unknown method ${message.method}` });
      return;
    }
    Promise.resolve()
      .then(() => handler(message.params))
      .then(
        (result) => send({ id: message.id, result }),
        (error: unknown) =>
          send({ id: message.id, error: error instanceof Error ? error.message : String(error) }),
      );
  });
  // The parent going away ends the child too, whatever state the benchmark is in.
  process.on('disconnect', () => process.exit(0));
  send({ ready: true, url });
}

const exit = (): void => {
  // process.exit() still writes a --cpu-prof profile; a signal would not.
  setImmediate(() => process.exit(0));
};

async function main(role: string): Promise<void> {
  switch (role) {
    case 'emulator': {
      const emulator = new EmulatorServer({
        dialects: allDialects(),
        host: '127.0.0.1',
        port: 0,
      });
      const origin = await emulator.listen();
      serve(origin, {
        pace: (scenario) => emulator.setDefaults(scenario as Scenario),
        // Streams being written now, and connections by protocol (the scale case).
        stats: () => ({ active: emulator.stats('openai').active, connections: emulator.connections() }),
        exit,
      });
      return;
    }
    case 'passthrough': {
      const upstream = process.env.BENCH_UPSTREAM;
      if (upstream === undefined) throw new Error('BENCH_UPSTREAM is not set');
      const proxy = await startPassthrough({ upstream });
      serve(proxy.url, { memory: collect, ...loopHandlers(), errors: () => proxy.errors(), exit });
      return;
    }
    case 'gateway': {
      // The same startGateway that `sluice serve` runs, configured from the environment the
      // parent set (OPENAI_BASE_URL at the emulator, a dummy key, SLUICE_DEMO=0). The ops case
      // sets BENCH_OPS: `off` turns metrics off too; `on` is metrics and logs; or a list of
      // `metrics`, `logs`. Logs go where `sluice serve` writes them, the same batched writer,
      // only to /dev/null (keys and limits come from the environment).
      const ops = process.env.BENCH_OPS;
      const parts = new Set(ops === 'on' ? ['metrics', 'logs'] : (ops ?? 'metrics').split(','));
      const gateway = await startGateway({
        env: process.env,
        settings: { host: '127.0.0.1', port: 0 },
        webRoot: null,
        ...(parts.has('metrics') ? {} : { metrics: false }),
        ...(parts.has('logs') ? { logger: createLogger({ level: 'info', destination: '/dev/null' }) } : {}),
      });
      const delay = monitorLoopDelay(LOOP_SAMPLE_MS);
      serve(gateway.url, {
        memory: collect,
        ...loopHandlers(),
        // What the soak samples: memory without a collection, handles, generations, loop delay.
        vitals: () => {
          const usage = process.memoryUsage();
          const vitals = {
            rss: usage.rss,
            heapUsed: usage.heapUsed,
            handles: (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().length,
            running: gateway.store.running().length,
            stored: gateway.store.size,
            loopDelayP99Ms: delay.percentileMs(99),
          };
          delay.reset();
          return vitals;
        },
        exit,
      });
      return;
    }
    case 'loadgen':
      serve('', {
        run: (spec) => runLoad(spec as LoadSpec),
        openIdle: (params) => {
          const { target, count, timeoutMs } = params as {
            target: LoadTarget;
            count: number;
            timeoutMs: number;
          };
          return openIdle(target, count, timeoutMs);
        },
        closeIdle: () => closeIdle(),
        exit: async () => {
          await closePools();
          exit();
        },
      });
      return;
    default:
      throw new Error(`unknown role "${role}"`);
  }
}

main(process.argv[2] ?? '').catch((error: unknown) => {
  process.stderr.write(`bench ${process.argv[2]}: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
