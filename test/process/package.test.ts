import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '..', '..');
const folder = mkdtempSync(join(tmpdir(), 'sluice-package-'));
const app = join(folder, 'app');

/** npm without prompts, audits or notices; the cache is the one `npm install` filled. */
const npmEnv: NodeJS.ProcessEnv = {
  ...process.env,
  npm_config_audit: 'false',
  npm_config_fund: 'false',
  npm_config_update_notifier: 'false',
  npm_config_yes: 'true',
};

/** Bytes of the files under a folder (what `du --apparent-size` counts). */
function bytesUnder(path: string): number {
  let total = 0;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) total += bytesUnder(child);
    else if (entry.isFile()) total += statSync(child).size;
  }
  return total;
}

let gateway: ChildProcess | undefined;

beforeAll(async () => {
  // dist/ is fresh (the dist tests' global setup builds it), so packing skips prepack's build.
  const packed = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', folder, '--silent'], {
    cwd: root,
    env: npmEnv,
  });
  const tarball = join(folder, packed.stdout.trim().split('\n').at(-1) ?? '');
  rmSync(app, { recursive: true, force: true });
  await run('mkdir', ['-p', app]);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true }));
  // Offline: every dependency comes from the local npm cache, as on a machine without a registry.
  try {
    await run('npm', ['install', '--offline', tarball], { cwd: app, env: npmEnv, timeout: 180_000 });
  } catch (error) {
    // A cache filled from a lockfile may hold other metadata documents than a fresh install asks
    // for (ENOTCACHED); then the registry may fill the gap, and the test says so.
    const output = `${(error as { stdout?: string }).stdout ?? ''}${(error as { stderr?: string }).stderr ?? ''}`;
    if (!output.includes('ENOTCACHED')) throw error;
    console.log('npm cache incomplete for an offline install; installing with --prefer-offline');
    await run('npm', ['install', '--prefer-offline', tarball], { cwd: app, env: npmEnv, timeout: 180_000 });
  }
}, 240_000);

afterAll(() => {
  // npx runs the gateway in a child of its own: the whole process group goes.
  if (gateway?.pid !== undefined && gateway.exitCode === null) {
    try {
      process.kill(-gateway.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  rmSync(folder, { recursive: true, force: true });
});

describe('the packed package installed in an empty folder', () => {
  it('holds the production dependencies only, the tokenizer tables not among them', () => {
    const modules = join(app, 'node_modules');
    const installed = readdirSync(modules);
    for (const name of ['sluice', 'zod', 'undici', 'pino', 'prom-client', 'tokenx']) {
      expect(installed).toContain(name);
    }
    for (const name of ['gpt-tokenizer', 'typescript', 'vitest', '@biomejs', 'openai']) {
      expect(installed).not.toContain(name);
    }
    const files = readdirSync(join(modules, 'sluice'));
    expect(files).toEqual(
      expect.arrayContaining(['LICENSE', 'README.md', 'dist', 'docs', 'web', 'package.json']),
    );
    expect(readdirSync(join(modules, 'sluice', 'docs'))).toEqual(['CONTRACT.md']);
    // File bytes (`du --apparent-size` without the directory entries): 60 MB before, the cl100k
    // tables alone 51 MB; zod is 6 MB of what is left.
    const megabytes = bytesUnder(modules) / 1e6;
    console.log(`production install: ${megabytes.toFixed(2)} MB of files in ${installed.length} entries`);
    expect(megabytes).toBeLessThan(15);
  });

  it('runs `npx sluice serve --demo`, and `npx sluice chat` streams through it', async () => {
    const version = await run('npx', ['--offline', 'sluice', '--version'], { cwd: app, env: npmEnv });
    expect(version.stdout).toMatch(/^sluice \d+\.\d+\.\d+/);

    const child = spawn('npx', ['--offline', 'sluice', 'serve', '--demo', '--port', '0'], {
      cwd: app,
      env: npmEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
      // A process group of its own, so that the gateway npx starts is stopped with it.
      detached: true,
    });
    gateway = child;
    let stderr = '';
    const url = await new Promise<string>((resolveUrl, reject) => {
      const timer = setTimeout(() => reject(new Error(`no banner within 20 s:\n${stderr}`)), 20_000);
      child.stderr?.on('data', (data: Buffer) => {
        stderr += data.toString();
        const match = /listening on (http:\/\/[\d.:]+)/.exec(stderr);
        if (match?.[1]) {
          clearTimeout(timer);
          resolveUrl(match[1]);
        }
      });
      child.once('exit', (code) => reject(new Error(`exited with ${code}:\n${stderr}`)));
    });
    const chat = await run(
      'npx',
      ['--offline', 'sluice', 'chat', 'Hello from a fresh install', '--url', url],
      {
        cwd: app,
        env: npmEnv,
        timeout: 30_000,
      },
    );
    expect(chat.stdout).toMatch(/Emulated openai answer/);
    expect(chat.stderr).toMatch(/finish stop/);

    // The library entry points load from the installed package too.
    const probe = await run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "const s = await import('sluice'); const c = await import('sluice/client'); console.log(typeof s.startGateway, typeof c.streamChat);",
      ],
      { cwd: app, env: npmEnv },
    );
    expect(probe.stdout.trim()).toBe('function function');
  }, 90_000);
});
