#!/usr/bin/env bash
# Does keyward-client's exit status tell whether the server accepted the client certificate?
# Against one server KIND (openssl gnutls nginx mbedtls mosquitto), TLS 1.2 and 1.3:
#   - a certificate from the CA the server trusts: tls:// exits 0 (and https:// exits 0 and the
#     server saw the subject, where the server speaks HTTP);
#   - the same key, certificate from another CA (an untrusted chain): tls:// exits 35 with a
#     one-line reason naming the rejection; nginx judges the certificate only when the HTTP
#     request comes (its TLS handshake succeeds whatever the chain), so there https:// must exit
#     22 (HTTP 400) with nginx's reason on stderr; the other HTTP servers: https:// exits 35;
#   - the certificate of another key: 58 before any connection, naming both.
#   test_client_verdict.sh KIND
set -u
kind=${1:?server kind}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
: "${KW_CLIENT:?}"
kw_test_start "tls.client_verdict.$kind"
kw_tmpdir T || exit 1
kw_make_ca "$T/ca" || exit 1
kw_make_ca "$T/other" || exit 1
for k in k k2; do
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/$k.key" 2>/dev/null &&
        openssl pkey -in "$T/$k.key" -pubout -out "$T/$k.pub" || exit 1
done
kw_issue_cert "$T/ca" "$T/k.pub" "/CN=kw-good/O=keyward tests" "$T/good.crt" || exit 1
kw_issue_cert "$T/other" "$T/k.pub" "/CN=kw-untrusted/O=keyward tests" "$T/untrusted.crt" || exit 1
port=$(kw_free_port) || exit 1
kw_start_server "$kind" "$T/ca" "$port" || exit 1


# run NAME WANT-STATUS STDERR-REGEX CERT KEYREF URL [ARGS...]
run() {
    local name=$1 want=$2 re=$3 cert=$4 key=$5 url=$6 rc
    shift 6
    "$KW_CLIENT" "$@" --cacert "$T/ca/ca.pem" --cert "$cert" --key "$key" "$url" \
        > "$T/out" 2> "$T/err"; rc=$?
    if [ $rc -ne "$want" ]; then
        bad "$name: exit $rc, expected $want"; sed 's/^/#    /' "$T/err"; return 1
    elif [ -n "$re" ] && ! grep -Eq -- "$re" "$T/err"; then
        bad "$name: stderr does not match /$re/"; sed 's/^/#    /' "$T/err"; return 1
    fi
    ok "$name (exit $rc) $(grep -v '^\*' "$T/err" | head -n 1)"
}

http=1; [ "$kind" = mosquitto ] && http=""
for v in 1.2 1.3; do
    tv=(--tls-min "$v" --tls-max "$v")
    run "TLS $v good certificate tls://" 0 '' "$T/good.crt" "file:$T/k.key" "tls://127.0.0.1:$port" "${tv[@]}"
    if [ -n "$http" ]; then
        kw_server_mark "$kind" "$T/ca"
        if run "TLS $v good certificate https://" 0 '' "$T/good.crt" "file:$T/k.key" "https://127.0.0.1:$port/" "${tv[@]}"; then
            kw_server_saw_subject "$kind" "$T/ca" "CN=kw-good" "$T/out" && ok "TLS $v server saw CN=kw-good" ||
                bad "TLS $v server did not report CN=kw-good"
        fi
    fi
    if [ "$kind" = nginx ]; then
        run "TLS $v untrusted chain https://" 22 'HTTP 400' "$T/untrusted.crt" "file:$T/k.key" \
            "https://127.0.0.1:$port/" "${tv[@]}" &&
            { grep -q 'SSL certificate error' "$T/err" && [ ! -s "$T/out" ] &&
                  ok "TLS $v nginx's reason on stderr" || bad "TLS $v nginx's reason not on stderr"; }
    else
        run "TLS $v untrusted chain tls://" 35 'rejected the (client )?certificate' "$T/untrusted.crt" \
            "file:$T/k.key" "tls://127.0.0.1:$port" "${tv[@]}" &&
            { [ "$(grep -vc '^\*' "$T/err")" -eq 1 ] && ok "TLS $v one-line reason" ||
                  bad "TLS $v reason is not one line"; }
        [ -n "$http" ] && run "TLS $v untrusted chain https://" 35 'rejected the (client )?certificate' \
            "$T/untrusted.crt" "file:$T/k.key" "https://127.0.0.1:$port/" "${tv[@]}"
    fi
    run "TLS $v certificate of another key" 58 \
        "client certificate $T/good.crt does not match the key file:$T/k2.key" \
        "$T/good.crt" "file:$T/k2.key" "tls://127.0.0.1:$port" "${tv[@]}"
done
kw_test_done "tls.client_verdict.$kind"
