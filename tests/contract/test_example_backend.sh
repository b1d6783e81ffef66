#!/usr/bin/env bash
# The example backend (tests/example_backend) built as a backend of its own build: a
# scratch copy of the tree (beside this build dir, laid out like it so that ccache's
# relative paths match) configured with -DKEYWARD_EXAMPLE_BACKEND=ON against this build's
# hooked Mbed TLS copy.  Its own tests (its declaration's TESTS) and the contract's table
# check run there, keyward-tool takes its KEYREF, and this build (the one that installs)
# has no example backend.
set -u
ulimit -c 0
: "${KW_SOURCE_DIR:?}" "${KW_BUILD_DIR:?}"
. "$KW_SOURCE_DIR/tests/support/kwcheck.sh"
kw_test_start contract.example_backend
scratch=$(dirname "$KW_BUILD_DIR")/$(basename "$KW_BUILD_DIR")-contract-example
rm -rf "$scratch"; kw_on_exit "rm -rf '$scratch'"
"$KW_SOURCE_DIR/scripts/copy-tree.sh" "$KW_SOURCE_DIR" "$scratch" || { bad "cannot copy the tree"; exit 1; }
b=$scratch/build
if cmake -S "$scratch" -B "$b" -DKEYWARD_FIRMWARE=OFF -DKEYWARD_EXAMPLE_BACKEND=ON \
         -DMBEDTLS_SOURCE_DIR="$KW_BUILD_DIR/mbedtls-src" >"$scratch/configure.log" 2>&1; then
    ok "configure with the example backend"
else
    bad "configure with the example backend"; tail -20 "$scratch/configure.log"; exit 1
fi
grep -q '#define KEYWARD_LOCATION_EXAMPLE 0x804B0Fu' "$b/keyward-gen/keyward/port/backends_build.h" &&
    ok "its declaration is in the generated header" || bad "no KEYWARD_LOCATION_EXAMPLE generated"
if cmake --build "$b" -j2 --target test_example_backend test_contract_table keyward-tool \
        >"$scratch/build.log" 2>&1; then
    ok "build"
else
    bad "build"; grep -E "error|Error" -A3 "$scratch/build.log" | head -20; exit 1
fi
if ctest --test-dir "$b" -R '^(example\.backend|contract\.table)$' --output-on-failure; then
    ok "its tests and the table check pass"
else
    bad "its tests or the table check"
fi
if "$b/tools/keyward-tool" pubkey example:key | grep -q "BEGIN PUBLIC KEY"; then
    ok "keyward-tool pubkey example:key"
else
    bad "keyward-tool pubkey example:key"
fi
case " ${KW_BACKENDS-} " in
    *" example "*) bad "the example backend is in this build (it must never be installed)" ;;
    *) ok "this build has no example backend" ;;
esac
kw_test_done
