#!/usr/bin/env bash
# The one-call TLS identity (keyward_tls_identity_open / _conf_identity / _close):
#  - the README example (examples/tls-identity/https_get.c) does mutual TLS 1.2 and 1.3
#    against nginx with a SoftHSM2 key, its certificate from a file and from the token;
#  - keyward-tool check-identity accepts the pair, and refuses another key's certificate
#    and a missing certificate, before any connection (exit 1, the step named).
set -u
. "$KW_SOURCE_DIR/tests/tls/lib.sh"
. "$KW_SOURCE_DIR/tests/support/softhsm_env.sh"

kw_test_start identity.pkcs11
kw_tmpdir T || exit 1
kw_softhsm_setup "$T/hsm" p256:EC:prime256v1 other:EC:prime256v1 || exit 1
kw_make_ca "$T" || exit 1
KEY=$(kw_p11_uri p256)
"$KW_TOOL" pubkey "$KEY" >"$T/p256.pub" || exit 1
kw_issue_cert "$T" "$T/p256.pub" "/CN=kw-identity/O=keyward tests" "$T/p256.pem" || exit 1
openssl x509 -in "$T/p256.pem" -outform DER -out "$T/p256.der" || exit 1
pkcs11-tool --module "$KW_P11_MODULE" --token-label "$KW_P11_TOKEN" --login --pin "$KW_P11_PIN" \
    --write-object "$T/p256.der" --type cert --label p256-cert --id 51 >/dev/null 2>&1 || exit 1
CERTREF="pkcs11:token=$KW_P11_TOKEN;object=p256-cert;type=cert?module-path=$KW_P11_MODULE&pin-value=$KW_P11_PIN"

for cert in "$T/p256.pem" "$CERTREF"; do
    what=file; [ "$cert" = "$CERTREF" ] && what=token
    for ver in 1.2 1.3; do
        port=$(kw_free_port) || exit 1
        kw_start_server nginx "$T" "$port" "$ver" || { bad "nginx $ver"; continue; }
        if "$KW_EXAMPLE" "$T/ca.pem" "$cert" "$KEY" 127.0.0.1 "$port" >"$T/body" 2>"$T/err" &&
            grep -q "protocol=TLSv$ver" "$T/body" && grep -q "verify=SUCCESS" "$T/body" &&
            grep -q "CN=kw-identity" "$T/body"; then
            ok "example, certificate from $what, TLS $ver: $(head -1 "$T/err")"
        else
            bad "example, certificate from $what, TLS $ver"; sed 's/^/#    /' "$T/err" "$T/body"
        fi
        kw_stop_server nginx "$T"
    done
done

if out=$("$KW_TOOL" check-identity "$CERTREF" "$KEY" 2>&1) && [[ $out == "identity ok: "*"CN=kw-identity"* ]]; then
    ok "check-identity, the pair: $out"
else
    bad "check-identity, the pair: $out"
fi
out=$("$KW_TOOL" check-identity "$T/p256.pem" "$(kw_p11_uri other)" 2>&1); rc=$?
if [ $rc = 1 ] && [[ $out == *"not the key's public key"* ]] && [[ $out != *"pin-value=$KW_P11_PIN"* ]]; then
    ok "check-identity, another key -> 1: $out"
else
    bad "check-identity, another key (exit $rc): $out"
fi
out=$("$KW_TOOL" check-identity "$T/nonexistent.pem" "$KEY" 2>&1); rc=$?
if [ $rc = 1 ] && [[ $out == *"PSA_ERROR_DOES_NOT_EXIST"*"cannot load the certificate"* ]]; then
    ok "check-identity, no certificate -> 1: $out"
else
    bad "check-identity, no certificate (exit $rc): $out"
fi
# A port nobody listens on: the identity fails before the connection would.
port=$(kw_free_port) || exit 1
out=$("$KW_EXAMPLE" "$T/ca.pem" "$T/p256.pem" "$(kw_p11_uri other)" 127.0.0.1 "$port" 2>&1); rc=$?
if [ $rc = 1 ] && [[ $out == "TLS identity: "*"not the key's public key"* ]]; then
    ok "example, another key: refused before connecting"
else
    bad "example, another key (exit $rc): $out"
fi
kw_test_done identity.pkcs11
