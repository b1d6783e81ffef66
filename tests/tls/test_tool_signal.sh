#!/usr/bin/env bash
# keyward-tool and SIGTERM/SIGINT: a signal during a slow SE operation (key generation on an
# ATECC608 emulator slowed down 4 times) lets the operation finish, then the tool leaves through
# its cleanup (keyward_deinit), says so, and exits 143 / 130.  The chip keeps working after.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/../support/emu.sh"
: "${KW_TOOL:?}" "${KW_EMU:?}"
kw_test_start tls.tool_signal
kw_tmpdir T || exit 1

# Provision at nominal speed, then restart the same chip (state file) slowed down.
emu_start "$T" || exit 1
"$KW_TOOL" provision "atecc608:bus=$EMU_BUS" > "$T/provision.log" 2>&1 ||
    { cat "$T/provision.log"; exit 1; }
kill "$EMU_PID"; wait "$EMU_PID" 2>/dev/null
emu_start "$T" --time-scale 4 || exit 1

slot=1
for sig in TERM INT; do
    genkeys=$(emu_stat cmd_genkey)
    env --default-signal=INT,TERM "$KW_TOOL" keygen "atecc608:slot=$slot;bus=$EMU_BUS" --type ec-p256 > "$T/pub" 2> "$T/err" &
    tpid=$!
    # wait until the chip is executing the GenKey (its counter moved), then signal the tool
    for ((i = 0; i < 400; i++)); do
        [ "$(emu_stat cmd_genkey)" -gt "$genkeys" ] && break
        sleep 0.05
    done
    kill -s "$sig" "$tpid"
    wait "$tpid"; rc=$?
    want=143; [ $sig = INT ] && want=130
    if [ $rc -ne $want ] || ! grep -q "interrupted by SIG$sig" "$T/err"; then
        bad "SIG$sig during keygen: exit $rc (want $want), stderr: $(cat "$T/err")"
    else
        ok "SIG$sig during keygen: exit $rc, $(cat "$T/err")"
    fi
    # the chip answers the next command normally
    if "$KW_TOOL" info "atecc608:bus=$EMU_BUS" > "$T/info" 2>&1; then
        ok "chip usable after SIG$sig"
    else
        bad "chip not usable after SIG$sig: $(cat "$T/info")"
    fi
    slot=$((slot + 1))
done
kw_test_done tls.tool_signal
