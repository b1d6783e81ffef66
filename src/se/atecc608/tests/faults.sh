#!/usr/bin/env bash
# The fault matrix: for every command of a signature (the wake, the Read of
# the key check at open, Nonce, Sign) and every fault the emulator injects,
# one TLS 1.3 handshake (keyward-client, mutual auth, openssl s_server) must
# either succeed -- the driver recovered -- or fail with a clear error; in
# both cases the next handshake must succeed.  Faults the driver must
# recover from (lost wake, CRC, no answer, watchdog, slow, FF, EE) must
# succeed; execution-type errors (0F, 05, 03) must fail cleanly.
set -u
HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
. "$KW_SOURCE_DIR/tests/tls/lib.sh"
. "$KW_SOURCE_DIR/tests/support/emu.sh"

SUBJ="CN=keyward atecc608 faults,O=keyward"

kw_test_start atecc608_faults
kw_tmpdir T || exit 1
emu_start "$T" --time-scale 0.2 || exit 1
emu_provision "$SUBJ" "$T" || { echo "FAIL provisioning"; exit 1; }
kw_make_ca "$T" || exit 1
kw_issue_cert_csr "$T" "$T/csr.pem" "$T/client.pem" || exit 1
KEY="atecc608:slot=0;bus=$EMU_BUS"
port=$(kw_free_port) || exit 1
kw_start_server openssl "$T" "$port" 1.3 || exit 1

handshake() {
    "$KW_CLIENT" --tls-min 1.3 --tls-max 1.3 --cacert "$T/ca.pem" --cert "$T/client.pem" \
        --key "$KEY" "https://127.0.0.1:$port/" >"$T/body" 2>"$T/err" &&
        kw_server_saw_subject openssl "$T" "$SUBJ" "$T/body"
}

# expect: recover | fail
check() {
    local fault=$1 expect=$2 rc=0
    emu_ctl fault clear >/dev/null
    emu_ctl fault "$fault" >/dev/null || { bad "$fault: emulator refused it"; return; }
    fired_before=$(emu_stat faults_fired)
    handshake || rc=$?
    fired=$(( $(emu_stat faults_fired) - fired_before ))
    emu_ctl fault clear >/dev/null
    if [ "$fired" -lt 1 ]; then
        bad "$fault: the fault never fired"
        return
    fi
    if [ "$expect" = recover ] && [ "$rc" -ne 0 ]; then
        echo "FAIL $fault: handshake failed, the driver should have recovered"
        sed 's/^/#    /' "$T/err"
        KW_FAIL=$((KW_FAIL + 1))
        return
    fi
    if [ "$expect" = fail ]; then
        if [ "$rc" -eq 0 ]; then
            bad "$fault: handshake succeeded despite a non-retryable chip error"
            return
        fi
        if ! grep -q "ATECC608" "$T/err"; then
            echo "FAIL $fault: no clear error message:"
            sed 's/^/#    /' "$T/err"
            KW_FAIL=$((KW_FAIL + 1))
            return
        fi
    fi
    cp "$T/err" "$T/fault.err"
    if ! handshake; then
        echo "FAIL $fault: the following handshake failed"
        sed 's/^/#    /' "$T/err"
        KW_FAIL=$((KW_FAIL + 1))
        return
    fi
    if [ "$expect" = fail ]; then
        ok "$fault: failed cleanly ($(grep -o 'ATECC608.*' "$T/fault.err" | head -1)); next handshake ok"
    else
        ok "$fault: recovered; next handshake ok"
    fi
}

handshake || { echo "FAIL baseline handshake"; sed 's/^/#    /' "$T/err"; exit 1; }
for occ in 1 2; do
    check "wake:$occ:lostwake" recover
done
for cmd in read random nonce sign; do
    for kind in crc nak watchdog slow status=ff status=ee status=11; do
        check "$cmd:1:$kind" recover
    done
    for kind in status=0f status=05 status=03; do
        check "$cmd:1:$kind" fail
    done
done
# A fault on every attempt of a sign exhausts the retries: a clean failure.
check "sign:*:crc" fail
check "nonce:*:nak" fail
check "wake:*:lostwake" fail
kw_test_done atecc608_faults
