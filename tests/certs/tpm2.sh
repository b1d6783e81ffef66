#!/usr/bin/env bash
# Certificates kept in TPM 2.0 NV indexes (swtpm), issue 9:
#  - a certificate defined and written by tpm2-tools (tpm2_nvdefine / tpm2_nvwrite) serves
#    keyward-client as --cert tpm2:nv=... with a TPM key, mutual TLS 1.2 and 1.3 against nginx;
#    it is over 1024 bytes (TPM_PT_NV_BUFFER_MAX of swtpm), so it is read in chunks;
#  - an index larger than its certificate (EK-certificate style padding) reads back right;
#  - a certificate stored by keyward-tool cert-store (chunked writes) reads back equal with
#    tpm2_nvread, and serves keyward-client;
#  - bad input: an undefined index, an index without a DER certificate, cert-store over an
#    existing index without --force, writing into TCG's 0x01C0xxxx range: each a clear error.
set -u
HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../support/swtpm.sh
. "$KW_SOURCE_DIR/tests/support/swtpm.sh"
. "$HERE/common.sh"
command -v swtpm >/dev/null && command -v tpm2_nvdefine >/dev/null ||
    { echo "FAIL: swtpm or tpm2-tools missing (scripts/install-deps.sh)"; exit 1; }
kw_tpm_init certs_tpm2
kw_swtpm_start "$T/tpm" || exit 1
CA=$T/ca
kw_make_ca "$CA" || exit 1

"$KW_TOOL" keygen "tpm2:file=$T/ec.pem" --type ec-p256 >"$T/ec.pub" || { bad "keygen"; exit 1; }
issue_big "$CA" "$T/ec.pub" kw-nv-tools "$T/tools.pem" || exit 1
openssl x509 -in "$T/tools.pem" -outform DER -out "$T/tools.der" || exit 1
size=$(stat -c %s "$T/tools.der")
bufmax=$(tpm2_getcap properties-fixed | sed -n '/TPM2_PT_NV_BUFFER_MAX:/{n;s/.*raw: *//p}')
if [ -n "$bufmax" ] && [ "$size" -gt "$((bufmax))" ]; then
    ok "the certificate ($size bytes) is larger than TPM_PT_NV_BUFFER_MAX ($((bufmax)))"
else
    bad "the certificate ($size bytes) does not exceed TPM_PT_NV_BUFFER_MAX ('$bufmax')"
fi
# As an installer would: tpm2-tools, owner index, exactly the certificate's size.
if tpm2_nvdefine -Q -C o -s "$size" -a "ownerread|ownerwrite|authread|no_da" 0x01000010 &&
    tpm2_nvwrite -Q -C o -i "$T/tools.der" 0x01000010; then
    ok "tpm2_nvdefine + tpm2_nvwrite at 0x01000010"
else
    bad "tpm2-tools could not write the certificate"; exit 1
fi
kw_tpm_flush

port=$(kw_free_port) || exit 1
kw_start_server nginx "$CA" "$port" || exit 1
for v in 1.2 1.3; do
    tls_case "tpm2-tools' NV certificate, TPM key" "$CA" "$port" "$v" kw-nv-tools \
        "tpm2:nv=0x01000010" "tpm2:file=$T/ec.pem"
done
# tcti= in the reference instead of the environment.
tcti=$TPM2TOOLS_TCTI
if (unset TPM2TOOLS_TCTI TPM2OPENSSL_TCTI
    tls_case "tpm2:nv=...;tcti=... without TPM2TOOLS_TCTI" "$CA" "$port" 1.3 kw-nv-tools \
        "tpm2:nv=0x01000010;tcti=$tcti" "tpm2:file=$T/ec.pem;tcti=$tcti"
    [ "$KW_FAIL" -eq 0 ]); then
    ok "tcti= in the certificate reference"
else
    bad "tcti= in the certificate reference"
fi

# keyward-tool cert-store: defines the index, writes in chunks; tpm2_nvread reads the same bytes.
if "$KW_TOOL" cert-store tpm2:nv=0x01000020 "$T/tools.pem" >"$T/out" 2>&1 &&
    tpm2_nvread -Q -C o -s "$size" -o "$T/back.der" 0x01000020 && cmp -s "$T/back.der" "$T/tools.der"; then
    ok "cert-store tpm2:nv=0x01000020, tpm2_nvread gives the same DER"
else
    bad "cert-store then tpm2_nvread"; sed 's/^/#    /' "$T/out"
fi
kw_tpm_flush
tls_case "keyward-tool's NV certificate" "$CA" "$port" 1.2 kw-nv-tools "tpm2:nv=0x01000020" \
    "tpm2:file=$T/ec.pem"
kw_stop_server nginx "$CA"
kw_tpm_flush
check "library: cert from NV while the TPM key is in use (test_cert)" \
    "${KW_TEST_CERT:?}" "tpm2:file=$T/ec.pem" tpm2:nv=0x01000010 "$T/tools.pem"

# An index larger than the certificate: only the certificate comes back.
if tpm2_nvdefine -Q -C o -s 2000 -a "ownerread|ownerwrite|authread|no_da" 0x01000030 &&
    tpm2_nvwrite -Q -C o -i "$T/tools.der" 0x01000030 &&
    "$KW_TOOL" cert-get tpm2:nv=0x01000030 >"$T/got.pem" 2>"$T/out" &&
    openssl x509 -in "$T/got.pem" -outform DER | cmp -s - "$T/tools.der"; then
    ok "a 2000-byte index holding a $size-byte certificate: cert-get gives the certificate"
else
    bad "padded index"; sed 's/^/#    /' "$T/out"
fi
kw_tpm_flush

