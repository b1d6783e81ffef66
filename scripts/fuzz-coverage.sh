#!/usr/bin/env bash
# Line coverage of each parser file by the fuzzer that targets it: runs
# every libFuzzer target of a -DKEYWARD_FUZZ=ON build dir for SECONDS
# (scripts/fuzz-run.sh, fresh corpus from the targets' seeds), merges each
# target's profiles (llvm-profdata) and prints, per target and parser file,
# the line coverage llvm-cov measures.  Fails when a file is under MIN %.
#   scripts/fuzz-coverage.sh [BUILD_DIR [SECONDS [MIN]]]   (build-fuzz 60 80)
# The parser files are found by the functions they define, so the table
# follows them when a file is split.
set -euo pipefail
build=${1:-build-fuzz}
seconds=${2:-60}
min=${3:-80}
src=$(cd "$(dirname "$0")/.." && pwd)
pick() { command -v "$1-14" || command -v "$1"; }
profdata=$(pick llvm-profdata)
llvmcov=$(pick llvm-cov)

# target: functions whose defining files it must cover
declare -A wants=(
    [fuzz_keybuf]="keyward_keybuf_parse"
    [fuzz_keyref]="keyward_keyref_redact keyward_keyref_strip"
    [fuzz_atecc608]="keyward_atecc608_parse keyward_atecc608_command"
    [fuzz_tpm2]="kw_tpm2_keyfile_parse kw_tpm2_ref_parse kw_tpm2_keyref_parse"
)
files_of() {
    for fn in $1; do
        grep -rlE "^[A-Za-z_][A-Za-z0-9_ *]*[ *]$fn\(" "$src/src" --include='*.c' || true
    done | sort -u
}

prof=$(mktemp -d "${TMPDIR:-/tmp}/kw-fuzzcov-XXXXXX")
trap 'rm -rf "$prof"' EXIT
"$src/scripts/fuzz-run.sh" "$build" "$seconds" "$prof" >&2

low=0
printf '%-15s %-38s %7s %9s\n' target "parser file" lines covered
for target in fuzz_keybuf fuzz_keyref fuzz_atecc608 fuzz_tpm2; do
    bin="$build/tests/fuzz/${target}_libfuzzer"
    if [ ! -x "$bin" ]; then
        printf '%-15s %s\n' "$target" "(not built: its backend is off)"
        continue
    fi
    "$profdata" merge -sparse "$prof/$target"/*.profraw -o "$prof/$target.profdata"
    mapfile -t files < <(files_of "${wants[$target]}")
    for f in "${files[@]}"; do
        # Matched by the path's tail: with ccache's CCACHE_BASEDIR the
        # coverage mapping holds relative paths.
        read -r count covered pct < <("$llvmcov" export -summary-only -format=text "$bin" \
            -instr-profile="$prof/$target.profdata" | python3 -c '
import json, sys
want = sys.argv[1]
d = [f for f in json.load(sys.stdin)["data"][0]["files"] if f["filename"].endswith("/" + want)]
l = d[0]["summary"]["lines"] if d else {"count": 0, "covered": 0, "percent": 0}
print(l["count"], l["covered"], "%.1f" % l["percent"])' "${f#"$src"/}")
        printf '%-15s %-38s %7s %8s%%\n' "$target" "${f#"$src"/}" "$count" "$pct"
        if python3 -c "import sys; sys.exit(0 if float('$pct') >= $min else 1)"; then :; else
            low=$((low + 1))
        fi
    done
done
if [ $low -ne 0 ]; then
    echo "fuzz-coverage: $low parser file(s) under $min % line coverage" >&2
    exit 1
fi
