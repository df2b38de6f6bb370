#!/usr/bin/env bash
# Proof that the tests bite: runs a test command once per planted security bug (ward-runtime's
# `mutations` feature, runtime/src/mutation.rs) and prints which tests caught each one, as a
# markdown table. See docs/conformance.md, "Proof that it bites".
#
# Usage: conformance-tests/mutations.sh [-t SECONDS] [-o NAME[,NAME…]] [-- TEST COMMAND…]
#   -t SECONDS   time limit per mutation run (default 600; a run that times out is reported)
#   -o NAMES     only these mutations (comma-separated kebab-case names)
#   TEST COMMAND default: cargo test -p ward-runtime --features mutations --no-fail-fast
#                It must build ward-runtime with the `mutations` feature (for another package:
#                `--features ward-runtime/mutations`); each run gets WARD_MUTATION=<name>.
#
# The list of mutations is not kept here: it is read from `Mutation::ALL` through the
# `mutation::tests::list` unit test, so the script cannot drift from the code.
# Exit status: 0 when every mutation was caught, 1 when one survived (or timed out), 2 on setup
# errors (the command fails without any mutation, or the list cannot be read).
set -uo pipefail

limit=600
only=""
while [ $# -gt 0 ]; do
    case "$1" in
        -t) limit="$2"; shift 2 ;;
        -o) only="$2"; shift 2 ;;
        --) shift; break ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
if [ $# -gt 0 ]; then
    cmd=("$@")
else
    cmd=(cargo test -p ward-runtime --features mutations --no-fail-fast)
fi

cd "$(dirname "$0")/.." || exit 2
unset WARD_MUTATION
log_dir="$(mktemp -d "${TMPDIR:-/tmp}/ward-mutations.XXXXXX")"

# The list: MUTATION<TAB>name<TAB>layer<TAB>description, one per line.
list="$(cargo test -q -p ward-runtime --features mutations --lib mutation::tests::list \
    -- --exact --nocapture 2>"$log_dir/list.err" | grep -P '^MUTATION\t')"
if [ -z "$list" ]; then
    echo "cannot read the mutation list (see $log_dir/list.err)" >&2
    exit 2
fi
if [ -n "$only" ]; then
    for n in ${only//,/ }; do
        if ! printf '%s\n' "$list" | cut -f2 | grep -qxF "$n"; then
            echo "unknown mutation \`$n\`" >&2
            exit 2
        fi
    done
fi

# Which tests failed in a cargo test log: `binary::test`, the binary named by its `Running` line.
failures() {
    awk '
        /^ *Running / {
            bin = $2
            if (bin == "unittests") bin = $3
            sub(/^.*\//, "", bin); sub(/\.rs$/, "", bin)
            if ($2 == "unittests") bin = "lib"
        }
        /^ *Doc-tests / { bin = "doc" }
        /^test .* \.\.\. FAILED$/ { print bin "::" $2 }
    ' "$1" | sort -u
}

# Without any mutation the command must pass, or every mutation would look caught. This run
# also builds everything, so the timed runs below only test.
echo "baseline: ${cmd[*]}" >&2
if ! timeout "$limit" "${cmd[@]}" >"$log_dir/baseline.log" 2>&1; then
    echo "the test command fails without any mutation; fix that first:" >&2
    failures "$log_dir/baseline.log" | sed 's/^/  /' >&2
    echo "(log: $log_dir/baseline.log)" >&2
    exit 2
fi

survived=0
rows=()
while IFS=$'\t' read -r _ name layer description; do
    if [ -n "$only" ] && ! [[ ",$only," == *",$name,"* ]]; then
        continue
    fi
    echo "mutation $name …" >&2
    log="$log_dir/$name.log"
    WARD_MUTATION="$name" timeout "$limit" "${cmd[@]}" >"$log" 2>&1
    status=$?
    mapfile -t failed < <(failures "$log")
    if [ "$status" -eq 124 ]; then
        caught="**TIMEOUT** after ${limit}s"
        survived=1
    elif [ "$status" -eq 0 ]; then
        caught="**not caught**"
        survived=1
    elif [ "${#failed[@]}" -eq 0 ]; then
        caught="command failed (exit $status, no failing test named; see log)"
    else
        shown=$(printf '`%s`, ' "${failed[@]:0:4}")
        shown="${shown%, }"
        if [ "${#failed[@]}" -gt 4 ]; then
            shown="$shown (+$((${#failed[@]} - 4)) more)"
        fi
        caught="(${#failed[@]}) $shown"
    fi
    rows+=("| \`$name\` | $layer | $description | $caught |")
done <<<"$list"

echo "| mutation | layer | description | caught by |"
echo "|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo >&2
echo "logs: $log_dir" >&2
exit "$survived"
