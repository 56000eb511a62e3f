import cluster, { type Worker } from 'node:cluster';

/** What a worker tells the primary. */
interface WorkerMessage {
  type: 'listening';
  url: string;
}

/** What the primary tells a worker. */
export const STOP_MESSAGE = { type: 'sluice:stop' } as const;

function isListening(message: unknown): message is WorkerMessage {
  return (
    typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'listening'
  );
}

/** In a worker: tells the primary the gateway is up, at which URL. */
export function reportListening(url: string): void {
  process.send?.({ type: 'listening', url } satisfies WorkerMessage);
}

/** Restarts allowed per minute before the primary gives up on a worker that keeps dying. */
const RESTARTS_PER_MINUTE = 10;

/**
 * The primary of `sluice serve --workers N`: forks N workers that share one listening socket
 * (node:cluster hands connections round-robin), prints one banner once all listen, replaces a
 * worker that dies (within a bound), and on SIGTERM or SIGINT asks each worker to finish its
 * streams and waits for them. Generations live in Redis, so any worker serves any of them.
 */
export function runPrimary(count: number, banner: (url: string) => string): Promise<void> {
  return new Promise((_resolve) => {
    const started = new Set<Worker>();
    const restarts: number[] = [];
    let stopping = false;
    let announced = false;

    const fork = (): void => {
      const worker = cluster.fork();
      worker.on('message', (message: unknown) => {
        if (!isListening(message)) return;
        started.add(worker);
        if (!announced && started.size === count) {
          announced = true;
          process.stderr.write(`${banner(message.url)}  workers:   ${count} (pid ${process.pid})\n`);
        }
      });
      worker.on('exit', (code, signal) => {
        const wasUp = started.delete(worker);
        if (stopping) {
          if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
          return;
        }
        if (!wasUp) {
          // It never listened: the same cause would stop every worker (port taken, bad setting).
          process.stderr.write(`sluice: a worker could not start (exit ${code ?? signal}); stopping\n`);
          stopAll(1);
          return;
        }
        const now = Date.now();
        while (restarts.length > 0 && now - (restarts[0] ?? 0) > 60_000) restarts.shift();
        if (restarts.length >= RESTARTS_PER_MINUTE) {
          process.stderr.write(
            `sluice: workers keep dying (${restarts.length} restarts in a minute); stopping\n`,
          );
          stopAll(1);
          return;
        }
        restarts.push(now);
        process.stderr.write(
          `sluice: worker ${worker.process.pid} exited (${code ?? signal}); starting another\n`,
        );
        fork();
      });
    };

    const stopAll = (exitCode: number): void => {
      if (stopping) return;
      stopping = true;
      const workers = Object.values(cluster.workers ?? {}).filter((worker) => worker !== undefined);
      if (workers.length === 0) process.exit(exitCode);
      for (const worker of workers) {
        if (worker.isConnected()) worker.send(STOP_MESSAGE);
        else worker.process.kill('SIGTERM');
      }
      if (exitCode !== 0) setTimeout(() => process.exit(exitCode), 15_000).unref();
      process.exitCode = exitCode;
    };

    for (let index = 0; index < count; index++) fork();
    process.on('SIGTERM', () => stopAll(0));
    process.on('SIGINT', () => stopAll(0));
  });
}

export const isWorker = (): boolean => cluster.isWorker;
