#!/usr/bin/env bash
# Installs the system packages the tests use, from Debian, only when they are missing, and the
# local provider's runtime (node-llama-cpp, from npm; scripts/ensure-local-model-runtime.sh).
# redis-server and python3 are always needed. `script` (Debian's bsdutils; the CLI's terminal
# tests) and Chromium (scripts/ensure-chromium.sh; the browser tests) may be absent on a
# developer's machine, where the tests that need them are skipped with a warning. When CI is set
# they are required: a missing tool fails the run instead of letting it pass with fewer tests.
set -euo pipefail
cd "$(dirname "$0")/.."

needed=()
command -v redis-server >/dev/null 2>&1 || needed+=(redis-server)
command -v python3 >/dev/null 2>&1 || needed+=(python3)
# openssl makes the throwaway certificate of the HTTPS upstream tests.
command -v openssl >/dev/null 2>&1 || needed+=(openssl)
wanted=()
command -v script >/dev/null 2>&1 || wanted+=(bsdutils)

if [ -n "${CI:-}" ] || [ "$(id -u)" = "0" ]; then
  needed+=("${wanted[@]}")
  wanted=()
fi
if [ ${#needed[@]} -gt 0 ]; then
  if [ "$(id -u)" != "0" ]; then
    echo "missing ${needed[*]}: install them (apt-get install ${needed[*]}) or run as root" >&2
    exit 1
  fi
  echo "installing ${needed[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${needed[@]}" >/dev/null
fi
if [ ${#wanted[@]} -gt 0 ]; then
  echo "not installed (that needs root): ${wanted[*]}; the tests that need them will be skipped" >&2
fi
if [ -f scripts/ensure-chromium.sh ]; then bash scripts/ensure-chromium.sh; fi
# Not a system package, but installed the same way: only when missing (the local model tests).
bash scripts/ensure-local-model-runtime.sh
echo "redis-server: $(redis-server --version | head -c 60)"
echo "python3: $(python3 --version)"
echo "script: $(command -v script || echo missing)"
