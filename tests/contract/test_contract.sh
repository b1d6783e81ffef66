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
. "$KW_SOURCE_DIR/tests/support/kwcheck.sh"
kw_test_start contract.configure_refuses
kw_tmpdir tmp

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

# The backends this tree has (it may lack some: make test-without-backend runs this too).
# part FOLDER KEYWORD: the first value of KEYWORD in src/se/FOLDER's declaration.
part() { sed -n "s/^ *$2 \\([^ )]*\\).*/\\1/p" "$tmp/src/src/se/$1/CMakeLists.txt" | head -1; }
fresh
folders=$(cd "$tmp/src/src/se" && ls -d */ | tr -d / | sort)
[ -n "$folders" ] || { bad "no backend folder in src/se"; exit 1; }
# 1. A copied backend folder (pkcs11 when the tree has it): configure fails naming both.
a=$(echo "$folders" | grep -x pkcs11 || echo "$folders" | head -1)
cp -a "$tmp/src/src/se/$a" "$tmp/src/src/se/${a}b"
configure_full
expect_refused "src/se/$a copied to src/se/${a}b: configure refuses" \
    "src/se/$a and src/se/${a}b both claim the name '$a'" "the id $(part "$a" ID)" \
    "the location $(part "$a" LOCATIONS)" "the key scheme '$(part "$a" KEY_SCHEMES):'"
[ -f "$tmp/b/Makefile" ] && bad "a refused configure generated a Makefile"

# 2. Each clash alone (with the first and the last folder), and the missing parts
# (cmake -P: the same checks).
fresh
first=$(echo "$folders" | head -1) last=$(echo "$folders" | tail -1)
mcu=$(for f in $folders; do grep -q MCU_SOURCES "$tmp/src/src/se/$f/CMakeLists.txt" && echo "$f"; done | head -1)
collect() { # the MCU side's reading of every declaration (for a backend with MCU_SOURCES)
    out=$(cmake -DKW_SOURCE_DIR="$tmp/src" -DKW_BACKENDS="$mcu" -DKW_OUT="$tmp/gen" \
              -P "$tmp/src/cmake/keyward-backends.cmake" 2>&1); rc=$?
}
collect; expect_accepted "the tree's own declarations pass"
declare_backend zz "$(good_body)"
collect; expect_accepted "a new backend that clashes with nobody passes"
id=$(part "$last" ID) loc=$(part "$first" LOCATIONS) ks=$(part "$last" KEY_SCHEMES) ops=$(part "$first" OPS)
declare_backend zz "$(good_body ID "$id")"
collect; expect_refused "same id refused" "src/se/$last and src/se/zz both claim the id $id"
declare_backend zz "$(good_body LOC "$loc")"
collect; expect_refused "same location refused" "src/se/$first and src/se/zz both claim the location $loc"
declare_backend zz "$(good_body KS "$ks")"
collect; expect_refused "same key scheme refused" "src/se/$last and src/se/zz both claim the key scheme '$ks:'"
declare_backend zz "$(good_body OPS "$ops")"
collect; expect_refused "same ops table refused" "src/se/$first and src/se/zz both claim the ops table $ops"
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

# 3. A tree without a backend folder (one without MCU_SOURCES) still checks out, and the
# generated headers have no trace of it.
gone=$(for f in $folders; do [ "$f" != "$mcu" ] && echo "$f"; done | tail -1)
rm -rf "$tmp/src/src/se/$gone"
collect; expect_accepted "src/se/$gone removed: the others' declarations pass"
if grep -qw "$gone" "$tmp/gen/keyward/port/backends_build.h" "$tmp/gen/keyward_backends_table.h"; then
    bad "a removed backend left a trace in the generated headers"
else
    ok "a removed backend leaves no trace in the generated headers"
fi

kw_test_done
