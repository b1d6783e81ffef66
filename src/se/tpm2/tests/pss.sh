#!/usr/bin/env bash
# RSA-PSS on TPMs that sign with the maximum salt length (issue 7 §5), with keyward's test double
# (tpm2_pss.c): the same software RSA key pair imported into the TPM twice, sign|decrypt and
# sign-only.  With the double on, the sign|decrypt key still gives strict (salt = hash length)
# PSS signatures through the software-encoding + raw-RSA fallback, remembered per key; the
# sign-only key refuses PSS ("TLS 1.2 only") and keeps PKCS#1 v1.5.
set -u
HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
. "$KW_SOURCE_DIR/tests/support/swtpm.sh"
command -v swtpm >/dev/null && command -v tpm2_import >/dev/null || { echo "FAIL: a required tool is missing (run scripts/install-deps.sh)"; exit 1; }
kw_tpm_init tpm2_pss
kw_swtpm_start "$T/tpm" || exit 1
K=$T/keys
mkdir -p "$K"
check "persistent SRK" kw_srk_persist
import() {
    openssl genrsa -out "$K/sw.pem" 2048 2>/dev/null &&
        tpm2_import -Q -C 0x81000001 -G rsa -i "$K/sw.pem" -u "$K/sd.pub" -r "$K/sd.priv" \
            -a 'sign|decrypt|userwithauth' &&
        tpm2_import -Q -C 0x81000001 -G rsa -i "$K/sw.pem" -u "$K/s.pub" -r "$K/s.priv" \
            -a 'sign|userwithauth' &&
        tpm2_encodeobject -Q -C 0x81000001 -u "$K/sd.pub" -r "$K/sd.priv" -o "$K/rsa_sd.pem" &&
        tpm2_encodeobject -Q -C 0x81000001 -u "$K/s.pub" -r "$K/s.priv" -o "$K/rsa_s.pem"
    local rc=$?
    rm -f "$K/sw.pem"
    kw_tpm_flush
    return $rc
}
check "one RSA key pair imported twice (sign|decrypt, sign only)" import
check "PSS detection and fallback on a max-salt TPM (test double)" "$KW_TPM2_TEST" pss "$K"
grep -E '^(ok|FAIL|#)' "$T/last.log" | sed 's/^/#    /'
check "nothing left in the TPM" kw_tpm_clean
kw_tpm_done
