#!/usr/bin/env bash
# Checks that every tracked .c/.h file is as clang-format (.clang-format at the
# root) would write it; exits 1 naming the files that are not.  With --fix it
# reformats them in place instead (`make format`).
#   scripts/check-format.sh [--fix]
# CLANG_FORMAT=clang-format-14 picks another binary.  The style is pinned to
# clang-format 14 (Debian 12's): other major versions may lay out a few
# constructs differently, so CI and `make format` should use the same one.
set -euo pipefail
cd "$(dirname "$0")/.."
CLANG_FORMAT=${CLANG_FORMAT:-clang-format}
fix=0
if [ "${1:-}" = "--fix" ]; then
    fix=1
elif [ $# -gt 0 ]; then
    echo "usage: $0 [--fix]" >&2
    exit 2
fi
command -v "$CLANG_FORMAT" >/dev/null || { echo "check-format: $CLANG_FORMAT not found" >&2; exit 2; }

# Every tracked C file is keyward's own (Mbed TLS is fetched, never committed);
# a file that must be left alone would be excluded here, by path.
mapfile -t files < <(git ls-files -- '*.c' '*.h')
if [ ${#files[@]} -eq 0 ]; then
    echo "check-format: no tracked .c/.h files (not a git work tree?)" >&2
    exit 2
fi

if [ $fix -eq 1 ]; then
    printf '%s\0' "${files[@]}" | xargs -0 -n 16 -P 2 "$CLANG_FORMAT" -i --style=file
    echo "check-format: reformatted ${#files[@]} files"
    exit 0
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
# --dry-run --Werror: one "FILE:LINE:COL: error: code should be clang-formatted" per place.
printf '%s\0' "${files[@]}" |
    xargs -0 -n 16 -P 2 "$CLANG_FORMAT" --dry-run --Werror --style=file >"$log" 2>&1 || true
mapfile -t bad < <(sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: error: code should be clang-formatted.*/\1/p' "$log" | sort -u)
if [ ${#bad[@]} -gt 0 ]; then
    echo "check-format: ${#bad[@]} of ${#files[@]} files are not clang-formatted (make format fixes them):"
    printf '  %s\n' "${bad[@]}"
    exit 1
fi
# Anything else clang-format said (an unreadable .clang-format, a crash) is a failure too.
if grep -q . "$log"; then
    cat "$log" >&2
    exit 2
fi
echo "check-format: ${#files[@]} files clang-formatted"
