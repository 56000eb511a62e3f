#!/usr/bin/env bash
# Installs node-llama-cpp, the runtime of the `local` provider, for the tests and the demo when
# it is missing. package.json names it only as an optional peer dependency, which npm never
# installs by itself: its full install pulls every GPU build (about 730 MB), and the gateway runs
# without it. Here only the CPU build for this platform is installed (about 80 MB), into a folder
# of its own inside node_modules, then linked as node_modules/node-llama-cpp.
# `npm install --omit=optional` in the project itself cannot be used: it would also remove the
# platform binaries of Biome and the test runner.
#
# Without network access the install fails: on a developer's machine the local-model tests are then
# skipped with a warning; when CI is set they fail (see test/helpers/system.ts).
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=3.21.1
RUNTIME=node_modules/.sluice-local-runtime
LINK=node_modules/node-llama-cpp

version_at() {
  node -e "try { console.log(require('./$1/package.json').version) } catch { console.log('') }"
}
installed_version() { version_at "$LINK"; }

# The prebuilt CPU binding's package for this machine, as node-llama-cpp names them.
platform_package() {
  node -e "
    const names = { 'linux-x64': 'linux-x64', 'linux-arm64': 'linux-arm64', 'darwin-arm64': 'mac-arm64-metal',
      'darwin-x64': 'mac-x64', 'win32-x64': 'win-x64', 'win32-arm64': 'win-arm64' };
    console.log(names[process.platform + '-' + process.arch] ?? '');"
}

if [ "$(installed_version)" = "$VERSION" ]; then
  echo "node-llama-cpp: $VERSION"
  exit 0
fi

# A plain `npm install` in the project removes the link (the package is not in its tree) but
# leaves the folder: link it again rather than download it again.
if [ "$(version_at "$RUNTIME/node_modules/node-llama-cpp")" = "$VERSION" ]; then
  rm -rf "$LINK"
  ln -s .sluice-local-runtime/node_modules/node-llama-cpp "$LINK"
  echo "node-llama-cpp: $(installed_version) (linked again)"
  exit 0
fi

if [ ! -d node_modules ]; then
  echo "node_modules is missing: run npm install first" >&2
  exit 1
fi

platform=$(platform_package)
if [ -z "$platform" ]; then
  echo "node-llama-cpp: no prebuilt binding for $(node -p 'process.platform + "-" + process.arch'); the local provider stays unavailable" >&2
  exit 0
fi

echo "installing node-llama-cpp $VERSION (CPU build, @node-llama-cpp/$platform) into $RUNTIME"
rm -rf "$RUNTIME"
mkdir -p "$RUNTIME"
# A package.json of its own, so npm treats the folder as its project and leaves the repository's alone.
printf '{"private": true, "description": "node-llama-cpp for the local provider (scripts/ensure-local-model-runtime.sh)"}\n' \
  >"$RUNTIME/package.json"
# --ignore-scripts: node-llama-cpp's postinstall would offer to build llama.cpp from source; the
# prebuilt binding needs no build, and nothing may be downloaded beyond the npm registry.
if ! npm install --prefix "$RUNTIME" --omit=optional --ignore-scripts --no-audit --no-fund --no-save \
  --loglevel=error "node-llama-cpp@$VERSION" "@node-llama-cpp/$platform@$VERSION"; then
  rm -rf "$RUNTIME"
  echo "node-llama-cpp could not be installed; the local provider stays unavailable" >&2
  exit 0
fi
rm -rf "$LINK"
# Node resolves the link to its real path, so node-llama-cpp finds its own dependencies (and the
# binding) in $RUNTIME/node_modules, and nothing of it mixes with the project's tree.
ln -s .sluice-local-runtime/node_modules/node-llama-cpp "$LINK"
echo "node-llama-cpp: $(installed_version)"
