#!/usr/bin/env bash
# Certificates kept in a PKCS#11 token (SoftHSM2), issue 9:
#  - a certificate written by pkcs11-tool serves keyward-client as --cert (type=cert URI) for
#    mutual TLS 1.2 and 1.3 against nginx; the same with an intermediate from --chain;
#  - a certificate stored by keyward-tool cert-store reads back equal with pkcs11-tool;
#  - bad input: zero or several matching certificates, no type=cert, cert-store over an
#    existing object without --force: each a clear error and a non-zero exit.
set -u
HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/common.sh"
. "$KW_SOURCE_DIR/tests/support/softhsm_env.sh"
kw_test_start certs_pkcs11
kw_tmpdir T || exit 1
kw_softhsm_setup "$T/hsm" p256:EC:prime256v1 rsa2048:rsa:2048 || exit 1
CA=$T/ca
kw_make_ca "$CA" || exit 1
M=$KW_P11_MODULE
p11() { pkcs11-tool --module "$M" --token-label "$KW_P11_TOKEN" "$@"; }
# certref LABEL : the type=cert URI of the certificate object LABEL
certref() {
    printf 'pkcs11:token=%s;object=%s;type=cert?module-path=%s&pin-value=%s' \
        "$KW_P11_TOKEN" "$1" "$M" "$KW_P11_PIN"
}

