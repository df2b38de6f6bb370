#!/usr/bin/env bash
# Runs a browser check in headless chromium (selenium): scripts/browser.sh browser_realtime.py
# (the board example's live page) or browser_console.py (the dev console).
# Installs Debian's chromium and chromium-driver when missing, and selenium in a venv.
# Environment: WARD_BIN (default target/debug/ward), WARD_BROWSER_VENV.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver
fi
venv="${WARD_BROWSER_VENV:-target/browser-venv}"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import selenium' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'selenium>=4.20,<5'
fi
exec "$venv/bin/python" "scripts/${1:?which check: browser_realtime.py or browser_console.py}"
