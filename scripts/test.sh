#!/usr/bin/env bash
# `npm test`: every check CI runs, from a fresh clone. Installs what the tests need when it is
# missing (node_modules, redis-server, chromium), then type-checks, lints, builds, and runs the
# suite on this Node (20.18+) and again on the current LTS (Node 22, from the npm registry).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

if [ ! -d node_modules ]; then
  # `npm install` follows package-lock.json as `npm ci` would; `npm ci` itself refuses this
  # lock because the registry here lacks the other platforms' optional Biome binaries.
  step "npm install (from package-lock.json)"
  npm install --no-audit --no-fund
fi

step "system packages"
bash scripts/ensure-system-packages.sh

step "type-check (tsc --noEmit, strict)"
npx tsc --noEmit

step "lint and format (biome)"
npx biome check .

step "build"
npm run build --silent

step "tests on Node $(node --version)"
npx vitest run

if [ "${SLUICE_SKIP_NODE22:-0}" != "1" ]; then
  step "tests on Node 22 (current LTS)"
  npx -y node@22 --version
  npx -y node@22 node_modules/vitest/vitest.mjs run
fi
