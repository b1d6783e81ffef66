#!/usr/bin/env bash
# The backend contract (cmake/keyward-backends.cmake) refuses, naming both folders, two
# backends that claim the same name, id, location or scheme, and a declaration that lacks
# a required part or takes a location outside KEYWARD_LOCATION_FIRST..LAST.  Each case
# edits a scratch copy of the tracked tree.  The first (a copied backend folder) runs
# keyward's real configure against this build's hooked Mbed TLS copy; the others run the
# contract as the MCU build does (cmake -P, the same checks), which is fast.
set -u
ulimit -c 0
: "${KW_SOURCE_DIR:?}" "${KW_BUILD_DIR:?}"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
ok() { echo "ok   $1"; pass=$((pass+1)); }
bad() { echo "FAIL $1"; fail=$((fail+1)); }

# fresh: a scratch copy of the tracked (and new, unignored) files in $tmp/src
fresh() {
    rm -rf "$tmp/src" "$tmp/b"
    "$KW_SOURCE_DIR/scripts/copy-tree.sh" "$KW_SOURCE_DIR" "$tmp/src" || { bad "cannot copy the tree"; exit 1; }
}
# configure_full / collect: rc in $rc, the whole output in $out
configure_full() {
    out=$(cmake -S "$tmp/src" -B "$tmp/b" -DKEYWARD_FIRMWARE=OFF \
              -DMBEDTLS_SOURCE_DIR="$KW_BUILD_DIR/mbedtls-src" 2>&1); rc=$?
}
collect() {
    out=$(cmake -DKW_SOURCE_DIR="$tmp/src" -DKW_BACKENDS="${1:-atecc608}" -DKW_OUT="$tmp/gen" \
              -P "$tmp/src/cmake/keyward-backends.cmake" 2>&1); rc=$?
}
# expect NAME WORDS...: the last run failed, and its message holds every word
expect_refused() {
    local name=$1 good=1; shift
    [ "$rc" -ne 0 ] || good=0
    echo "$out" | grep -qF "breaks the backend contract" || good=0
    for w in "$@"; do echo "$out" | grep -qF -- "$w" || good=0; done
    if [ $good = 1 ]; then ok "$name"; else bad "$name: rc=$rc"; echo "$out" | sed 's/^/    /' | tail -15; fi
}
expect_accepted() {
    if [ "$rc" -eq 0 ]; then ok "$1"; else bad "$1: rc=$rc"; echo "$out" | sed 's/^/    /' | tail -15; fi
}
# declare NAME BODY: a new backend folder src/se/NAME whose CMakeLists.txt is BODY
declare_backend() {
    mkdir -p "$tmp/src/src/se/$1"
    printf '%s\n' "$2" > "$tmp/src/src/se/$1/CMakeLists.txt"
    touch "$tmp/src/src/se/$1/zz.c"
}
# A declaration that clashes with nobody (id 9, location 0x804B09, scheme zz).
good_body() { # [PART VALUE]... replaced
    local id=9 loc=0x804B09 ks=zz ops=keyward_zz_backend src=zz.c
    while [ $# -gt 1 ]; do
        case $1 in ID) id=$2 ;; LOC) loc=$2 ;; KS) ks=$2 ;; OPS) ops=$2 ;; SRC) src=$2 ;; esac
        shift 2
    done
    echo "keyward_backend(zz ID $id LOCATIONS $loc KEY_SCHEMES $ks ${ops:+OPS $ops} ${src:+SOURCES $src})"
}

# 1. A copied backend folder: keyward's configure fails naming both folders.
fresh
cp -a "$tmp/src/src/se/pkcs11" "$tmp/src/src/se/pkcs11b"
configure_full
expect_refused "src/se/pkcs11 copied to src/se/pkcs11b: configure refuses" \
    "src/se/pkcs11 and src/se/pkcs11b both claim the name 'pkcs11'" "the id 1" \
    "the location 0x804B01" "the key scheme 'pkcs11:'" "the cert scheme 'pkcs11:'"
[ -f "$tmp/b/Makefile" ] && bad "a refused configure generated a Makefile"

# 2. Each clash alone, and the missing parts (cmake -P: the same checks).
fresh
collect; expect_accepted "the tree's own declarations pass"
declare_backend zz "$(good_body)"
collect; expect_accepted "a new backend that clashes with nobody passes"
declare_backend zz "$(good_body ID 3)"
collect; expect_refused "same id refused" "src/se/tpm2 and src/se/zz both claim the id 3"
declare_backend zz "$(good_body LOC 0x804B02)"
collect; expect_refused "same location refused" "src/se/atecc608 and src/se/zz both claim the location 0x804B02"
declare_backend zz "$(good_body KS tpm2)"
collect; expect_refused "same key scheme refused" "src/se/tpm2 and src/se/zz both claim the key scheme 'tpm2:'"
declare_backend zz "$(good_body OPS keyward_pkcs11_backend)"
collect; expect_refused "same ops table refused" "src/se/pkcs11 and src/se/zz both claim the ops table"
declare_backend zz "$(good_body OPS '')"
collect; expect_refused "missing OPS refused" "src/se/zz" "required part OPS is missing"
declare_backend zz "$(good_body SRC '')"
collect; expect_refused "missing SOURCES refused" "src/se/zz" "required part SOURCES is missing"
declare_backend zz "keyward_backend(zz ID 9 KEY_SCHEMES zz OPS keyward_zz_backend SOURCES zz.c)"
collect; expect_refused "missing LOCATIONS refused" "required part LOCATIONS is missing"
declare_backend zz "$(good_body LOC 0x804B10)"
collect; expect_refused "location above KEYWARD_LOCATION_LAST refused" "location 0x804B10 lies outside"
declare_backend zz "$(good_body LOC 0x804A01)"
collect; expect_refused "location below KEYWARD_LOCATION_FIRST refused" "location 0x804A01 lies outside"
declare_backend zz "$(good_body SRC nosuch.c)"
collect; expect_refused "a source that does not exist refused" "nosuch.c: no such file"
declare_backend zz "$(good_body ID 256)"
collect; expect_refused "id out of 1..255 refused" "ID 256"
declare_backend zz "$(good_body KS file)"
collect; expect_refused "the scheme 'file' refused" "scheme 'file'"
rm -rf "$tmp/src/src/se/zz"

# 3. A tree without a backend folder still checks out, and its table has no trace of it.
rm -rf "$tmp/src/src/se/tpm2"
collect atecc608; expect_accepted "src/se/tpm2 removed: the others' declarations pass"
if grep -q "tpm2" "$tmp/gen/keyward/port/backends_build.h" "$tmp/gen/keyward_backends_table.h"; then
    bad "a removed backend left a trace in the generated headers"
else
    ok "a removed backend leaves no trace in the generated headers"
fi

echo "$pass passed, $fail failed"
[ "$pass" -gt 0 ] && [ "$fail" -eq 0 ]
