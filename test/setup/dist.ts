import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..', '..');
const SRC = join(root, 'src');

/** What tsconfig.build.json compiles: every .ts under src/ except tests. */
function sources(): string[] {
  return readdirSync(SRC, { recursive: true, encoding: 'utf8' })
    .filter((path) => path.endsWith('.ts') && !path.endsWith('.test.ts') && !path.endsWith('.d.ts'))
    .map((path) => join(SRC, path));
}

/** Sources whose output in dist/ is missing or older than they are. */
function outdated(): string[] {
  return sources()
    .filter((source) => {
      const built = join(root, 'dist', relative(SRC, source).replace(/\.ts$/, '.js'));
      const builtAt = statSync(built, { throwIfNoEntry: false })?.mtimeMs;
      return builtAt === undefined || builtAt < statSync(source).mtimeMs;
    })
    .map((source) => relative(root, source));
}

/**
 * Global setup of the tests that run the built package (the CLI binary, gateway processes,
 * dist/client in Chromium): when any source under src/ is newer than its output, runs
 * `npm run build` first, so that those tests never exercise an old build. A failed build fails
 * the run with tsc's output.
 */
export default function buildDist(): void {
  const stale = outdated();
  if (stale.length === 0) return;
  console.log(
    `dist/ is older than ${stale.length} source file(s) (${stale.slice(0, 3).join(', ')}): npm run build`,
  );
  try {
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'pipe', timeout: 300_000 });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: Buffer; stderr?: Buffer };
    throw new Error(
      `dist/ is older than src/ and \`npm run build\` failed, so the tests that run dist/ cannot start:\n${stdout ?? ''}${stderr ?? ''}`,
    );
  }
  const left = outdated();
  if (left.length > 0) throw new Error(`\`npm run build\` left dist/ older than ${left.join(', ')}`);
}
