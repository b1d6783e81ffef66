#!/usr/bin/env bash
# Mutual TLS with TPM keys: keyward-client with a P-256 and an RSA-2048 key generated in the
# TPM (tpm2:file=) against openssl s_server, gnutls-serv, nginx and ssl_server2, TLS 1.2 and 1.3
# (RSA: PKCS#1 v1.5 in 1.2, RSA-PSS in 1.3); and a persistent key (tpm2:handle=) once.
# The TPM is a bare swtpm (no resource manager): the case where tpm2-openssl fails.
set -u
HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
. "$KW_SOURCE_DIR/tests/support/swtpm.sh"
command -v swtpm >/dev/null || { echo "FAIL: a required tool is missing (run scripts/install-deps.sh)"; exit 1; }
kw_tpm_init tpm2_tls
KINDS=${KW_TPM2_TLS_KINDS:-"openssl gnutls nginx mbedtls"}
kw_swtpm_start "$T/tpm" || exit 1
CA=$T/ca
mkdir -p "$CA"
kw_make_ca "$CA" || exit 1

for k in ec:ec-p256 rsa:rsa-2048; do
    n=${k%%:*}
    "$KW_TOOL" keygen "tpm2:file=$T/$n.pem" --type "${k#*:}" >"$T/$n.pub" ||
        { bad "keygen ${k#*:}"; kw_tpm_done; exit 1; }
    kw_issue_cert "$CA" "$T/$n.pub" "/CN=keyward tpm $n/O=keyward" "$T/$n.crt" || exit 1
done
check "persistent SRK" kw_srk_persist
persist() {
    tpm2_create -Q -C 0x81000001 -G ecc256 -u "$T/h.pub" -r "$T/h.priv" &&
        tpm2_load -Q -C 0x81000001 -u "$T/h.pub" -r "$T/h.priv" -c "$T/h.ctx" &&
        tpm2_evictcontrol -Q -C o -c "$T/h.ctx" 0x81000002
    local rc=$?
    kw_tpm_flush
    return $rc
}
check "persistent client key at 0x81000002" persist
"$KW_TOOL" pubkey tpm2:handle=0x81000002 >"$T/h.pub" && 
    kw_issue_cert "$CA" "$T/h.pub" "/CN=keyward tpm h/O=keyward" "$T/h.crt" || exit 1

# one_case KIND PORT VER NAME KEYREF EXPECTED_SIGALG_PATTERN
one_case() {
    local kind=$1 port=$2 ver=$3 n=$4 keyref=$5 want=$6 out rc=0
    out=$T/out.$kind.$ver.$n
    [ "$kind" = mbedtls ] && kw_server_mark mbedtls "$CA"
    timeout 30 "$KW_CLIENT" -v --tls-min "$ver" --tls-max "$ver" --cacert "$CA/ca.pem" \
        --cert "$T/$n.crt" --key "$keyref" "https://127.0.0.1:$port/" >"$out.body" 2>"$out.err" ||
        rc=$?
    local sigalg
    sigalg=$(sed -n 's/^\* client signature algorithm: //p' "$out.err")
    if [ "$rc" -eq 0 ] && grep -q "^\* protocol: TLSv$ver" "$out.err" &&
        [[ $sigalg == $want ]] &&
        kw_server_saw_subject "$kind" "$CA" "/CN=keyward tpm $n" "$out.body"; then
        ok "$kind TLS $ver, TPM $n key ($sigalg)"
    else
        bad "$kind TLS $ver, TPM $n key (rc=$rc, sigalg '$sigalg', want $want)"
        sed 's/^/#    /' "$out.err" | tail -n 8
        tail -n 5 "$(kw_server_log "$kind" "$CA")" 2>/dev/null | sed 's/^/#    srv: /'
    fi
}

for kind in $KINDS; do
    port=$(kw_free_port) || exit 1
    if ! kw_start_server "$kind" "$CA" "$port"; then
        bad "start $kind server"
        continue
    fi
    one_case "$kind" "$port" 1.2 ec "tpm2:file=$T/ec.pem" 'ecdsa_*'
    one_case "$kind" "$port" 1.3 ec "tpm2:file=$T/ec.pem" 'ecdsa_secp256r1_sha256'
    one_case "$kind" "$port" 1.2 rsa "tpm2:file=$T/rsa.pem" 'rsa_pkcs1_*'
    one_case "$kind" "$port" 1.3 rsa "tpm2:file=$T/rsa.pem" 'rsa_pss_rsae_*'
    if [ "$kind" = openssl ]; then
        one_case "$kind" "$port" 1.3 h "tpm2:handle=0x81000002" 'ecdsa_secp256r1_sha256'
    fi
    kw_stop_server "$kind" "$CA"
done
check "no transient object or session left in the TPM" kw_tpm_clean
kw_tpm_done
