#!/usr/bin/env bash
# Runs a browser check in headless chromium (selenium): scripts/browser.sh browser_realtime.py
# (the board example's live page) or browser_console.py (the dev console).
# Installs Debian's chromium and chromium-driver when missing, and selenium (scripts/python-tools.sh).
# Environment: WARD_BIN (default target/debug/ward).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver
fi
venv=$(scripts/python-tools.sh)
exec "$venv/bin/python" "scripts/${1:?which check: browser_realtime.py or browser_console.py}"
