#!/usr/bin/env bash
# Makes the one venv every Python tool of the scripts and CI runs from (moto, schemathesis,
# openapi-core, selenium; scripts/python-tools.txt) and prints its path. Installs with uv, which
# resolves and unpacks them in seconds where pip took minutes per tool on a fresh machine; falls
# back to pip when uv cannot be had. Does nothing when the venv already holds this list.
# Environment: WARD_PY_VENV (default target/py-venv).
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${WARD_PY_VENV:-target/py-venv}"
list=scripts/python-tools.txt
stamp="$venv/ward-python-tools.txt"
if [ -x "$venv/bin/python" ] && cmp -s "$list" "$stamp"; then
  echo "$venv"
  exit 0
fi

{
  python3 -m venv "$venv"
  pip=("$venv/bin/pip" --quiet --disable-pip-version-check)
  if "${pip[@]}" install 'uv>=0.5,<1'; then
    "$venv/bin/uv" pip install --quiet --python "$venv/bin/python" -r "$list"
  else
    "${pip[@]}" install -r "$list"
  fi
  cp "$list" "$stamp"
} >&2
echo "$venv"
