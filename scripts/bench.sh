#!/usr/bin/env bash
# Runs keyward's benchmark programs (bench/) and prints their figures.
#   scripts/bench.sh [BUILD_DIR [BUILD_DIR_MBEDTLS4]]        (make bench)
# With a second build dir (an Mbed TLS 4.x build), the sign overhead is
# measured on both lines, interleaved, and printed side by side.
set -eu
build=${1:-build}
build=$(cd "$build" && pwd)
builds=("$build")
[ -n "${2:-}" ] && builds+=("$(cd "$2" && pwd)")
mbedtls_version() {
    sed -n 's/^#define MBEDTLS_VERSION_STRING *"\(.*\)"/\1/p' "$1/mbedtls-src/include/mbedtls/build_info.h"
}
src=$(cd "$(dirname "$0")/.." && pwd)
. "$src/tests/tls/lib.sh"
. "$src/tests/support/softhsm_env.sh"
kw_tmpdir T
kw_softhsm_setup "$T/hsm" >/dev/null
tool=$build/tools/keyward-tool
"$tool" keygen "$(kw_p11_uri p256)" --type ec-p256 > "$T/p256.pub"
"$tool" keygen "$(kw_p11_uri rsa2048)" --type rsa-2048 > "$T/rsa2048.pub"

echo "== psa_sign_hash through keyward vs direct C_SignInit+C_Sign (SoftHSM2, same key, interleaved)"
declare -A ratio
for spec in "p256 ec ${KW_BENCH_N_EC:-3000}" "rsa2048 rsa ${KW_BENCH_N_RSA:-400}"; do
    read -r label kind n <<< "$spec"
    for b in "${builds[@]}"; do
        out=$("$b/bench/bench-pkcs11-sign" "$KW_P11_MODULE" "$KW_P11_TOKEN" "$KW_P11_PIN" "$label" "$kind" "$n")
        echo "Mbed TLS $(mbedtls_version "$b"): $out"
        ratio[$label,$b]=$(echo "$out" | sed -n 's/.*ratio \([0-9.]*\).*/\1/p')
    done
done
echo "-- sign overhead ratio (keyward psa_sign_hash / direct C_Sign, medians), per Mbed TLS line"
printf '%-10s' key; for b in "${builds[@]}"; do printf ' %16s' "Mbed TLS $(mbedtls_version "$b")"; done; echo
for label in p256 rsa2048; do
    printf '%-10s' "$label"; for b in "${builds[@]}"; do printf ' %16s' "${ratio[$label,$b]}"; done; echo
done
[ ${#builds[@]} -gt 1 ] || echo "(no Mbed TLS 4.x build: set MBEDTLS4_SOURCE_DIR for the second column)"

echo "== full mutual-TLS handshakes, P-256 client key: SoftHSM2 vs software (openssl s_server -Verify)"
kw_make_ca "$T/ca" >/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/soft.key" 2>/dev/null
openssl pkey -in "$T/soft.key" -pubout -out "$T/soft.pub" 2>/dev/null
kw_issue_cert "$T/ca" "$T/p256.pub" "/CN=bench softhsm" "$T/p256.crt"
kw_issue_cert "$T/ca" "$T/soft.pub" "/CN=bench software" "$T/soft.crt"
port=$(kw_free_port)
kw_start_server openssl "$T/ca" "$port" >/dev/null
for v in 1.3 1.2; do
    "$build/bench/bench-handshake" 127.0.0.1 "$port" "$T/ca/ca.pem" $v "${KW_BENCH_N_HS:-300}" \
        "$T/p256.crt" "$(kw_p11_uri p256)" "$T/soft.crt" "file:$T/soft.key"
done
export KW_SOURCE_DIR=$src KW_TOOL=$tool KW_CLIENT=$build/tools/keyward-client
export KW_SSL_SERVER2=$build/mbedtls/programs/ssl/ssl_server2
export KW_TPM2_BENCH_SIGN=$build/bench/tpm2_sign KW_BENCH_HS=$build/bench/bench-handshake
for extra in "$src"/bench/bench-*.sh; do
    [ -e "$extra" ] && bash "$extra" "$build"
done
exit 0
