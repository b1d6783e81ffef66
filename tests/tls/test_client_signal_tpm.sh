#!/usr/bin/env bash
# A keyward-client stopped by SIGTERM or SIGINT leaves nothing behind in a bare TPM (no resource
# manager): the signal ends the wait on the server, the client leaves through its normal cleanup
# and the TPM backend flushes the objects it loaded.  Reference case: SIGKILL (no cleanup at
# all) must leave objects behind here, or the check would prove nothing.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../support/swtpm.sh"
: "${KW_CLIENT:?}" "${KW_TOOL:?}"
command -v swtpm >/dev/null && command -v tpm2_getcap >/dev/null ||
    { echo "FAIL: swtpm or tpm2-tools missing (run scripts/install-deps.sh)"; exit 1; }
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3)
kw_tpm_init client_signal_tpm
kw_swtpm_start "$T/tpm" || exit 1
kw_make_ca "$T/ca" || exit 1
"$KW_TOOL" keygen "tpm2:file=$T/k.pem" --type ec-p256 > "$T/k.pub" || { bad "keygen"; kw_tpm_done; exit 1; }
kw_issue_cert "$T/ca" "$T/k.pub" "/CN=kw-tpm/O=keyward tests" "$T/k.crt" || exit 1
kw_tpm_flush

# A server that accepts the connection and never answers: the client waits in the handshake.
"$py" "$here/bad_server.py" --dir "$T/ca" --port-file "$T/port" hang > "$T/srv.log" 2>&1 &
srv=$!
kw_on_exit "kill $srv 2>/dev/null; wait $srv 2>/dev/null"
kw_wait_until 10 test -s "$T/port"
port=$(cat "$T/port") || exit 1

# stop_client SIG : start the client, wait until it is connected, send SIG; sets RC
stop_client() {
    env --default-signal=INT,TERM "$KW_CLIENT" --cacert "$T/ca/ca.pem" --cert "$T/k.crt" --key "tpm2:file=$T/k.pem" \
        "tls://127.0.0.1:$port" > "$T/out" 2> "$T/err" &
    local cpid=$!
    kw_wait_for_connection "$port" 10
    kill -s "$1" "$cpid"
    wait "$cpid" 2>/dev/null; RC=$?
}

stop_client KILL
if kw_tpm_clean > "$T/clean.log"; then
    bad "reference: SIGKILL left nothing in the TPM, so this test cannot tell cleanup from none"
else
    ok "reference: SIGKILL leaves $(grep -c 0x "$T/clean.log") object(s) behind"
fi
kw_tpm_flush

for sig in TERM INT; do
    want=143; [ $sig = INT ] && want=130
    stop_client $sig
    if [ "$RC" -ne $want ] || ! grep -q "interrupted by SIG$sig" "$T/err"; then
        bad "SIG$sig: exit $RC (want $want), stderr: $(cat "$T/err")"
    else
        ok "SIG$sig: exit $RC, $(cat "$T/err")"
    fi
    if kw_tpm_clean > "$T/clean.log"; then
        ok "SIG$sig: nothing left in the TPM"
    else
        bad "SIG$sig: left in the TPM: $(tr '\n' ' ' < "$T/clean.log")"
    fi
    kw_tpm_flush
done
kw_tpm_done
