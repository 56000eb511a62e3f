import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Scenario } from '../../src/emulators/types.js';

const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface Child {
  process: ChildProcess;
  /** First URL the process printed. */
  url: string;
  /** Everything printed so far, stdout and stderr interleaved. */
  output(): string;
  /** What it printed on stdout alone, and on stderr alone. */
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** Runs the built CLI (`npm run build` first) with this Node, and waits for its first URL. */
export async function spawnCli(args: string[], env: Record<string, string> = {}): Promise<Child> {
  if (!existsSync(CLI)) throw new Error('dist/cli/main.js is missing: run `npm run build` first');
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (data: Buffer) => {
    output += data.toString();
    stdout += data.toString();
  });
  child.stderr?.on('data', (data: Buffer) => {
    output += data.toString();
    stderr += data.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL printed within 10 s:\n${output}`)), 10_000);
    const check = (): void => {
      const match = /listening on (http:\/\/[\d.:]+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    // The gateway prints its banner on stderr (stdout carries its JSON log lines); the emulators on stdout.
    child.stdout?.on('data', check);
    child.stderr?.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before listening:\n${output}`));
    });
  });
  return {
    process: child,
    url,
    output: () => output,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

/** The emulators in their own process, scriptable through their control endpoint. */
export async function spawnEmulator(): Promise<
  Child & { script(provider: string, ...scenarios: Scenario[]): Promise<void> }
> {
  const child = await spawnCli(['emulate', '--port', '0', '--control', '--ttft', '0', '--delay', '0']);
  return {
    ...child,
    async script(provider, ...scenarios) {
      const response = await fetch(`${child.url}/__control/enqueue`, {
        method: 'POST',
        body: JSON.stringify({ provider, scenarios }),
      });
      if (!response.ok) throw new Error(`control: ${response.status}`);
    },
  };
}

/** The gateway in its own process, configured against an emulator process, without demo mode. */
export function spawnGateway(
  emulatorUrl: string,
  env: Record<string, string> = {},
  args: string[] = [],
): Promise<Child> {
  return spawnCli(['serve', '--port', '0', ...args], {
    SLUICE_DEMO: '0',
    OPENAI_API_KEY: 'sk-test-process',
    OPENAI_BASE_URL: `${emulatorUrl}/openai/v1`,
    ...env,
  });
}

/** Resident set size of a process in bytes (Linux). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  return Number(match?.[1] ?? 0) * 1024;
}

export interface Finished {
  /** Exit code, or null when killed at the deadline. */
  code: number | null;
  stdout: string;
  stderr: string;
  /** The process was still running at the deadline and was killed. */
  hung: boolean;
}

/** Runs the built CLI to its end, killing it (and saying so) if it outlives `deadlineMs`. */
export function runCli(
  args: string[],
  env: Record<string, string> = {},
  deadlineMs = 10_000,
): Promise<Finished> {
  if (!existsSync(CLI)) throw new Error('dist/cli/main.js is missing: run `npm run build` first');
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (data: Buffer) => {
    stdout += data.toString();
  });
  child.stderr?.on('data', (data: Buffer) => {
    stderr += data.toString();
  });
  let hung = false;
  const timer = setTimeout(() => {
    hung = true;
    child.kill('SIGKILL');
  }, deadlineMs);
  return new Promise((resolve) => {
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, hung });
    });
  });
}
