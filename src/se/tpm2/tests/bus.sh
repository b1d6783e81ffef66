#!/usr/bin/env bash
# Auth values never cross the TPM bus in the clear (issue 7 §9).  tss2's pcap TCTI logs every
# byte between keyward and the TPM.  A key is generated with an auth value (TPM2_Create carries
# it: parameter encryption), then used for PKCS#1 v1.5, PSS and ECDSA signatures (HMAC session
# salted with the SRK): the auth value must not appear in the log.  Positive control: the same
# log catches an auth value that tpm2-tools sends in a password session.  Also: one session serves
# many signatures (reused, not restarted per signature).
set -u
HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
. "$KW_SOURCE_DIR/tests/support/swtpm.sh"
command -v swtpm >/dev/null && command -v tpm2_createprimary >/dev/null || { echo "FAIL: a required tool is missing (run scripts/install-deps.sh)"; exit 1; }
[ -e /usr/lib/x86_64-linux-gnu/libtss2-tcti-pcap.so.0 ] || ls /usr/lib/*/libtss2-tcti-pcap.so.0 >/dev/null 2>&1 ||
    { echo "FAIL: tss2's pcap TCTI is missing (libtss2-dev)"; exit 1; }
kw_tpm_init tpm2_bus
kw_swtpm_start "$T/tpm" || exit 1
PLAIN_TCTI=$TPM2TOOLS_TCTI
export TCTI_PCAP_FILE=$T/bus.pcap
export TPM2TOOLS_TCTI="pcap:$PLAIN_TCTI"
SECRET=KwBusSecret-58213
CONTROL=KwControl-90417
K=$T/keys
mkdir -p "$K"

check "positive control: tpm2-tools' password session shows $CONTROL on the bus" bash -c \
    "tpm2_createprimary -Q -C o -p '$CONTROL' -c '$T/c.ctx' && grep -a -q -F '$CONTROL' '$TCTI_PCAP_FILE'"
TPM2TOOLS_TCTI=$PLAIN_TCTI kw_tpm_flush
rm -f "$TCTI_PCAP_FILE"

for k in ec:ec-p256 rsa:rsa-2048; do
    check "keygen ${k#*:} with an auth value" env KEYWARD_TPM2_AUTH="$SECRET" \
        "$KW_TOOL" keygen "tpm2:file=$K/${k%%:*}.pem" --type "${k#*:}"
done
sig() { env KEYWARD_TPM2_AUTH="$SECRET" "$KW_TOOL" csr "tpm2:file=$K/$1" --subject CN=x >/dev/null; }
check "ECDSA signature with the auth value" sig ec.pem
check "RSA signature with the auth value" sig rsa.pem
check "wrong auth value: refused" bash -c "! env KEYWARD_TPM2_AUTH=wrong-one '$KW_TOOL' csr 'tpm2:file=$K/ec.pem' --subject CN=x"
check "many RSA-PSS and ECDSA signatures on one session" \
    env KEYWARD_TPM2_AUTH="$SECRET" "$KW_TPM2_TEST" session "$K"
grep '^#' "$T/last.log"
check "the TCTI log holds the traffic" test "$(stat -c %s "$TCTI_PCAP_FILE")" -gt 20000
if grep -a -q -F "$SECRET" "$TCTI_PCAP_FILE"; then
    bad "the auth value appears in the TCTI byte stream"
else
    ok "the auth value never appears in the TCTI byte stream"
fi
TPM2TOOLS_TCTI=$PLAIN_TCTI check "nothing left in the TPM" kw_tpm_clean
kw_tpm_done
