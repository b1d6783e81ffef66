#!/usr/bin/env bash
# Static analysis of keyward's own C sources: cppcheck (Debian 12's 2.10) over
# the compile database of the main build, so each file is analysed with the
# include paths and -D flags it is really compiled with.
#
#   scripts/static-analysis.sh [BUILD_DIR]        (default: build; `make analyse`)
#
# Configuration (keep it stated here; CI's "zero findings" means at this one):
#   cppcheck --enable=warning,performance,portability --std=c11 --inline-suppr
#            -DCHAR_BIT=8 --suppress=missingIncludeSystem
#   * severities checked: error (always on), warning, performance, portability.
#     Not checked: style (variableScope, redundantAssignment, unreadVariable...:
#     37 findings today, mostly taste) and information.
#   * files: every compile_commands.json entry outside BUILD_DIR (src/, tools/,
#     emulator/, tests/, bench/, examples/), each once; Mbed TLS's sources
#     under BUILD_DIR are left out, and its headers are read but not reported
#     (--config-exclude).  firmware/ is cross-compiled outside this database.
#   * system headers are not read (missingIncludeSystem), so CHAR_BIT is given:
#     without it Mbed TLS's check_config.h stops every file at its #error.
#   * false positives are suppressed where they occur, with a reason:
#       /* cppcheck-suppress ID ; why */   on the line above.
# Any finding exits 1 (cppcheck --error-exitcode); 2 for a usage problem.
# Takes about 1.5 min on 2 cores (70 files).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
CPPCHECK=${CPPCHECK:-cppcheck}
command -v "$CPPCHECK" >/dev/null || { echo "static-analysis: $CPPCHECK not found" >&2; exit 2; }
[ -f "$BUILD/CMakeCache.txt" ] || { echo "static-analysis: $BUILD is not configured (make build)" >&2; exit 2; }
if [ ! -f "$BUILD/compile_commands.json" ]; then
    # The cache keeps this on for later configures; nothing is rebuilt.
    cmake -S . -B "$BUILD" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null
fi

root=$(pwd -P)
build=$(cd "$BUILD" && pwd -P)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# One entry per source file, keyward's own only.
python3 - "$build/compile_commands.json" "$build" "$work/compile_commands.json" <<'PY'
import json, os, sys
db, build, out = sys.argv[1:4]
seen, keep = set(), []
for e in json.load(open(db)):
    f = os.path.realpath(os.path.join(e["directory"], e["file"]))
    if f.startswith(build + os.sep) or f in seen:
        continue
    seen.add(f)
    keep.append(e)
json.dump(keep, open(out, "w"), indent=1)
print(f"static-analysis: {len(keep)} files", file=sys.stderr)
PY

t0=$SECONDS
status=0
"$CPPCHECK" --project="$work/compile_commands.json" --std=c11 \
    --enable=warning,performance,portability --inline-suppr \
    --suppress=missingIncludeSystem -DCHAR_BIT=8 --config-exclude="$build" \
    -j "${JOBS:-2}" --quiet --error-exitcode=1 \
    --template='{file}:{line}: {severity}: {message} [{id}]' 2>"$work/findings" || status=$?
sed "s|^$root/||" "$work/findings"
if [ $status -ne 0 ] || [ -s "$work/findings" ]; then
    echo "static-analysis: $(grep -c . "$work/findings") finding(s) (cppcheck, $((SECONDS - t0)) s)"
    exit 1
fi
echo "static-analysis: no findings (cppcheck, $((SECONDS - t0)) s)"
