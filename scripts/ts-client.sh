#!/usr/bin/env bash
# Checks that a TypeScript client generated from ward's served OpenAPI document works without casts:
# serves a copy of examples/tasks, generates types from its /openapi.json (openapi-typescript),
# compiles scripts/ts-client/tasks.ts (openapi-fetch) with `tsc --strict`, runs it against the
# server as two users, and counts casts in tasks.ts (any is a failure).
# A compile error means tasks.ts or the document is wrong: the document must not be worked around.
#
# By hand: scripts/ts-client.sh        (needs node ≥ 20 and npm; installs scripts/ts-client/node_modules)
# Environment: WARD_BIN (default target/debug/ward), WARD_TS_PORT (default 18601).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
client="$repo/scripts/ts-client"

ward="${WARD_BIN:-target/debug/ward}"
case "$ward" in /*) ;; *) ward="$repo/$ward" ;; esac
if [ ! -x "$ward" ]; then
  echo "ts-client: no ward binary at $ward (build it, or set WARD_BIN)" >&2
  exit 1
fi
port="${WARD_TS_PORT:-18601}"
url="http://127.0.0.1:$port"

# Casts: `as` (but `as const`), `<T>expr`, non-null `x!`, `any`, and `@ts-` comments. Comments are
# dropped first (a `//` after a space or at the start of a line), except for `// @ts-…` directives.
count_casts() {
  local code n=0 found
  code=$(sed -E 's#(^|[[:space:]])//.*$##' "$1")
  for pattern in \
    '\bas\s+(?!const\b)' \
    '(^|[=(,:?]|\breturn)\s*<[A-Za-z_][^<>]*>\s*[A-Za-z_(\[{]' \
    '[A-Za-z0-9_)\]]!(?!=)' \
    '\bany\b'; do
    found=$(printf '%s\n' "$code" | grep -oP "$pattern" | wc -l || true)
    n=$((n + found))
  done
  found=$(grep -oP '(//|/\*)\s*@ts-' "$1" | wc -l || true)
  echo $((n + found))
}

# The counter must see casts where there are some, or a broken pattern would pass everything.
probe=$(mktemp)
cat > "$probe" <<'EOF'
const a = b as Foo;              // 1
const c = d!.e;                  // 2
const f: any = g;                // 3
const h = <Bar>i;                // 4
// @ts-expect-error              // 5
const j = { k: 1 } as const;     // not a cast
if (l !== m && !n) {}            // not a cast
EOF
probe_count=$(count_casts "$probe")
rm -f "$probe"
if [ "$probe_count" != 5 ]; then
  echo "ts-client: the cast counter found $probe_count casts in its probe, not 5" >&2
  exit 1
fi

if [ ! -d "$client/node_modules" ]; then
  echo "== npm ci"
  (cd "$client" && npm ci --no-audit --no-fund --loglevel=error)
fi

work=$(mktemp -d)
server=""
cleanup() {
  if [ -n "$server" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

if curl -sf -o /dev/null "$url/healthz"; then
  echo "ts-client: something already answers on $url" >&2
  exit 1
fi
cp -r examples/tasks "$work/tasks"
rm -rf "$work/tasks/.ward"
"$ward" serve "$work/tasks" --listen "127.0.0.1:$port" > "$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
  if curl -sf -o /dev/null "$url/healthz"; then break; fi
  if ! kill -0 "$server" 2>/dev/null; then
    echo "ts-client: ward serve exited:" >&2
    cat "$work/serve.log" >&2
    exit 1
  fi
  sleep 0.1
done
curl -sf -o /dev/null "$url/healthz" || { echo "ts-client: no /healthz at $url" >&2; exit 1; }

echo "== openapi-typescript"
mkdir -p "$client/generated"
curl -sf "$url/openapi.json" -o "$client/generated/openapi.json"
(cd "$client" && npx --no-install openapi-typescript generated/openapi.json -o generated/tasks.d.ts)

echo "== tsc --strict"
rm -rf "$client/out"
if ! (cd "$client" && npx --no-install tsc -p . --pretty false); then
  echo "ts-client: tasks.ts does not compile against the served document" >&2
  exit 1
fi

echo "== node out/tasks.js"
alice=$("$ward" token "$work/tasks" --sub alice --roles member)
bob=$("$ward" token "$work/tasks" --sub bob --roles member)
(cd "$client" && WARD_URL="$url" ALICE="$alice" BOB="$bob" node out/tasks.js)

casts=$(count_casts "$client/tasks.ts")
echo "casts: $casts"
if [ "$casts" != 0 ]; then
  echo "ts-client: tasks.ts has casts" >&2
  exit 1
fi
echo "ts-client: ok"
