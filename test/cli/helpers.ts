import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..', '..');
export const CLI = join(root, 'dist', 'cli', 'main.js');

/** Source folders the CLI binary is built from (the gateway in these tests runs from src). */
const SOURCES = ['src/cli', 'src/client', 'src/protocol'];

function sourceFiles(): string[] {
  return SOURCES.flatMap((folder) =>
    readdirSync(join(root, folder))
      .filter((name) => name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts'))
      .sort()
      .map((name) => join(folder, name)),
  );
}

/** What the binary was built from: a hash of those sources, recorded next to the build. */
function sourceHash(): string {
  const hash = createHash('sha1');
  for (const file of sourceFiles())
    hash
      .update(file)
      .update('\0')
      .update(readFileSync(join(root, file)));
  return hash.digest('hex');
}

/** Per checkout, outside dist (which is published): the build lock, and the hash last built. */
const SCRATCH = join(
  tmpdir(),
  `sluice-cli-build-${createHash('sha1').update(root).digest('hex').slice(0, 12)}`,
);
const MARKER = `${SCRATCH}.source-hash`;

/**
 * Stale when a built file is missing or the recorded hash differs. Modification times alone are
 * not enough: another build that read the sources before an edit may finish after it.
 */
function stale(): boolean {
  for (const file of sourceFiles()) {
    if (!existsSync(join(root, 'dist', file.slice('src/'.length).replace(/\.ts$/, '.js')))) return true;
  }
  return !existsSync(MARKER) || readFileSync(MARKER, 'utf8') !== sourceHash();
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Builds dist when the CLI's sources changed since the last test build. Test files run in parallel, so one
 * builds under a lock directory while the others wait. Type errors elsewhere in the tree
 * (other work in progress) do not stop tsc from emitting; only a file it did not write fails.
 */
export function ensureBuilt(): void {
  if (!stale()) return;
  const lock = `${SCRATCH}.lock`;
  const deadline = Date.now() + 180_000;
  while (true) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`timed out waiting for the build lock ${lock}`);
      // A lock left by a crashed run is not held by anyone.
      const since = statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now();
      if (Date.now() - since > 120_000) rmdirSync(lock, { recursive: false });
      sleepSync(200);
    }
  }
  try {
    if (!stale()) return;
    const hash = sourceHash();
    const startedAt = Date.now();
    let output = '';
    try {
      execFileSync(
        process.execPath,
        [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
        {
          cwd: root,
          stdio: 'pipe',
          timeout: 150_000,
        },
      );
    } catch (error) {
      output = String((error as { stdout?: Buffer }).stdout ?? '');
    }
    const missed = sourceFiles()
      .map((file) => join(root, 'dist', file.slice('src/'.length).replace(/\.ts$/, '.js')))
      .filter((built) => (statSync(built, { throwIfNoEntry: false })?.mtimeMs ?? 0) < startedAt - 1000);
    if (missed.length > 0) throw new Error(`the build did not write ${missed.join(', ')}:\n${output}`);
    writeFileSync(MARKER, hash);
  } finally {
    rmdirSync(lock);
  }
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  env?: Record<string, string | undefined>;
  input?: string;
  timeoutMs?: number;
}

/** Environment for the binary: no colour surprises and no gateway URL leaking in from outside. */
function cliEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, SLUICE_URL: undefined, NO_COLOR: undefined, ...extra };
  for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key];
  return env;
}

/** Starts `node dist/cli/main.js ...args`; stdin is closed at once unless `input` is given. */
export function spawnCli(args: readonly string[], options: CliOptions = {}): ChildProcess {
  const child = spawn(process.execPath, [CLI, ...args], { env: cliEnv(options.env), stdio: 'pipe' });
  child.stdin?.end(options.input ?? '');
  return child;
}

/** Resolves with the exit of a spawned CLI, killing it when it outlives `timeoutMs`. */
export function completion(child: ChildProcess, timeoutMs = 15_000): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr?.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the CLI did not exit within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
  });
}

/** Runs the CLI to its exit. */
export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  return completion(spawnCli(args, options), options.timeoutMs);
}

/** A port nothing listens on: bound, then released. */
export async function closedPort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolvePromise) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolvePromise(typeof address === 'object' && address ? address.port : 1));
    });
  });
}