# Bad input.
expect_fail "cert-get of an undefined NV index" "DOES_NOT_EXIST.*not defined" \
    "$KW_TOOL" cert-get tpm2:nv=0x01000099
rc=0
"$KW_CLIENT" --cacert "$CA/ca.pem" --cert tpm2:nv=0x01000099 --key "tpm2:file=$T/ec.pem" \
    https://127.0.0.1:1/ >/dev/null 2>"$T/err" || rc=$?
if [ "$rc" -eq 58 ] && grep -q "not defined" "$T/err"; then
    ok "keyward-client --cert of an undefined NV index: exit 58 ($(tail -n 1 "$T/err"))"
else
    bad "keyward-client --cert of an undefined index: exit $rc"; sed 's/^/#    /' "$T/err"
fi
head -c 600 /dev/urandom | tr '\060' '\061' >"$T/junk" # no 0x30 (SEQUENCE) anywhere
tpm2_nvdefine -Q -C o -s 600 -a "ownerread|ownerwrite|authread|no_da" 0x01000040 &&
    tpm2_nvwrite -Q -C o -i "$T/junk" 0x01000040 || bad "junk index"
kw_tpm_flush
expect_fail "cert-get of an index holding no DER certificate" "DATA_INVALID.*not hold a DER certificate" \
    "$KW_TOOL" cert-get tpm2:nv=0x01000040
expect_fail "keyward-client --cert of an index holding no DER certificate" "not hold a DER certificate" \
    "$KW_CLIENT" --cacert "$CA/ca.pem" --cert tpm2:nv=0x01000040 --key "tpm2:file=$T/ec.pem" \
    https://127.0.0.1:1/
# A SEQUENCE header that promises a certificate, then garbage: Mbed TLS's X.509 parser says no.
{ printf '\x30\x82\x01\x00'; head -c 256 /dev/zero; } >"$T/fake"
tpm2_nvdefine -Q -C o -s 260 -a "ownerread|ownerwrite|authread|no_da" 0x01000041 &&
    tpm2_nvwrite -Q -C o -i "$T/fake" 0x01000041 || bad "fake index"
kw_tpm_flush
expect_fail "keyward-client --cert of an index with a SEQUENCE that is no certificate" \
    "DATA_INVALID.*not a DER X.509 certificate" \
    "$KW_CLIENT" --cacert "$CA/ca.pem" --cert tpm2:nv=0x01000041 --key "tpm2:file=$T/ec.pem" \
    https://127.0.0.1:1/
expect_fail "cert-store over a defined index without --force" "ALREADY_EXISTS.*--force" \
    "$KW_TOOL" cert-store tpm2:nv=0x01000010 "$T/tools.pem"
"$KW_TOOL" pubkey "tpm2:file=$T/ec.pem" >/dev/null 2>&1 # any TPM key use in between
kw_issue_cert "$CA" "$T/ec.pub" "/CN=kw-nv-small/O=keyward tests" "$T/small.pem" || exit 1
if "$KW_TOOL" cert-store tpm2:nv=0x01000010 "$T/small.pem" --force >"$T/out" 2>&1 &&
    tpm2_nvreadpublic 0x01000010 >"$T/pub" 2>&1 &&
    "$KW_TOOL" cert-get tpm2:nv=0x01000010 | openssl x509 -noout -subject | grep -q kw-nv-small &&
    grep -q "size: $(openssl x509 -in "$T/small.pem" -outform DER | wc -c)\$" "$T/pub"; then
    ok "cert-store --force redefines the index at the new certificate's size"
else
    bad "cert-store --force"; sed 's/^/#    /' "$T/out" "$T/pub"
fi
kw_tpm_flush
expect_fail "cert-store into TCG's EK-certificate range (0x01C0000A)" "NOT_PERMITTED.*TCG" \
    "$KW_TOOL" cert-store tpm2:nv=0x01C0000A "$T/small.pem" --force
if tpm2_nvreadpublic 0x01C0000A >/dev/null 2>&1; then
    bad "0x01C0000A got defined anyway"
else
    ok "nothing was defined at 0x01C0000A"
fi
kw_tpm_flush
# An EK-certificate-style index, as a platform vendor makes it (platform hierarchy, TCG range):
# keyward reads it, and refuses to write there even with --force.
if tpm2_nvdefine -Q -C p -s "$size" -a "ppread|ppwrite|ownerread|authread|no_da|platformcreate" \
        0x01C0000B && tpm2_nvwrite -Q -C p -i "$T/tools.der" 0x01C0000B &&
    "$KW_TOOL" cert-get tpm2:nv=0x01C0000B >"$T/got.pem" 2>"$T/out" &&
    openssl x509 -in "$T/got.pem" -outform DER | cmp -s - "$T/tools.der"; then
    ok "a platform-made index at 0x01C0000B (TCG range) is read"
else
    bad "reading 0x01C0000B"; sed 's/^/#    /' "$T/out"
fi
kw_tpm_flush
expect_fail "cert-store --force over the TCG-range index 0x01C0000B" "NOT_PERMITTED.*TCG" \
    "$KW_TOOL" cert-store tpm2:nv=0x01C0000B "$T/small.pem" --force
if "$KW_TOOL" cert-get tpm2:nv=0x01C0000B 2>/dev/null | openssl x509 -outform DER | cmp -s - "$T/tools.der"; then
    ok "0x01C0000B still holds its certificate"
else
    bad "0x01C0000B changed"
fi
kw_tpm_flush
expect_fail "a malformed reference" "nv=" "$KW_TOOL" cert-get tpm2:nv=12345
check "no transient object or session left in the TPM" kw_tpm_clean
certs_done certs_tpm2
