# shellcheck shell=bash
# tests/certs/common.sh - helpers for the certificate-in-the-SE tests.
#
#   (ok, bad, expect_fail: tests/support/kwcheck.sh)
#   tls_case NAME CA PORT VER CN CERTREF KEYREF [--chain FILE]
#                              keyward-client against the nginx of CA: exit 0, TLS VER
#                              negotiated, and nginx saw the client certificate CN
#   issue_big DIR PUB CN OUT   like kw_issue_cert, with a long subjectAltName: the
#                              certificate is over 1024 bytes, more than one NV_Read
#   certs_done NAME            summary; status 0 only if nothing failed
# Needs KW_SOURCE_DIR, KW_CLIENT, KW_TOOL (ctest sets them).

# shellcheck source=../tls/lib.sh
. "${KW_SOURCE_DIR:?}/tests/tls/lib.sh"
: "${KW_CLIENT:?}" "${KW_TOOL:?}"

tls_case() {
    local name=$1 ca=$2 port=$3 ver=$4 cn=$5 cert=$6 key=$7 rc=0
    shift 7
    timeout 60 "$KW_CLIENT" -v --tls-min "$ver" --tls-max "$ver" --cacert "$ca/ca.pem" \
        --cert "$cert" --key "$key" "$@" "https://127.0.0.1:$port/" >"$T/body" 2>"$T/err" || rc=$?
    if [ "$rc" -eq 0 ] && grep -q "^\* protocol: TLSv$ver" "$T/err" && grep -q "^verify=SUCCESS" "$T/body" &&
        kw_server_saw_subject nginx "$ca" "/CN=$cn" "$T/body"; then
        ok "$name: TLS $ver, nginx saw CN=$cn"
    else
        bad "$name: TLS $ver (rc=$rc)"
        tail -n 8 "$T/err" | sed 's/^/#    /'
        sed 's/^/#    body: /' "$T/body" | head -n 5
    fi
}

issue_big() {
    local dir=$1 pub=$2 cn=$3 out=$4 san="DNS:localhost" i
    for ((i = 0; i < 40; i++)); do san+=",DNS:host-$i.devices.keyward.example"; done
    cat "$dir/ca-ext.cnf" >"$dir/big-ext.cnf"
    printf '[ v3_big ]\nbasicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\nextendedKeyUsage = clientAuth\nsubjectAltName = %s\n' \
        "$san" >>"$dir/big-ext.cnf"
    openssl x509 -new -force_pubkey "$pub" -subj "/CN=$cn/O=keyward tests" -CA "$dir/ca.pem" \
        -CAkey "$dir/ca.key" -set_serial "0x$(openssl rand -hex 16)" -sha256 -days 1 \
        -extfile "$dir/big-ext.cnf" -extensions v3_big -out "$out" 2>"$out.err" ||
        { cat "$out.err" >&2; return 1; }
}

certs_done() {
    kw_test_done "$1"
}
