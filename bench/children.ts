import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Call, Reply, Role } from './process.js';

const PROCESS_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'process.js');

/** Whether `taskset -c <cpu>` works here (installed, and the CPU exists). */
export function tasksetWorks(cpu: string): boolean {
  try {
    execFileSync('taskset', ['-c', cpu, 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export interface SpawnOptions {
  role: Role;
  /** CPU list for taskset (`"0"`, `"1"`); undefined: not pinned. */
  cpu: string | undefined;
  nodeArgs?: string[];
  env?: NodeJS.ProcessEnv;
}

/** One benchmark child process, driven over its IPC channel. */
export class BenchChild {
  readonly role: Role;
  readonly url: Promise<string>;
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  private nextId = 1;
  private exited = false;

  constructor(options: SpawnOptions) {
    this.role = options.role;
    const nodeArgs = [...(options.nodeArgs ?? []), PROCESS_SCRIPT, options.role];
    const stdio: ['ignore', 'inherit', 'inherit', 'ipc'] = ['ignore', 'inherit', 'inherit', 'ipc'];
    // taskset execs node in place, so the pid, the IPC descriptor and the environment carry over.
    this.child =
      options.cpu === undefined
        ? spawn(process.execPath, nodeArgs, { stdio, env: options.env ?? process.env })
        : spawn('taskset', ['-c', options.cpu, process.execPath, ...nodeArgs], {
            stdio,
            env: options.env ?? process.env,
          });
    this.url = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.role} did not start within 20 s`)), 20_000);
      this.child.on('message', (message: Reply | { ready: true; url: string }) => {
        if ('ready' in message) {
          clearTimeout(timer);
          resolve(message.url);
          return;
        }
        const waiting = this.pending.get(message.id);
        if (waiting === undefined) return;
        this.pending.delete(message.id);
        if (message.error !== undefined) waiting.reject(new Error(`${this.role}: ${message.error}`));
        else waiting.resolve(message.result);
      });
      this.child.on('exit', (code, signal) => {
        this.exited = true;
        clearTimeout(timer);
        const error = new Error(`${this.role} exited (${signal ?? code})`);
        reject(error);
        for (const waiting of this.pending.values()) waiting.reject(error);
        this.pending.clear();
      });
    });
    // A failed start is reported by whoever awaits `url`; do not crash on it here.
    this.url.catch(() => {});
  }

  get pid(): number {
    const pid = this.child.pid;
    if (pid === undefined) throw new Error(`${this.role} has no pid`);
    return pid;
  }

  call<T>(method: string, params?: unknown): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${this.role} is not running`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      const message: Call = { id, method, params };
      this.child.send(message);
    });
  }

  /** Asks the child to exit (so a CPU profile gets written), then kills it after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.call('exit').catch(() => {});
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }
}
