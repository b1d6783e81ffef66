#!/usr/bin/env bash
# Issue 7 section 2: a PIN or TPM auth value given in a KEYREF never shows in
# any output (stdout + stderr) of keyward-tool or keyward-client, -v
# included, whether the command succeeds or fails; and it never lands in a
# key file or in PSA storage.  Every command's outcome is checked too, so
# that the scan covers the paths it claims to cover.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../support/swtpm.sh"             # tests/tls/lib.sh, swtpm helpers, ok/bad
. "$here/../support/softhsm_env.sh"
: "${KW_CLIENT:?}" "${KW_TOOL:?}"
kw_tpm_init secrets.no_leak
cd "$T" || exit 1                       # PSA storage, if any, lands here
# kw_has_backend NAME: NAME is in this build (KW_BACKENDS, tests/CMakeLists.txt); the
# cases of a backend that is not are skipped, and say so.
kw_has_backend() { case " ${KW_BACKENDS-pkcs11 tpm2} " in *" $1 "*) return 0 ;; esac; return 1; }
kw_has_backend pkcs11 || kw_has_backend tpm2 || { bad "neither pkcs11 nor tpm2 in this build"; kw_tpm_done; exit 1; }

PIN=Kw7pinQ3x9          # the token's PIN: distinctive, easy to grep
WRONG=Wr0ngPinZ8v       # a wrong one must not leak either
AUTH=Au7thV4lue5        # TPM key auth value
LOG=$T/all-output.log
: >"$LOG"

# expect 0|fail NAME CMD... : runs CMD, appends its stdout+stderr to $LOG,
# checks success (0) or failure (fail).
expect() {
    local want=$1 name=$2 rc
    shift 2
    printf '\n### %s\n' "$name" >>"$LOG"
    "$@" >>"$LOG" 2>&1
    rc=$?
    if [ "$want" = 0 ] && [ $rc -eq 0 ]; then ok "$name"
    elif [ "$want" = fail ] && [ $rc -ne 0 ]; then ok "$name (fails: rc $rc)"
    else bad "$name: exit $rc"; tail -n 3 "$LOG" | sed 's/^/#    /'
    fi
}

kw_make_ca "$T/ca" || exit 1
port=$(kw_free_port)
kw_start_server mbedtls "$T/ca" "$port" || exit 1
url=https://127.0.0.1:$port/

if kw_has_backend pkcs11; then
    # ---- PKCS#11 (SoftHSM2) with pin-value ----
    KW_P11_PIN_SET=$PIN kw_softhsm_setup "$T/hsm" p256:EC:prime256v1 rsa2048:rsa:2048 || exit 1
    m=$KW_P11_MODULE tk=$KW_P11_TOKEN
    uri() { printf 'pkcs11:token=%s;object=%s?module-path=%s&pin-value=%s' "$tk" "$1" "$m" "${2:-$PIN}"; }

    expect fail "tool pubkey, wrong PIN" "$KW_TOOL" pubkey "$(uri p256 "$WRONG")"
    expect 0 "tool pubkey" sh -c "\"$KW_TOOL\" pubkey '$(uri p256)' > '$T/p256.pub'"
    expect 0 "tool csr" "$KW_TOOL" csr "$(uri rsa2048)" --subject "CN=leak"
    expect fail "tool csr without --subject" "$KW_TOOL" csr "$(uri p256)"
    expect fail "tool pubkey, no such object" "$KW_TOOL" pubkey "$(uri nosuch)"
    expect fail "tool pubkey, duplicate pin-value" "$KW_TOOL" pubkey "$(uri p256)&pin-value=$WRONG"
    expect fail "tool pubkey, type=public" "$KW_TOOL" pubkey "pkcs11:token=$tk;object=p256;type=public?module-path=$m&pin-value=$PIN"
    expect fail "tool pubkey, unknown scheme" "$KW_TOOL" pubkey "pkcs12:token=$tk?pin-value=$PIN"
    expect fail "tool pubkey, bad module" "$KW_TOOL" pubkey "pkcs11:object=p256?module-path=/nonexistent.so&pin-value=$PIN"
    expect fail "tool pubkey, malformed URI" "$KW_TOOL" pubkey "pkcs11:object=%zz?pin-value=$PIN"
    expect 0 "tool keygen" "$KW_TOOL" keygen "pkcs11:token=$tk;object=gen?module-path=$m&pin-value=$PIN" --type ec-p256
    expect fail "tool keygen, label exists" "$KW_TOOL" keygen "pkcs11:token=$tk;object=gen?module-path=$m&pin-value=$PIN" --type ec-p256
    expect fail "tool keygen, bad type" "$KW_TOOL" keygen "$(uri x)" --type ec-p1
    expect fail "tool, unknown option" "$KW_TOOL" pubkey "$(uri p256)" --pin-value="$PIN"
    expect fail "tool cert-get, a KEYREF as a stray argument" "$KW_TOOL" cert-get "pkcs11:token=$tk;object=p256;type=cert?module-path=$m" "$(uri p256)"

    kw_issue_cert "$T/ca" "$T/p256.pub" "/CN=kw-leak/O=keyward tests" "$T/p256.crt" || exit 1
    cl() { "$KW_CLIENT" -v --cacert "$T/ca/ca.pem" --cert "$T/p256.crt" "$@"; }
    expect 0 "client -v, TLS 1.3" cl --tls-max 1.3 --key "$(uri p256)" "$url"
    expect 0 "client -v, TLS 1.2" cl --tls-max 1.2 --key "$(uri p256)" "$url"
    expect fail "client -v, wrong PIN" cl --key "$(uri p256 "$WRONG")" "$url"
    expect fail "client -v, key does not match the certificate" cl --key "$(uri rsa2048)" "$url"
    expect fail "client -v, no server" cl --key "$(uri p256)" "https://127.0.0.1:$(kw_free_port)/"
    expect fail "client -v, KEYREF in the URL's place" "$KW_CLIENT" -v --cacert "$T/ca/ca.pem" --cert "$T/p256.crt" --key "$(uri p256)" "$(uri p256)"
    expect fail "client -v, bad KEYREF" cl --key "pkcs11:object=p256?pin-value=$PIN&pin-value=$PIN" "$url"
