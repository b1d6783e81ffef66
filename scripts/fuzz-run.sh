#!/usr/bin/env bash
# Runs every libFuzzer target of a -DKEYWARD_FUZZ=ON build dir for SECONDS
# each (make fuzz), from a fresh corpus seeded by the target's own seeds.
# Fails on any crash, leak, timeout or out-of-memory, printing the input
# that caused it; leaves no corpus, crash-* or profile files behind unless
# PROFILE_DIR is given (scripts/fuzz-coverage.sh), where each target's raw
# coverage profiles go to PROFILE_DIR/<target>/.
#   scripts/fuzz-run.sh BUILD_DIR [SECONDS] [PROFILE_DIR]
set -euo pipefail
build=$(cd "${1:?usage: $0 BUILD_DIR [SECONDS] [PROFILE_DIR]}" && pwd)
seconds=${2:-60}
profile_dir=${3:-}
src=$(cd "$(dirname "$0")/.." && pwd)
ulimit -c 0

mapfile -t targets < <(find "$build/tests/fuzz" -maxdepth 1 -type f -name '*_libfuzzer' -perm -u+x | sort)
if [ ${#targets[@]} -eq 0 ]; then
    echo "fuzz-run: no *_libfuzzer programs in $build/tests/fuzz (configure with -DKEYWARD_FUZZ=ON)" >&2
    exit 1
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/kw-fuzz-XXXXXX")
trap 'rm -rf "$work"' EXIT
failed=0
passed=0
for bin in "${targets[@]}"; do
    name=$(basename "$bin" _libfuzzer)
    dir="$work/$name"
    mkdir -p "$dir/corpus" "$dir/artifacts"
    profiles=/dev/null
    if [ -n "$profile_dir" ]; then
        mkdir -p "$profile_dir/$name"
        profiles="$profile_dir/$name/%p.profraw"
    fi
    # -timeout: one input taking 10 s is a hang; -rss_limit_mb: a runaway
    # allocation.  ASan's leak check is on: a leak fails the run.
    rc=0
    (cd "$dir" && LLVM_PROFILE_FILE="$profiles" KW_FUZZ_SEEDS="$src/tests/fuzz/seeds" \
        KW_FUZZ_WRITE_SEEDS="$dir/corpus" \
        "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$dir/artifacts/" -print_final_stats=1 "$dir/corpus" \
        >"$dir/log" 2>&1) || rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$dir/log" | tail -1 || true)
    if [ $rc -ne 0 ] || ls "$dir/artifacts" | grep -q .; then
        echo "FAIL $name (exit $rc)"
        tail -40 "$dir/log"
        for a in "$dir"/artifacts/*; do
            [ -f "$a" ] || continue
            echo "--- $(basename "$a") ($(wc -c <"$a") bytes):"
            od -A d -t x1z "$a" | head -20
        done
        failed=$((failed + 1))
    else
        echo "ok   $name: ${runs:-?} inputs in ${seconds} s, ${cov:-cov: ?} edges, corpus $(ls "$dir/corpus" | wc -l)"
        passed=$((passed + 1))
    fi
done
echo "fuzz-run: $passed passed, $failed failed"
[ $failed -eq 0 ]
