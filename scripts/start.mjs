// `npm start`: the gateway in demo mode unless SLUICE_DEMO=0, built first when needed.
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';

if (!existsSync(new URL('../dist/cli/main.js', import.meta.url))) {
  execSync('npm run build', { stdio: 'inherit' });
}
process.argv = [process.argv[0], 'sluice', 'start', ...process.argv.slice(2)];
await import('../dist/cli/main.js');