else
    echo "skip: the PKCS#11 cases (no pkcs11 backend in this build)"
fi

if kw_has_backend tpm2; then
    # ---- TPM 2.0 (swtpm) with auth=str: and parent-auth= ----
    kw_swtpm_start "$T/tpm" || exit 1
    tk2="tpm2:file=$T/auth.pem;auth=str:$AUTH"
    expect 0 "tool keygen, TPM key with auth" sh -c "\"$KW_TOOL\" keygen '$tk2' --type ec-p256 > '$T/tpm.pub'"
    expect 0 "tool csr, TPM key with auth" "$KW_TOOL" csr "$tk2" --subject "CN=leak"
    expect fail "tool csr, TPM key, wrong auth" "$KW_TOOL" csr "tpm2:file=$T/auth.pem;auth=str:$WRONG" --subject "CN=leak"
    expect fail "tool keygen, owner auth that is wrong" "$KW_TOOL" keygen "tpm2:file=$T/p.pem;parent-auth=str:$WRONG" --type ec-p256
    expect fail "tool pubkey, repeated auth=" "$KW_TOOL" pubkey "$tk2;auth=str:$WRONG"
    expect fail "tool pubkey, unknown attribute" "$KW_TOOL" pubkey "tpm2:file=$T/auth.pem;bogus=1;auth=str:$AUTH"
    expect fail "tool pubkey, absent file" "$KW_TOOL" pubkey "tpm2:file=$T/none.pem;auth=hex:$(printf %s "$AUTH" | od -An -tx1 | tr -d ' \n')"
    kw_issue_cert "$T/ca" "$T/tpm.pub" "/CN=kw-leak-tpm/O=keyward tests" "$T/tpm.crt" || exit 1
    expect 0 "client -v, TPM key with auth" "$KW_CLIENT" -v --cacert "$T/ca/ca.pem" --cert "$T/tpm.crt" --key "$tk2" "$url"
    expect fail "client -v, TPM key, wrong auth" "$KW_CLIENT" -v --cacert "$T/ca/ca.pem" --cert "$T/tpm.crt" --key "tpm2:file=$T/auth.pem;auth=str:$WRONG" "$url"
else
    echo "skip: the TPM 2.0 cases (no tpm2 backend in this build)"
fi

# ---- the scan ----
for s in "$PIN" "$WRONG" "$AUTH"; do
    n=$(grep -c -F -- "$s" "$LOG")
    if [ "$n" -eq 0 ]; then ok "'$s' appears in no output"
    else bad "'$s' appears $n times in the output:"; grep -n -F -- "$s" "$LOG" | head -n 5 | sed 's/^/#    /'
    fi
done
{ ! kw_has_backend pkcs11 || grep -q -F 'pin-value=***' "$LOG"; } &&
    { ! kw_has_backend tpm2 || grep -q -F 'auth=***' "$LOG"; } \
    && ok "failures show the KEYREF, masked" || bad "no masked KEYREF in any message"
hex=$(printf %s "$AUTH" | od -An -tx1 | tr -d ' \n')
for f in "$T"/*.pem "$T"/*.psa_its; do
    [ -e "$f" ] || continue
    if grep -q -F -e "$PIN" -e "$AUTH" "$f" || od -An -tx1 "$f" | tr -d ' \n' | grep -q "$hex"; then
        bad "$(basename "$f") holds a secret"
    else ok "$(basename "$f") holds no secret"
    fi
done
kw_tpm_done
