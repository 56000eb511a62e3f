#!/usr/bin/env bash
# `npm test`: every check CI runs, from a fresh clone. Installs what the tests need when it is
# missing (node_modules, redis-server, python3, script, chromium), then type-checks, lints, builds,
# and runs the suite on Node 20 (the system Node when it is 20.x, else from the npm registry) and
# again on the current LTS (Node 22, from the npm registry). With CI set, nothing may be skipped.
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

# Runs the suite with the given Node command; test/node-version.test.ts fails the run unless the
# workers really are on that major version.
suite() {
  local major=$1
  shift
  step "tests on Node $("$@" --version) (expected: Node $major)"
  SLUICE_EXPECT_NODE_MAJOR=$major "$@" node_modules/vitest/vitest.mjs run
}

# Node 20: the oldest line package.json's engines accepts; the system Node when it is that line.
if [ "$(node -p 'process.versions.node.split(".")[0]')" = "20" ]; then
  suite 20 node
else
  suite 20 npx -y node@20
fi

# A minute of mixed load (resumes, cancels, stalls, background starts) on the gateway in its own
# process: every stream checked against the contract, and a verdict on growth after it drains.
step "soak (60 s, 100 streams)"
npm run soak --silent -- --seconds 60 --streams 100

if [ "${SLUICE_SKIP_NODE22:-0}" = "1" ]; then
  if [ -n "${CI:-}" ]; then
    echo "SLUICE_SKIP_NODE22=1 is refused when CI is set: CI runs the suite on Node 22 too" >&2
    exit 1
  fi
  echo "skipping the Node 22 run (SLUICE_SKIP_NODE22=1)" >&2
else
  suite 22 npx -y node@22
fi
