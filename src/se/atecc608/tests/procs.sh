#!/usr/bin/env bash
# Issue 7 section 3: one ATECC608 shared by several processes.  8 processes
# x 25 mutual-TLS handshakes (keyward-client, nginx, TLS 1.2 and 1.3
# alternating) against one emulated chip must all succeed, and the chip
# must be intact after: same configuration and public key, exactly one Sign
# per handshake, no error status, no CRC error, no watchdog expiry, no wake
# that found the chip already awake (two processes inside one session), and
# every wake ... idle session well inside the 1.3 s watchdog.
set -u
HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
. "$KW_SOURCE_DIR/tests/tls/lib.sh"
. "$KW_SOURCE_DIR/tests/support/emu.sh"

PROCS=${KW_PROCS:-8}
EACH=${KW_EACH:-25}
SUBJ="CN=keyward atecc608 shared,O=keyward"

kw_test_start atecc608_procs
kw_tmpdir T || exit 1
emu_start "$T" --time-scale 0.5 || exit 1
emu_provision "$SUBJ" "$T" || { echo "FAIL provisioning"; exit 1; }
kw_make_ca "$T" || exit 1
kw_issue_cert_csr "$T" "$T/csr.pem" "$T/client.pem" || exit 1
KEY="atecc608:slot=0;bus=$EMU_BUS"
port=$(kw_free_port) || exit 1
kw_start_server nginx "$T" "$port" "" || exit 1

"$KW_TOOL" info "atecc608:bus=$EMU_BUS" >"$T/info.before" || { echo "FAIL info"; exit 1; }
"$KW_TOOL" pubkey "$KEY" >"$T/pub.before" || { echo "FAIL pubkey"; exit 1; }
cmp -s "$T/pub.before" "$T/pub.pem" || { echo "FAIL pubkey differs from keygen's"; exit 1; }
emu_ctl stats reset >/dev/null

worker() {
    local w=$1 i ver ok=0
    for ((i = 0; i < EACH; i++)); do
        ver=1.$((2 + (i + w) % 2))
        if "$KW_CLIENT" --tls-min "$ver" --tls-max "$ver" --cacert "$T/ca.pem" \
                --cert "$T/client.pem" --key "$KEY" "https://127.0.0.1:$port/" \
                >"$T/body.$w" 2>"$T/err.$w" &&
            grep -q "subject=.*CN=keyward atecc608 shared" "$T/body.$w"; then
            ok=$((ok + 1))
        else
            { echo "worker $w handshake $i (TLS $ver):"; cat "$T/err.$w"; } >>"$T/failures"
        fi
    done
    echo "$ok" >"$T/ok.$w"
}

start=$(date +%s%N)
pids=()
for ((w = 0; w < PROCS; w++)); do
    worker "$w" &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
ms=$((($(date +%s%N) - start) / 1000000))

total=0
for ((w = 0; w < PROCS; w++)); do
    total=$((total + $(cat "$T/ok.$w" 2>/dev/null || echo 0)))
done
want=$((PROCS * EACH))
echo "handshakes: $total of $want succeeded in ${ms} ms"
if [ "$total" -ne "$want" ]; then
    echo "FAIL not every handshake succeeded; first failures:"
    head -20 "$T/failures" | sed 's/^/#    /'
    KW_FAIL=$((KW_FAIL + 1))
fi

emu_ctl stats >"$T/stats"
st() { sed -n "s/^$1=//p" "$T/stats"; }
echo "emulator: signs=$(st cmd_sign) wakes=$(st wakes) wakes_ignored=$(st wakes_ignored)" \
    "error_status=$(st error_status) crc_errors=$(st crc_errors)" \
    "watchdog_expiries=$(st watchdog_expiries) awake_max_ms=$(st awake_max_ms)"
[ "$(st cmd_sign)" = "$want" ] || { bad "$(st cmd_sign) Sign commands for $want handshakes"; }
for c in error_status crc_errors watchdog_expiries wakes_ignored; do
    [ "$(st $c)" = 0 ] || { bad "$c=$(st $c), expected 0"; }
done
# "Well inside" the 1.3 s watchdog: every session under half of it.
[ -n "$(st awake_max_ms)" ] && [ "$(st awake_max_ms)" -lt 650 ] ||
    { bad "longest session $(st awake_max_ms) ms"; }

"$KW_TOOL" info "atecc608:bus=$EMU_BUS" >"$T/info.after" || { bad "info after"; }
"$KW_TOOL" pubkey "$KEY" >"$T/pub.after" || { bad "pubkey after"; }
cmp -s "$T/info.before" "$T/info.after" || { echo "FAIL configuration changed"; diff "$T/info.before" "$T/info.after"; KW_FAIL=$((KW_FAIL + 1)); }
cmp -s "$T/pub.before" "$T/pub.after" || { bad "public key changed"; }
[ "$(emu_ctl state | sed -n 's/^power=//p')" != awake ] || { bad "chip left awake"; }
[ "$KW_FAIL" -eq 0 ] && ok "$PROCS processes x $EACH handshakes on one chip"
kw_test_done atecc608_procs
