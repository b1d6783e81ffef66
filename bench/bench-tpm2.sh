#!/usr/bin/env bash
# TPM benchmarks on a private swtpm (run by scripts/bench.sh):
#   tpm2_sign       psa_sign_hash through keyward vs Esys_Sign on a loaded key: medians, ratio
#   bench-handshake full mutual-TLS handshakes against ssl_server2, TPM key vs software key,
#                   TLS 1.2 and 1.3, EC P-256 and RSA-2048
# Environment: KW_BENCH_N (signatures, default 2000), KW_BENCH_HS_N (handshakes, default 50).
set -u
HERE=$(cd -- "${KW_SOURCE_DIR:?}/tests/support" && pwd)
. "$HERE/swtpm.sh"
command -v swtpm >/dev/null || { echo "FAIL: a required tool is missing (run scripts/install-deps.sh)"; exit 1; }
kw_tpm_init tpm2_bench
N=${KW_BENCH_N:-2000}
HN=${KW_BENCH_HS_N:-50}
kw_swtpm_start "$T/tpm" || exit 1

check "keygen for tpm2_sign" bash -c "'$KW_TOOL' keygen 'tpm2:file=$T/sign.pem' --type ec-p256 >/dev/null"
# Default: the cross-process lock and a connection per operation (a bare TPM shared by processes,
# docs/tpm2.md); then KEYWARD_TPM2_LOCK=process (one application owns the TPM).
for mode in operation process; do
    if KEYWARD_TPM2_LOCK=$mode "$KW_TPM2_BENCH_SIGN" "$T/sign.pem" "$N" >"$T/sign.out" 2>&1; then
        ok "tpm2_sign, KEYWARD_TPM2_LOCK=$mode"
    else
        bad "tpm2_sign, KEYWARD_TPM2_LOCK=$mode"
    fi
    cat "$T/sign.out"
done

CA=$T/ca
mkdir -p "$CA"
kw_make_ca "$CA" || exit 1
for k in ec:ec-p256:EC:ec_paramgen_curve:P-256 rsa:rsa-2048:RSA:rsa_keygen_bits:2048; do
    IFS=: read -r n type alg opt val <<<"$k"
    "$KW_TOOL" keygen "tpm2:file=$T/tpm_$n.pem" --type "$type" >"$T/tpm_$n.pub" || exit 1
    kw_issue_cert "$CA" "$T/tpm_$n.pub" "/CN=bench tpm $n" "$T/tpm_$n.crt" || exit 1
    openssl genpkey -algorithm "$alg" -pkeyopt "$opt:$val" -out "$T/sw_$n.key" 2>/dev/null &&
        openssl pkey -in "$T/sw_$n.key" -pubout -out "$T/sw_$n.pub" || exit 1
    kw_issue_cert "$CA" "$T/sw_$n.pub" "/CN=bench sw $n" "$T/sw_$n.crt" || exit 1
done
port=$(kw_free_port) || exit 1
kw_start_server mbedtls "$CA" "$port" || exit 1
# bench-handshake alternates the two keys handshake by handshake; ratio = TPM / software
for ver in 1.3 1.2; do
    for n in ec rsa; do
        if "$KW_BENCH_HS" 127.0.0.1 "$port" "$CA/ca.pem" "$ver" "$HN" \
            "$T/tpm_$n.crt" "tpm2:file=$T/tpm_$n.pem" "$T/sw_$n.crt" "file:$T/sw_$n.key" \
            >"$T/hs.out" 2>&1; then
            ok "handshakes TLS $ver $n"
            sed "s|$T/||" "$T/hs.out"
        else
            bad "handshakes TLS $ver $n"
            sed 's/^/#    /' "$T/hs.out"
        fi
    done
done
kw_tpm_done