# Certificates for the two token keys, put in the token by pkcs11-tool (DER), next to the keys.
for k in p256:41 rsa2048:42; do
    id=${k#*:} k=${k%%:*}
    "$KW_TOOL" pubkey "$(kw_p11_uri "$k")" >"$T/$k.pub" || { bad "pubkey $k"; exit 1; }
    kw_issue_cert "$CA" "$T/$k.pub" "/CN=kw-cert-$k/O=keyward tests" "$T/$k.pem" || exit 1
    openssl x509 -in "$T/$k.pem" -outform DER -out "$T/$k.der" || exit 1
    p11 --login --pin "$KW_P11_PIN" --write-object "$T/$k.der" --type cert --label "$k-cert" \
        --id "$id" >/dev/null 2>&1 ||
        { bad "pkcs11-tool --write-object $k"; exit 1; }
done

# A chain: root CA -> intermediate -> client certificate (P-256 key), client cert in the token.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/int.key" 2>/dev/null &&
    openssl req -new -key "$T/int.key" -subj "/CN=keyward test intermediate" -out "$T/int.csr" &&
    openssl x509 -req -in "$T/int.csr" -CA "$CA/ca.pem" -CAkey "$CA/ca.key" -sha256 -days 1 \
        -set_serial "0x$(openssl rand -hex 16)" -extfile "$CA/ca-ext.cnf" -extensions v3_ca \
        -out "$T/int.pem" 2>/dev/null &&
    openssl x509 -new -force_pubkey "$T/p256.pub" -subj "/CN=kw-cert-chained/O=keyward tests" \
        -CA "$T/int.pem" -CAkey "$T/int.key" -set_serial "0x$(openssl rand -hex 16)" -sha256 \
        -days 1 -extfile "$CA/ca-ext.cnf" -extensions v3_client -out "$T/chained.pem" 2>/dev/null &&
    openssl x509 -in "$T/chained.pem" -outform DER -out "$T/chained.der" &&
    p11 --login --pin "$KW_P11_PIN" --write-object "$T/chained.der" --type cert \
        --label chained-cert --id 43 >/dev/null 2>&1 || { bad "chain fixture"; exit 1; }

port=$(kw_free_port) || exit 1
kw_start_server nginx "$CA" "$port" || exit 1
for v in 1.2 1.3; do
    tls_case "pkcs11-tool's certificate object, P-256 key" "$CA" "$port" "$v" kw-cert-p256 \
        "$(certref p256-cert)" "$(kw_p11_uri p256)"
    tls_case "pkcs11-tool's certificate object, RSA-2048 key" "$CA" "$port" "$v" kw-cert-rsa2048 \
        "$(certref rsa2048-cert)" "$(kw_p11_uri rsa2048)"
    tls_case "certificate object matched by id= alone" "$CA" "$port" "$v" kw-cert-p256 \
        "pkcs11:token=$KW_P11_TOKEN;id=%41;type=cert?module-path=$M&pin-value=$KW_P11_PIN" \
        "$(kw_p11_uri p256)"
    tls_case "certificate object + intermediate from --chain" "$CA" "$port" "$v" kw-cert-chained \
        "$(certref chained-cert)" "$(kw_p11_uri p256)" --chain "$T/int.pem"
done
# Without --chain nginx cannot build the path to its CA: the intermediate really came from there.
# (nginx answers such a client with an HTTP 400 page, not with an alert.)
"$KW_CLIENT" --cacert "$CA/ca.pem" --cert "$(certref chained-cert)" --key "$(kw_p11_uri p256)" \
    "https://127.0.0.1:$port/" >"$T/body" 2>"$T/err"
if grep -q "verify=SUCCESS" "$T/body" || kw_server_saw_subject nginx "$CA" "/CN=kw-cert-chained" "$T/body"; then
    bad "the chained certificate without --chain was accepted by nginx"
else
    ok "the chained certificate without --chain is not accepted by nginx"
fi
kw_stop_server nginx "$CA"
if "${KW_TEST_CERT:?}" "$(kw_p11_uri p256)" "$(certref p256-cert)" "$T/p256.pem" >"$T/out" 2>&1; then
    ok "library: cert object and key of one token in one process (test_cert)"
else
    bad "test_cert"; grep -v '^ok' "$T/out" | sed 's/^/#    /'
fi

# keyward-tool cert-store, read back by pkcs11-tool; cert-get prints the same certificate.
if "$KW_TOOL" cert-store "$(certref stored)" "$T/rsa2048.pem" >"$T/out" 2>&1 &&
    p11 --read-object --type cert --label stored -o "$T/back.der" >/dev/null 2>&1 &&
    cmp -s "$T/back.der" "$T/rsa2048.der"; then
    ok "cert-store (PEM in), pkcs11-tool --read-object gives the same DER"
else
    bad "cert-store then pkcs11-tool --read-object"; sed 's/^/#    /' "$T/out"
fi
if "$KW_TOOL" cert-get "$(certref stored)" >"$T/got.pem" 2>"$T/out" &&
    openssl x509 -in "$T/got.pem" -outform DER | cmp -s - "$T/rsa2048.der"; then
    ok "cert-get prints it as PEM"
else
    bad "cert-get"; sed 's/^/#    /' "$T/out"
fi
if p11 --list-objects --type cert 2>/dev/null | grep -A4 "label: *stored" | grep -q "subject:.*kw-cert-rsa2048"; then
    ok "the stored object carries CKA_SUBJECT (pkcs11-tool shows the subject)"
else
    bad "stored object without a subject"; p11 --list-objects --type cert 2>&1 | sed 's/^/#    /'
fi

# Bad input.
expect_fail "cert-store over an existing object without --force" "ALREADY_EXISTS.*--force" \
    "$KW_TOOL" cert-store "$(certref stored)" "$T/p256.pem"
if "$KW_TOOL" cert-store "$(certref stored)" "$T/p256.der" --force >"$T/out" 2>&1 &&
    p11 --read-object --type cert --label stored -o "$T/back.der" >/dev/null 2>&1 &&
    cmp -s "$T/back.der" "$T/p256.der" &&
    [ "$(p11 --list-objects --type cert 2>/dev/null | grep -c 'label: *stored$')" -eq 1 ]; then
    ok "cert-store --force (DER in) replaces it: one object, the new certificate"
else
    bad "cert-store --force"; sed 's/^/#    /' "$T/out"
fi
expect_fail "a type=cert URI matching no certificate (cert-get)" "DOES_NOT_EXIST.*no PKCS#11 certificate" \
    "$KW_TOOL" cert-get "$(certref nothing-here)"
rc=0
"$KW_CLIENT" --cacert "$CA/ca.pem" --cert "$(certref nothing-here)" --key "$(kw_p11_uri p256)" \
    "https://127.0.0.1:1/" >/dev/null 2>"$T/err" || rc=$?
if [ "$rc" -eq 58 ] && grep -q "no PKCS#11 certificate" "$T/err" && ! grep -q "pin-value" "$T/err"; then
    ok "keyward-client --cert matching nothing: exit 58, says why, no PIN in the message"
else
    bad "keyward-client --cert matching nothing: exit $rc"; sed 's/^/#    /' "$T/err"
fi
# Two certificates under one label (pkcs11-tool writes a second one happily).
p11 --login --pin "$KW_P11_PIN" --write-object "$T/rsa2048.der" --type cert --label p256-cert \
    --id 44 >/dev/null 2>&1 || bad "second p256-cert object"
expect_fail "a type=cert URI matching two certificates (cert-get)" "INVALID_ARGUMENT.*several certificate" \
    "$KW_TOOL" cert-get "$(certref p256-cert)"
expect_fail "a type=cert URI matching two certificates (keyward-client)" "several certificate" \
    "$KW_CLIENT" --cacert "$CA/ca.pem" --cert "$(certref p256-cert)" --key "$(kw_p11_uri p256)" \
    "https://127.0.0.1:1/"
expect_fail "a certificate URI without type=cert" "type=cert" \
    "$KW_TOOL" cert-get "pkcs11:token=$KW_P11_TOKEN;object=p256-cert?module-path=$M&pin-value=$KW_P11_PIN"
expect_fail "cert-store of a file that is no certificate" "DATA_INVALID" \
    "$KW_TOOL" cert-store "$(certref junk)" "$T/p256.pub"
certs_done certs_pkcs11
