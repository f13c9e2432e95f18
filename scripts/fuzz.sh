#!/usr/bin/env bash
# Fuzzes remedy's parsers of untrusted input with cargo-fuzz (libFuzzer) on
# the stable toolchain, and reports executions and crashes per target.
#
#   scripts/fuzz.sh short                       bounded run for CI (about 2.5 min of fuzzing)
#   scripts/fuzz.sh long [SECONDS_PER_TARGET]   the long campaign (default 240 s per target)
#
# FUZZ_ARGS (optional) adds libFuzzer flags to every run, e.g.
# FUZZ_ARGS="-max_len=65536".
#
# Installs cargo-fuzz if missing, builds the targets in fuzz/ (release, with
# debug assertions, `--sanitizer none`: no nightly needed), seeds each
# target's corpus (fuzz/corpus/<target>, kept between runs) from the
# repository's corpora and fuzz/seeds/, then runs the targets one after the
# other. Exits non-zero if any target crashes, hangs (a unit running longer
# than 10 s), runs out of memory or fails to run. Crash inputs land in
# fuzz/artifacts/<target>/, libFuzzer's logs in fuzz/logs/<target>.log.
# See docs/fuzzing.md.

set -euo pipefail

TARGETS=(playbook csv expr graph_error graph_batch graph_token)

usage() {
    echo "usage: $0 short | long [SECONDS_PER_TARGET]" >&2
    exit 2
}

mode=${1:-}
case "$mode" in
short) seconds=25 ;;
long) seconds=${2:-240} ;;
*) usage ;;
esac
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || usage

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "==> installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

# Release build with debug assertions (so integer overflow panics too);
# no sanitizer, so the stable toolchain suffices.
fuzz_flags=(--sanitizer none --debug-assertions)

echo "==> building the fuzz targets"
cargo fuzz build "${fuzz_flags[@]}"

# Copies FILE into the corpus of TARGET under a stable name, with an
# optional prefix prepended to its bytes (the csv target's format byte).
seed() {
    local target=$1 file=$2 prefix=${3:-}
    local dir="fuzz/corpus/$target"
    local name
    name="seed-$(printf '%s' "$prefix$file" | tr -c 'A-Za-z0-9._-' '_')"
    mkdir -p "$dir"
    { printf '%s' "$prefix"; cat "$file"; } >"$dir/$name"
}

seed_all() {
    local f
    for f in tests/corpus/playbooks/ok/*.yaml tests/corpus/playbooks/err/*.yaml \
        workflows/*.yaml tests/corpus/csv/playbook.yaml; do
        seed playbook "$f"
    done
    # The csv target's first byte picks a prefix: '0' none, '1' a bulk
    # template header, '2' an Entra export header.
    for f in tests/corpus/csv/ok/*.csv tests/corpus/csv/err/*.csv examples/*.csv; do
        seed csv "$f" 0
    done
    local t
    for t in "${TARGETS[@]}"; do
        mkdir -p "fuzz/corpus/$t"
        if [[ -d "fuzz/seeds/$t" ]]; then
            for f in "fuzz/seeds/$t"/*; do
                seed "$t" "$f"
            done
        fi
    done
}

seed_all
mkdir -p fuzz/logs

declare -A execs crashes kind
failed=0
read -r -a extra <<<"${FUZZ_ARGS:-}"
for t in "${TARGETS[@]}"; do
    echo "==> fuzzing $t for ${seconds}s"
    log="fuzz/logs/$t.log"
    status=0
    cargo fuzz run "${fuzz_flags[@]}" "$t" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 "${extra[@]}" >"$log" 2>&1 || status=$?

    # Executions: libFuzzer's final statistics, else its `#N DONE` line,
    # else (after a crash) the last `#N` progress line.
    n=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
    [[ -n "$n" ]] || n=$(sed -n 's/^#\([0-9]*\)[[:space:]]*DONE.*/\1/p' "$log" | tail -n 1)
    [[ -n "$n" ]] || n=$(sed -n 's/^#\([0-9]*\)[[:space:]].*/\1/p' "$log" | tail -n 1)
    execs[$t]=${n:-0}

    # libFuzzer stops at the first crash, hang or OOM, so a target has 0
    # or 1; its SUMMARY line says which (a Rust panic is a "deadly signal").
    crashes[$t]=0
    kind[$t]=""
    if ((status != 0)); then
        failed=1
        crashes[$t]=1
        kind[$t]=$(sed -n 's/^SUMMARY: libFuzzer: \(.*\)/\1/p' "$log" | head -n 1)
        [[ -n "${kind[$t]}" ]] || kind[$t]="exit $status"
        echo "    FAILED (${kind[$t]}); see $log and fuzz/artifacts/$t/" >&2
        grep -E 'panicked at|ERROR: libFuzzer' "$log" | head -n 3 >&2 || true
    fi
done

echo
printf '%-12s %15s %9s %8s  %s\n' target executions seconds crashes kind
total_execs=0
total_crashes=0
for t in "${TARGETS[@]}"; do
    printf '%-12s %15s %9s %8s  %s\n' "$t" "${execs[$t]}" "$seconds" "${crashes[$t]}" "${kind[$t]}"
    total_execs=$((total_execs + execs[$t]))
    total_crashes=$((total_crashes + crashes[$t]))
done
printf '%-12s %15s %9s %8s\n' total "$total_execs" "$((seconds * ${#TARGETS[@]}))" "$total_crashes"

if ((failed)); then
    echo "fuzzing found problems: reproduce with \`cargo fuzz run --sanitizer none <target> fuzz/artifacts/<target>/<file>\`" >&2
    exit 1
fi
