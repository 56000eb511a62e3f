#!/usr/bin/env bash
# Installs Debian's Chromium for the browser tests (test/browser/), only when it is missing.
# `npx playwright install` cannot download browsers on our machines; playwright-core drives
# the Debian package at /usr/bin/chromium instead.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
  echo "ensure-chromium: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM") already installed"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-chromium: $CHROMIUM is missing and installing it needs root (apt-get install chromium)" >&2
  if [ -n "${CI:-}" ]; then
    # CI must not pass with the browser tests skipped.
    echo "ensure-chromium: CI is set, so this fails the run" >&2
    exit 1
  fi
  echo "ensure-chromium: the browser tests will be skipped" >&2
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y chromium fonts-liberation fonts-dejavu-core
echo "ensure-chromium: installed $("$CHROMIUM" --version 2>/dev/null)"
