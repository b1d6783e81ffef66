#!/usr/bin/env bash
# TLS 1.2 and 1.3 mutual authentication with the ATECC608 slot-0 key (on the
# emulator) against openssl s_server, gnutls-serv, nginx and ssl_server2.
# The certificate is issued from a CSR signed inside the chip.
set -u
HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
. "$KW_SOURCE_DIR/tests/tls/lib.sh"
. "$KW_SOURCE_DIR/tests/support/emu.sh"

KINDS=${KW_TLS_KINDS:-"openssl gnutls nginx mbedtls"}
SUBJ="CN=keyward atecc608 client,O=keyward"

kw_test_start atecc608_tls
kw_tmpdir T || exit 1
emu_start "$T" --time-scale 1 || exit 1
emu_provision "$SUBJ" "$T" || { echo "FAIL provisioning"; exit 1; }
kw_make_ca "$T" || exit 1
kw_issue_cert_csr "$T" "$T/csr.pem" "$T/client.pem" || exit 1
KEY="atecc608:slot=0;bus=$EMU_BUS"

for kind in $KINDS; do
    for ver in 1.2 1.3; do
        port=$(kw_free_port) || exit 1
        kw_start_server "$kind" "$T" "$port" "$ver" || { KW_FAIL=$((KW_FAIL + 1)); continue; }
        [ "$kind" = mbedtls ] && kw_server_mark mbedtls "$T"
        before=$(emu_stat cmd_sign)
        if "$KW_CLIENT" -v --tls-min "$ver" --tls-max "$ver" --cacert "$T/ca.pem" \
                --cert "$T/client.pem" --key "$KEY" "https://127.0.0.1:$port/" \
                >"$T/body" 2>"$T/err" &&
            kw_server_saw_subject "$kind" "$T" "$SUBJ" "$T/body" &&
            grep -q "protocol: TLSv$ver" "$T/err" &&
            [ "$(emu_stat cmd_sign)" = $((before + 1)) ]; then
            ok "$kind TLS $ver: $(grep 'signature algorithm' "$T/err" | sed 's/.*: //')"
        else
            echo "FAIL $kind TLS $ver"
            sed 's/^/#    /' "$T/err"
            KW_FAIL=$((KW_FAIL + 1))
        fi
        kw_stop_server "$kind" "$T"
    done
done
# A TLS 1.2 server that prefers a SHA-384 suite: Mbed TLS would then sign
# CertificateVerify with SHA-384, which the chip cannot; keyward-client must
# not offer such suites for this key, and the handshake must succeed.
port=$(kw_free_port) || exit 1
kw_start_server openssl "$T" "$port" 1.2 -serverpref \
    -cipher ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256 || exit 1
if "$KW_CLIENT" -v --tls-max 1.2 --cacert "$T/ca.pem" --cert "$T/client.pem" --key "$KEY" \
        "https://127.0.0.1:$port/" >"$T/body" 2>"$T/err" &&
    grep -q "ciphersuite: .*SHA256" "$T/err" && grep -q "signature algorithm: ecdsa_sha256" "$T/err"; then
    ok "openssl TLS 1.2 preferring a SHA-384 suite: $(sed -n 's/^\* ciphersuite: //p' "$T/err")"
else
    echo "FAIL openssl TLS 1.2 preferring a SHA-384 suite"
    sed 's/^/#    /' "$T/err"
    KW_FAIL=$((KW_FAIL + 1))
fi
kw_stop_server openssl "$T"
kw_test_done atecc608_tls
