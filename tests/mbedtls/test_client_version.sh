#!/usr/bin/env bash
# keyward-client -v names the Mbed TLS it was built with (and, on 4.x, its
# TF-PSA-Crypto), during a real mutual-TLS handshake with an SE key.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tls/lib.sh"
. "$here/../support/softhsm_env.sh"
: "${KW_CLIENT:?}" "${KW_TOOL:?}" "${KW_MBEDTLS_VERSION:?}"
kw_test_start mbedtls.client_version
kw_tmpdir T || exit 1
kw_softhsm_setup "$T/hsm" p256:EC:prime256v1 || exit 1
kw_make_ca "$T/ca" || exit 1
"$KW_TOOL" pubkey "$(kw_p11_uri p256)" > "$T/p256.pub" || exit 1
kw_issue_cert "$T/ca" "$T/p256.pub" "/CN=kw-version" "$T/p256.crt" || exit 1
port=$(kw_free_port)
kw_start_server openssl "$T/ca" "$port" || exit 1
"$KW_CLIENT" -v --cacert "$T/ca/ca.pem" --cert "$T/p256.crt" --key "$(kw_p11_uri p256)" \
    "https://127.0.0.1:$port/" > "$T/body" 2> "$T/err" || { echo "FAIL handshake"; cat "$T/err"; exit 1; }
line=$(sed -n 's/^\* built with //p' "$T/err")
want="Mbed TLS $KW_MBEDTLS_VERSION"
case "$KW_MBEDTLS_VERSION" in 4.*) want="$want (TF-PSA-Crypto 1." ;; esac
case "$line" in
    "$want"*) ok "keyward-client -v: built with $line" ;;
    *) bad "keyward-client -v said '$line', expected '$want...'" ;;
esac
kw_test_done
