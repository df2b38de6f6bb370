#!/usr/bin/env bash
# Validates each example's OpenAPI document (openapi-spec-validator) and fuzzes its running API
# from that document (schemathesis): no answer may be a 5xx, and every answer must match the
# document. Runs in CI after the tests (.ci/run); by hand: scripts/fuzz-openapi.sh [EXAMPLE…]
# Environment: FUZZ_EXAMPLES (schemathesis --max-examples per operation, default 20).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=$(scripts/python-tools.sh)
cargo build --quiet --locked --bin ward
ward="$PWD/target/debug/ward"

examples=("$@")
if [ ${#examples[@]} -eq 0 ]; then examples=(tasks rooms pets); fi

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# Streams never end, so schemathesis cannot fuzz them (the runtime's tests cover realtime): the
# realtime example's document is validated only.
"$ward" openapi examples/board > "$work/board.openapi.json"
"$venv/bin/openapi-spec-validator" "$work/board.openapi.json"

port=18400
for example in "${examples[@]}"; do
  port=$((port + 1))
  cp -r "examples/$example" "$work/$example"
  rm -rf "$work/$example/.ward"
  "$ward" openapi "$work/$example" > "$work/$example.openapi.json"
  "$venv/bin/openapi-spec-validator" "$work/$example.openapi.json"

  "$ward" serve "$work/$example" --listen "127.0.0.1:$port" > "$work/$example.log" 2>&1 &
  pids+=("$!")
  for _ in $(seq 1 100); do
    python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/healthz', timeout=1)" 2>/dev/null && break
    sleep 0.1
  done
  # The most powerful declared role, in an organisation: the widest surface to fuzz.
  role=$("$ward" explain "$work/$example" --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["callers"][-1])')
  token=$("$ward" token --project "$work/$example" --sub fuzzer --roles "$role" --org acme)
  echo "== schemathesis: examples/$example as $role"
  "$venv/bin/schemathesis" run "http://127.0.0.1:$port/openapi.json" \
    -H "Authorization: Bearer $token" \
    --checks not_a_server_error,status_code_conformance,response_schema_conformance \
    --max-examples "${FUZZ_EXAMPLES:-20}" \
    --no-color
done
