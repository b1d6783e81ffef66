#!/usr/bin/env bash
# PSA-level tests on SoftHSM2: runs test_psa_pkcs11 against a fresh token.
set -eu
. "${KW_SOURCE_DIR:?}/tests/support/softhsm_env.sh"
. "${KW_SOURCE_DIR:?}/tests/support/kwcheck.sh"
kw_test_start pkcs11.psa
kw_tmpdir tmp || exit 1
kw_softhsm_setup "$tmp" ec256:EC:prime256v1 ec384:EC:secp384r1 ec521:EC:secp521r1 \
    rsa2048:rsa:2048 rsa3072:rsa:3072 rsa4096:rsa:4096
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/soft.pem" 2>/dev/null
export KW_SOFT_KEY="$tmp/soft.pem"
export KW_P11_MODULE KW_P11_TOKEN KW_P11_PIN
# PSA storage (persistent keys) goes to the working directory: the temp dir.
mkdir "$tmp/pinsrc.d"
export KW_TMP="$tmp/pinsrc.d"
cd "$tmp"
# The program counts its own checks (kwcheck.h); here it is one check of the wrapper.
if "$1"; then ok "test_psa_pkcs11"; else bad "test_psa_pkcs11 (exit $?)"; fi
kw_test_done pkcs11.psa
