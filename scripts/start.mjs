// `npm start`: installs and builds when needed, then runs the gateway in demo mode
// (emulated providers, web page) unless the environment says SLUICE_DEMO=0.
import { execSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const run = (command) => execSync(command, { cwd: root, stdio: 'inherit' });

function newestMtime(directory) {
  let newest = 0;
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

// `npm install` follows package-lock.json (`npm ci` refuses it where the registry lacks the
// other platforms' optional Biome binaries).
if (!existsSync(join(root, 'node_modules'))) run('npm install --no-audit --no-fund');
// Demo mode offers the local provider with its tiny model: it needs node-llama-cpp (CPU build),
// installed when missing. The gateway starts without it all the same, saying so.
if (process.env.SLUICE_DEMO !== '0' && !existsSync(join(root, 'node_modules', 'node-llama-cpp'))) {
  try {
    run('bash scripts/ensure-local-model-runtime.sh');
  } catch {
    console.error('node-llama-cpp could not be installed: the local provider stays unavailable');
  }
}
const entry = join(root, 'dist', 'cli', 'main.js');
if (!existsSync(entry) || newestMtime(join(root, 'src')) > statSync(entry).mtimeMs)
  run('npm run build --silent');

process.argv = [process.argv[0], entry, 'start', ...process.argv.slice(2)];
await import(entry);
