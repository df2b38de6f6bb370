#!/usr/bin/env bash
# Replays scripted, real requests against each example's served OpenAPI document and validates
# every request and every answer with openapi-core (scripts/openapi-replay.py): the answers must
# match the document, valid requests must pass it, deliberately invalid ones must not, and every
# operation must be answered with a success status at least once.
# By hand: scripts/openapi-replay.sh [EXAMPLE…]   (default: tasks rooms pets)
# Environment: WARD_BIN (default target/debug/ward: build it first), WARD_REPLAY_PORT (first port,
# default 18501); the Python tools come from scripts/python-tools.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=$(scripts/python-tools.sh)
ward="${WARD_BIN:-target/debug/ward}"
case "$ward" in /*) ;; *) ward="$PWD/$ward" ;; esac
if [ ! -x "$ward" ]; then
  echo "openapi-replay: no ward binary at $ward (cargo build --bin ward, or set WARD_BIN)" >&2
  exit 2
fi

examples=("$@")
if [ ${#examples[@]} -eq 0 ]; then examples=(tasks rooms pets); fi

# The callers each scenario uses: SUB:ROLES:ORG (ROLES and ORG may be empty).
callers() {
  case "$1" in
    tasks) echo "ann:member: bob:member: nobody::" ;;
    rooms) echo "ada:admin:acme mia:member:acme max:member:acme vic:viewer:acme" \
                "gus:admin:globex gum:member:globex nobody::acme drifter:admin:" ;;
    pets) echo "ann:member: ben:member: root:admin: nobody::" ;;
    *) echo "openapi-replay: no scenario for example '$1' (known: tasks rooms pets)" >&2; return 1 ;;
  esac
}

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

port=$((${WARD_REPLAY_PORT:-18501} - 1))
args=()
for example in "${examples[@]}"; do
  who=$(callers "$example")
  port=$((port + 1))
  dir="$work/$example"
  cp -r "examples/$example" "$dir"
  rm -rf "$dir/.ward"
  "$ward" serve "$dir" --listen "127.0.0.1:$port" > "$work/$example.log" 2>&1 &
  pids+=("$!")
  up=
  for _ in $(seq 1 100); do
    if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/healthz', timeout=1)" 2>/dev/null; then
      up=1
      break
    fi
    sleep 0.1
  done
  if [ -z "$up" ]; then
    echo "openapi-replay: examples/$example did not come up on port $port:" >&2
    cat "$work/$example.log" >&2
    exit 1
  fi
  : > "$work/$example.tokens"
  for caller in $who; do
    IFS=: read -r sub roles org <<< "$caller"
    flags=(--sub "$sub")
    if [ -n "$roles" ]; then flags+=(--roles "$roles"); fi
    if [ -n "$org" ]; then flags+=(--org "$org"); fi
    echo "$sub $("$ward" token "$dir" "${flags[@]}")" >> "$work/$example.tokens"
  done
  args+=("$example" "http://127.0.0.1:$port" "$work/$example.tokens")
done

"$venv/bin/python" scripts/openapi-replay.py "${args[@]}"
