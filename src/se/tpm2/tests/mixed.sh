#!/usr/bin/env bash
# TPM, SoftHSM2 (PKCS#11) and software keys in one process: open all, sign and verify with
# each, interleaved, twice (tpm2_psa_test mixed).
set -u
HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
. "$KW_SOURCE_DIR/tests/support/swtpm.sh"
command -v swtpm >/dev/null || { echo "FAIL: a required tool is missing (run scripts/install-deps.sh)"; exit 1; }
MOD=/usr/lib/softhsm/libsofthsm2.so
[ -r "$MOD" ] && command -v softhsm2-util >/dev/null || { echo "FAIL: a required tool is missing (run scripts/install-deps.sh)"; exit 1; }
kw_tpm_init tpm2_mixed
kw_swtpm_start "$T/tpm" || exit 1

mkdir -p "$T/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$T/tokens" \
    >"$T/softhsm2.conf"
export SOFTHSM2_CONF=$T/softhsm2.conf
check "SoftHSM2 token" softhsm2-util --init-token --free --label kwmix --pin 1234 --so-pin 5678
P11="pkcs11:token=kwmix;object=OBJ?module-path=$MOD&pin-value=1234"
check "PKCS#11 EC key" bash -c "'$KW_TOOL' keygen '${P11/OBJ/ec}' --type ec-p256 >/dev/null"
check "PKCS#11 RSA key" bash -c "'$KW_TOOL' keygen '${P11/OBJ/rsa}' --type rsa-2048 >/dev/null"
check "TPM EC key" bash -c "'$KW_TOOL' keygen 'tpm2:file=$T/tpm_ec.pem' --type ec-p256 >/dev/null"
check "TPM RSA key" bash -c "'$KW_TOOL' keygen 'tpm2:file=$T/tpm_rsa.pem' --type rsa-2048 >/dev/null"
check "software EC key" openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/sw_ec.pem"
check "software RSA key" openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/sw_rsa.pem"

check "all six keys in one process" "$KW_TPM2_TEST" mixed \
    "tpm2:file=$T/tpm_ec.pem" "${P11/OBJ/ec}" "file:$T/sw_ec.pem" \
    "tpm2:file=$T/tpm_rsa.pem" "${P11/OBJ/rsa}" "file:$T/sw_rsa.pem"
check "no transient object or session left in the TPM" kw_tpm_clean
kw_tpm_done
