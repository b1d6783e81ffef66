#!/usr/bin/env bash
# Mutual TLS with SoftHSM2-held client keys against one real server:
# {TLS 1.2, 1.3} x {P-256, P-384, RSA-2048, RSA-3072}; the server must have
# seen the client certificate's subject; a certificate whose key is not the
# SE key must be refused before connecting (exit 58).
#   test_matrix_pkcs11.sh openssl|gnutls|nginx|mbedtls
set -u
kind=${1:?server kind}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/../support/softhsm_env.sh"
: "${KW_CLIENT:?}" "${KW_TOOL:?}"
kw_test_start "tls.pkcs11.$kind"
kw_tmpdir T || exit 1
kw_softhsm_setup "$T/hsm" p256:EC:prime256v1 p384:EC:secp384r1 rsa2048:rsa:2048 rsa3072:rsa:3072 || exit 1
kw_make_ca "$T/ca" || exit 1
for k in p256 p384 rsa2048 rsa3072; do
    "$KW_TOOL" pubkey "$(kw_p11_uri $k)" > "$T/$k.pub" || { echo "pubkey $k failed"; exit 1; }
    kw_issue_cert "$T/ca" "$T/$k.pub" "/CN=kw-$k/O=keyward tests" "$T/$k.crt" || exit 1
done
# a P-256 key outside the token: its certificate has the right type and size for the p256 SE key
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/soft.key" 2>/dev/null &&
    openssl pkey -in "$T/soft.key" -pubout -out "$T/soft.pub" || exit 1
kw_issue_cert "$T/ca" "$T/soft.pub" "/CN=kw-soft/O=keyward tests" "$T/soft.crt" || exit 1
port=$(kw_free_port)
kw_start_server "$kind" "$T/ca" "$port" || exit 1

for v in 1.2 1.3; do
    for k in p256 p384 rsa2048 rsa3072; do
        name="$kind TLS $v $k"
        kw_server_mark "$kind" "$T/ca"
        if "$KW_CLIENT" -v --tls-min $v --tls-max $v --cacert "$T/ca/ca.pem" --cert "$T/$k.crt" \
               --key "$(kw_p11_uri $k)" "https://127.0.0.1:$port/" > "$T/body" 2> "$T/err"; then
            sigalg=$(sed -n 's/^\* client signature algorithm: //p' "$T/err")
            proto=$(sed -n 's/^\* protocol: //p' "$T/err")
            want_sig=ecdsa; [ "${k#rsa}" != "$k" ] && { [ $v = 1.3 ] && want_sig=rsa_pss || want_sig=rsa_pkcs1; }
            if [ "$proto" != "TLSv$v" ]; then
                bad "$name: negotiated $proto"
            elif [ "${sigalg#"$want_sig"}" = "$sigalg" ]; then
                bad "$name: CertificateVerify with '$sigalg', expected $want_sig*"
            elif kw_server_saw_subject "$kind" "$T/ca" "CN=kw-$k" "$T/body"; then
                ok "$name ($proto, $sigalg)"
            else
                echo "FAIL $name: server did not report CN=kw-$k"; cat "$T/body"; KW_FAIL=$((KW_FAIL + 1))
            fi
        else
            echo "FAIL $name: client failed"; cat "$T/err"; KW_FAIL=$((KW_FAIL + 1))
        fi
    done
done

# The P-256 certificate with the P-384 or the RSA-2048 SE key, the RSA-2048 certificate with the
# RSA-3072 key, another P-256 key's certificate with the P-256 SE key: refused before connecting
# (58), with a message naming both.
for pair in p256:p384 p256:rsa2048 rsa2048:rsa3072 soft:p256; do
    c=${pair%%:*} k=${pair#*:}
    for v in 1.2 1.3; do
        rc=0
        "$KW_CLIENT" --tls-min $v --tls-max $v --cacert "$T/ca/ca.pem" --cert "$T/$c.crt" \
            --key "$(kw_p11_uri $k)" "https://127.0.0.1:$port/" > "$T/body" 2> "$T/err" || rc=$?
        if [ $rc -ne 58 ]; then
            echo "FAIL $kind TLS $v $c certificate with the $k key: exit $rc, expected 58"
            cat "$T/err"; KW_FAIL=$((KW_FAIL + 1))
        elif grep -qF "pin-value=$KW_P11_PIN" "$T/err"; then
            bad "$kind TLS $v $c certificate with the $k key: the message shows the PIN"
        elif ! grep -q "client certificate $T/$c.crt does not match the key pkcs11:.*object=$k" "$T/err"; then
            echo "FAIL $kind TLS $v $c certificate with the $k key: message does not name both"
            cat "$T/err"; KW_FAIL=$((KW_FAIL + 1))
        else
            ok "$kind TLS $v $c certificate with the $k key refused: $(tail -n1 "$T/err")"
        fi
    done
done
kw_test_done "tls.pkcs11.$kind"
