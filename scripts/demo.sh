#!/usr/bin/env bash
# make demo: provision keys inside secure elements, get certificates from a
# throwaway local CA (CSRs signed inside the SE), and run mutual TLS 1.2 and
# 1.3 against `openssl s_server -Verify` (client certificate required).
#   scripts/demo.sh [BUILD_DIR]
set -eu
build=$(cd "${1:-build}" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
. "$src/tests/tls/lib.sh"
. "$src/tests/support/softhsm_env.sh"
export KW_SSL_SERVER2=$build/mbedtls/programs/ssl/ssl_server2
tool=$build/tools/keyward-tool
client=$build/tools/keyward-client
kw_tmpdir T
rows=()

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# run_client SE KEYDESC KEYREF CERT VERSION
# The "client run" column times keyward-client alone: the subject lookup and the check of the
# server's answer happen outside t0..t1.
run_client() {
    local se=$1 desc=$2 keyref=$3 cert=$4 v=$5 t0 t1 res sig rc=0 cn
    cn=$(cert_cn "$cert")
    t0=$(date +%s%N)
    "$client" -v --tls-min "$v" --tls-max "$v" --cacert "$T/ca/ca.pem" --cert "$cert" \
        --key "$keyref" "https://127.0.0.1:$port/" > "$T/body" 2> "$T/err" || rc=$?
    t1=$(date +%s%N)
    if [ $rc -eq 0 ] && kw_server_saw_subject openssl "$T/ca" "CN=$cn" "$T/body"; then
        res=ok
    else
        res=FAILED; cat "$T/err" >&2
    fi
    sig=$(sed -n 's/^\* client signature algorithm: //p' "$T/err")
    rows+=("$(printf '%-22s %-12s %-8s %-26s %-7s %6s ms' "$se" "$desc" "TLS $v" "${sig:--}" "$res" \
        "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')")")
}
cert_cn() { openssl x509 -in "$1" -noout -subject -nameopt multiline | sed -n 's/^ *commonName *= //p'; }

say "A throwaway local CA and a server that requires client certificates"
kw_make_ca "$T/ca"
port=$(kw_free_port)
kw_start_server openssl "$T/ca" "$port"
echo "openssl s_server -Verify on 127.0.0.1:$port"

emu=$build/emulator/keyward-atecc608-emu
if [ -x "$emu" ]; then
    say "ATECC608 (keyward's emulator of the chip, on a socket 'I2C bus')"
    "$emu" --state "$T/atecc.state" --socket "$T/atecc.sock" > "$T/emu.log" 2>&1 &
    emu_pid=$!
    kw_on_exit "kill $emu_pid 2>/dev/null"
    for _ in $(seq 50); do [ -S "$T/atecc.sock" ] && break; sleep 0.1; done
    export KEYWARD_ATECC608_BUS="unix:$T/atecc.sock"
    "$tool" info "atecc608:slot=0"
    "$tool" provision "atecc608:slot=0"
    "$tool" keygen "atecc608:slot=0" --type ec-p256 > "$T/atecc.pub"
    echo "slot 0: P-256 key generated inside the chip; public key:"; sed -n 2,3p "$T/atecc.pub"
    "$tool" csr "atecc608:slot=0" --subject "CN=keyward demo atecc608,O=keyward" > "$T/atecc.csr"
    kw_issue_cert_csr "$T/ca" "$T/atecc.csr" "$T/atecc.crt"
    for v in 1.2 1.3; do run_client "ATECC608 (emulated)" "P-256 slot0" "atecc608:slot=0" "$T/atecc.crt" $v; done
fi

say "PKCS#11: a SoftHSM2 token"
kw_softhsm_setup "$T/hsm"
for k in ec-p256 rsa-2048; do
    "$tool" keygen "$(kw_p11_uri $k)" --type $k > "$T/$k.pub"
    echo "$k: generated on the token (CKA_SENSITIVE, not extractable)"
    "$tool" csr "$(kw_p11_uri $k)" --subject "CN=keyward demo $k,O=keyward" > "$T/$k.csr"
    kw_issue_cert_csr "$T/ca" "$T/$k.csr" "$T/$k.crt"
    for v in 1.2 1.3; do run_client "PKCS#11 (SoftHSM2)" "$k" "$(kw_p11_uri $k)" "$T/$k.crt" $v; done
done

say "Software key (file:), for comparison"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/soft.key" 2>/dev/null
openssl req -new -key "$T/soft.key" -subj "/CN=keyward demo software/O=keyward" -out "$T/soft.csr"
kw_issue_cert_csr "$T/ca" "$T/soft.csr" "$T/soft.crt"
for v in 1.2 1.3; do run_client "software (file:)" "ec-p256" "file:$T/soft.key" "$T/soft.crt" $v; done

say "Results (server: openssl s_server -Verify, client certificate subject checked on the server side)"
printf '%-22s %-12s %-8s %-26s %-7s %s\n' SE key TLS "CertificateVerify" result "client run"
printf '%s\n' "${rows[@]}"
if printf '%s\n' "${rows[@]}" | grep -q FAILED; then exit 1; fi
