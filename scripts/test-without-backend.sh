#!/usr/bin/env bash
# scripts/test-without-backend.sh NAME BUILD_DIR [JOBS]  (make test-without-backend BACKEND=NAME)
#
# The backend contract's promise: removing a backend folder, and nothing else, leaves
# configure, build and ctest green for the rest.  Copies the tracked tree into a scratch
# folder (BUILD_DIR's sibling build-without-NAME, so ccache's relative paths match the
# main build's), deletes src/se/NAME, configures against BUILD_DIR's Mbed TLS source
# (nothing fetched; no firmware, as in test-atecc608-only), builds, runs the whole ctest
# suite, and checks that a KEYREF of the removed backend is refused naming its scheme.
# The scratch folder is removed at the end (KEEP_SCRATCH=1 keeps it).
set -euo pipefail
ulimit -c 0
name=${1:?usage: test-without-backend.sh NAME BUILD_DIR [JOBS]}
build=$(cd "${2:?usage: test-without-backend.sh NAME BUILD_DIR [JOBS]}" && pwd)
jobs=${3:-2}
src=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
die() { echo "test-without-backend: $*" >&2; exit 1; }
[ -f "$src/src/se/$name/CMakeLists.txt" ] || die "no backend folder src/se/$name"
[ -d "$build/mbedtls-src" ] || die "$build has no hooked Mbed TLS copy (make build first)"
scheme=$(sed -n 's/.*KEY_SCHEMES \([a-z0-9]*\).*/\1/p' "$src/src/se/$name/CMakeLists.txt" | head -1)
[ -n "$scheme" ] || die "src/se/$name declares no KEY_SCHEMES"
scratch=$(dirname "$build")/build-without-$name
rm -rf "$scratch"
[ -n "${KEEP_SCRATCH:-}" ] || trap 'rm -rf "$scratch"' EXIT
"$src/scripts/copy-tree.sh" "$src" "$scratch"
rm -rf "$scratch/src/se/$name"
echo "== $scratch: the tree without src/se/$name"
# The main build's pristine Mbed TLS tree (the user's folder, the unpacked archive or the
# fetched Debian source: the hook tests compare against it), so nothing is fetched.  Its
# hooked copy would do for the build but not for those tests.
mbedtls=$(sed -n 's/^KW_MBEDTLS_PRISTINE:INTERNAL=//p' "$build/CMakeCache.txt")
[ -d "$mbedtls" ] || die "$build has no pristine Mbed TLS tree (KW_MBEDTLS_PRISTINE): build it first"
cmake -S "$scratch" -B "$scratch/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKEYWARD_FIRMWARE=OFF \
      -DMBEDTLS_SOURCE_DIR="$mbedtls"
cmake --build "$scratch/build" -j"$jobs"
# (the table and the per-build header: the tool dispatch names paths, which hold $name)
if grep -qw "$name" "$scratch/build/keyward-gen/keyward_backends_table.h" \
        "$scratch/build/keyward-gen/keyward/port/backends_build.h"; then
    die "the generated headers still name $name"
fi

# A KEYREF of the removed backend: refused, with its scheme named.
fail=0
check_refused() { # WHAT COMMAND...
    local what=$1 out rc=0
    shift
    out=$("$@" 2>&1) || rc=$?
    if [ "$rc" -ne 0 ] && echo "$out" | grep -qF "no backend for scheme '$scheme:'"; then
        echo "ok   $what refuses $scheme: (exit $rc)"
    else
        echo "FAIL $what on $scheme: exit $rc: $out"
        fail=1
    fi
}
check_refused "keyward-tool pubkey" "$scratch/build/tools/keyward-tool" pubkey "$scheme:x=1"
check_refused "keyward-tool keygen" "$scratch/build/tools/keyward-tool" keygen "$scheme:x=1" --type ec-p256
[ "$fail" = 0 ] || die "a KEYREF of the removed backend was not refused as it should be"

# contract.example_backend (label scratch) is a build of its own: `make test` runs it.
ctest --test-dir "$scratch/build" --output-on-failure -j"$jobs" --timeout 900 -LE scratch
echo "test-without-backend: $name removed: configure, build, ctest green"
