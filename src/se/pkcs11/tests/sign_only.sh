#!/usr/bin/env bash
# Issue 7 section 6, seen from outside: keys keyward-tool generates on a
# PKCS#11 token can only sign (private) and verify (public), as OpenSC's
# pkcs11-tool --list-objects reports them; the fixture key pkcs11-tool made
# itself shows decrypt/unwrap, so the check can tell the difference.
set -u
. "$KW_SOURCE_DIR/tests/support/softhsm_env.sh"
: "${KW_TOOL:?}"
. "${KW_SOURCE_DIR:?}/tests/support/kwcheck.sh"
kw_test_start pkcs11.sign_only
kw_tmpdir tmp || exit 1
kw_softhsm_setup "$tmp" fixture:rsa:2048 || exit 1
for t in rsa-2048 ec-p256; do
    "$KW_TOOL" keygen "pkcs11:token=$KW_P11_TOKEN;object=gen-$t?module-path=$KW_P11_MODULE&pin-value=$KW_P11_PIN" \
        --type "$t" >/dev/null || { echo "FAIL keygen $t"; exit 1; }
done
pkcs11-tool --module "$KW_P11_MODULE" --token-label "$KW_P11_TOKEN" --login --pin "$KW_P11_PIN" \
    --list-objects >"$tmp/objects" 2>&1 || { echo "FAIL pkcs11-tool --list-objects"; cat "$tmp/objects"; exit 1; }
# usage LABEL KIND: the Usage line of the "KIND Key Object" labelled LABEL
usage() {
    awk -v label="$1" -v kind="$2" '
        /Key Object/ { cur = ($0 ~ "^" kind " Key Object") }
        cur && $1 == "label:" { l = $2 }
        cur && $1 == "Usage:" && l == label { sub(/^ *Usage: */, ""); print; exit }' "$tmp/objects"
}
expect() {
    local got
    got=$(usage "$1" "$2")
    if [ "$got" = "$3" ]; then ok "$2 key $1: usage '$got'"
    else bad "$2 key $1: usage '$got', want '$3'"; fi
}
for t in rsa-2048 ec-p256; do
    expect "gen-$t" Private sign
    expect "gen-$t" Public verify
done
expect fixture Private "decrypt, sign, unwrap"
[ "$KW_PASS" -eq 5 ] || bad "$KW_PASS of the 5 usage checks passed"
kw_test_done pkcs11.sign_only
