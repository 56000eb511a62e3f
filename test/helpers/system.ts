import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { runtimeInstalled } from '../../src/providers/local/runtime.js';

/** Where Debian's chromium package puts the browser (scripts/ensure-chromium.sh installs it). */
export const CHROMIUM_PATH = '/usr/bin/chromium';

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first executable `name` on PATH, as `command -v` finds it. */
function onPath(name: string): string | undefined {
  return (process.env.PATH ?? '')
    .split(delimiter)
    .filter((folder) => folder !== '')
    .map((folder) => join(folder, name))
    .find(executable);
}

/**
 * Whether a system tool some tests need is installed. On a developer's machine a missing tool
 * skips those tests with a warning. When `CI` is set it throws instead, failing the test file:
 * CI must never pass with fewer tests run (scripts/ensure-system-packages.sh installs the tools).
 */
function systemTool(name: string, found: boolean, install: string): boolean {
  if (found) return true;
  const message = `${name} is missing (${install})`;
  if ((process.env.CI ?? '') !== '') {
    throw new Error(`${message}; CI is set, so the tests that need it fail instead of being skipped`);
  }
  console.warn(`[skipped] ${message}: the tests that need it are skipped`);
  return false;
}

/** Headless Chromium for the browser tests. */
export function hasChromium(): boolean {
  return systemTool(
    CHROMIUM_PATH,
    executable(CHROMIUM_PATH),
    'scripts/ensure-chromium.sh installs it, as root',
  );
}

/** `script`, which runs the CLI on a pseudo-terminal. */
export function hasScript(): boolean {
  return systemTool('script', onPath('script') !== undefined, "Debian's bsdutils package has it");
}

/**
 * node-llama-cpp, the local provider's runtime (scripts/ensure-local-model-runtime.sh installs it;
 * it is not a dependency of the package). Found by path only: an install that cannot load fails
 * the tests that use it rather than skipping them.
 */
export function hasNodeLlamaCpp(): boolean {
  return systemTool(
    'node-llama-cpp',
    runtimeInstalled(),
    'bash scripts/ensure-local-model-runtime.sh installs it; npm test runs it',
  );
}
