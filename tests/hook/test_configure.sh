#!/usr/bin/env bash
# The configure step refuses, each with one line naming what it found and what
# it accepts: a tree of another version, a 4.x tree missing a submodule, and a
# tree whose hook targets lack an anchor (then nothing is generated, so no
# half-hooked build can link).  The anchor case uses the layout of the Mbed TLS
# line this build uses (3.6: library/ files; 4.x: TF-PSA-Crypto templates).
set -u
: "${KW_SOURCE_DIR:?}" "${KW_MBEDTLS_PRISTINE:?}"
. "${KW_SOURCE_DIR:?}/tests/support/kwcheck.sh"
kw_test_start hook.configure_refuses
kw_tmpdir tmp || exit 1

# configure TREE -> rc in $rc, the error text (between "CMake Error" and
# "Call Stack") in $msg; the build dir is left in $tmp/b
configure() {
    rm -rf "$tmp/b"
    out=$(cmake -S "$KW_SOURCE_DIR" -B "$tmp/b" -DMBEDTLS_SOURCE_DIR="$1" 2>&1); rc=$?
    msg=$(echo "$out" | sed -n '/^CMake Error/,/^Call Stack/p' | sed '1d;$d' | sed '/^[[:space:]]*$/d')
}
# expect NAME WORDS...: configure failed, one line, containing every word
expect() {
    local name=$1; shift
    local good=1
    [ $rc -ne 0 ] || good=0
    [ "$(echo "$msg" | wc -l)" = 1 ] || good=0
    for w in "$@"; do echo "$msg" | grep -qF -- "$w" || good=0; done
    [ -f "$tmp/b/Makefile" ] && good=0   # nothing generated
    [ $good = 1 ] && ok "$name" || bad "$name: rc=$rc msg=[$msg]"
}
fake_version() { # DIR VERSION
    mkdir -p "$1/include/mbedtls"
    printf '#define MBEDTLS_VERSION_STRING         "%s"\n' "$2" > "$1/include/mbedtls/build_info.h"
}

fake_version "$tmp/v42" 4.2.0
configure "$tmp/v42"; expect "4.2.0 refused" "4.2.0" "accepted" "4.0.x or 4.1.x"
fake_version "$tmp/v365" 3.6.5
configure "$tmp/v365"; expect "3.6.5 refused" "3.6.5" "3.6.x with x >= 6"
fake_version "$tmp/v228" 2.28.3
configure "$tmp/v228"; expect "2.28.3 refused" "2.28.3" "accepted"
mkdir -p "$tmp/none"
configure "$tmp/none"; expect "a folder without Mbed TLS refused" "no Mbed TLS version found"

fake_version "$tmp/nosub" 4.0.0
mkdir -p "$tmp/nosub/tf-psa-crypto" "$tmp/nosub/framework"   # empty, as after a non-recursive clone
configure "$tmp/nosub"; expect "4.0.0 without tf-psa-crypto refused" "4.0.0" "tf-psa-crypto submodule"
mkdir -p "$tmp/nosub/tf-psa-crypto/include/tf-psa-crypto" "$tmp/nosub/tf-psa-crypto/core" "$tmp/nosub/tf-psa-crypto/framework"
printf '#define TF_PSA_CRYPTO_VERSION_STRING "1.0.0"\n' > "$tmp/nosub/tf-psa-crypto/include/tf-psa-crypto/build_info.h"
touch "$tmp/nosub/tf-psa-crypto/core/psa_crypto.c" "$tmp/nosub/tf-psa-crypto/framework/CMakeLists.txt"
configure "$tmp/nosub"; expect "4.0.0 without framework refused" "framework submodule"

# a tree of an accepted version whose hook target lacks an anchor
t="$tmp/noanchor"
mkdir -p "$t/include/mbedtls"
cp "$KW_MBEDTLS_PRISTINE/include/mbedtls/build_info.h" "$t/include/mbedtls/"
if [ -f "$KW_MBEDTLS_PRISTINE/library/psa_crypto_driver_wrappers.h" ]; then
    line=3.6
    mkdir -p "$t/library"
    cp "$KW_MBEDTLS_PRISTINE"/library/psa_crypto_driver_wrappers.h \
       "$KW_MBEDTLS_PRISTINE"/library/psa_crypto_driver_wrappers_no_static.c "$t/library/"
    target="$t/library/psa_crypto_driver_wrappers.h"
else
    line=4.x
    d=tf-psa-crypto/scripts/data_files/driver_templates
    mkdir -p "$t/$d" "$t/tf-psa-crypto/include/tf-psa-crypto" "$t/tf-psa-crypto/core" \
             "$t/framework" "$t/tf-psa-crypto/framework"
    cp "$KW_MBEDTLS_PRISTINE/$d"/* "$t/$d/"
    cp "$KW_MBEDTLS_PRISTINE/tf-psa-crypto/include/tf-psa-crypto/build_info.h" "$t/tf-psa-crypto/include/tf-psa-crypto/"
    touch "$t/tf-psa-crypto/core/psa_crypto.c" "$t/framework/CMakeLists.txt" "$t/tf-psa-crypto/framework/CMakeLists.txt"
    target="$t/$d/psa_crypto_driver_wrappers.h.jinja"
fi
sed -i 's/psa_driver_wrapper_sign_hash(/psa_driver_wrapper_sign_hash_renamed(/' "$target"
configure "$t"; expect "$line tree lacking an anchor refused" "keyward hook:" "psa_driver_wrapper_sign_hash(" "NOT hooked"

kw_test_done hook.configure_refuses
