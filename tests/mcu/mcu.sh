#!/usr/bin/env bash
# The QEMU firmware (firmware/, qemu-system-arm -M mps2-an386) against
# keyward-atecc608-emu and a real TLS server.
#
#   mcu.sh tls KIND VER     mutual TLS VER (1.2|1.3) with server KIND (openssl|nginx):
#                           the server saw the device's subject, the chip signed
#                           (self-test + handshake) and its RNG seeded the DRBG
#   mcu.sh watchdog-once    the chip's watchdog fires once during Sign: the driver's
#                           retry recovers and the handshake still succeeds
#   mcu.sh expired          the server's certificate expired in 2020: the firmware's
#                           clock (semihosting) makes it refuse it: exit 7
#   mcu.sh nochip           no chip on the bus (every wake lost): exit 3, no hang
#   mcu.sh silent           nothing answers on the wire at all: exit 3, no hang
#   mcu.sh crc              every Info reply has a wrong CRC: exit 4
#   mcu.sh unlocked         a factory-fresh chip (config zone unlocked): exit 5
#   mcu.sh watchdog         the watchdog (--watchdog-ms 100) expires in the middle of
#                           every Nonce+Sign: exit 6
#
# Environment: KW_SOURCE_DIR, KW_EMU, KW_TOOL, KW_FW_ELF, KW_QEMU (qemu-system-arm),
# KW_MBEDTLS_VERSION (the host build's Mbed TLS: the image must run the same).
set -u
. "$KW_SOURCE_DIR/tests/tls/lib.sh"
. "$KW_SOURCE_DIR/tests/support/emu.sh"

SUBJ="CN=keyward mcu device,O=keyward"
FW_TIMEOUT=${KW_FW_TIMEOUT:-90}
CASE=${1:?mcu.sh CASE}

kw_test_start "mcu_$CASE"
kw_tmpdir T || exit 1

# fw_boot NETSPEC : boots the firmware in $T (its files fw-ca.pem,
# fw-client.pem are read from there), UART0 on the emulator's socket, UART1 on
# NETSPEC; output in $T/fw.out; sets FW_RC (124: it hung and was killed).
fw_boot() {
    local net=$1 t0 t1
    t0=$(date +%s)
    (cd "$T" && exec timeout -k 5 "$FW_TIMEOUT" "$KW_QEMU" -M mps2-an386 -nographic -monitor none \
        -semihosting-config enable=on,target=native -kernel "$KW_FW_ELF" \
        -chardev "socket,id=se,path=$EMU_SOCK" -serial chardev:se -serial "$net") \
        >"$T/fw.out" 2>&1 </dev/null
    FW_RC=$?
    t1=$(date +%s)
    FW_SECS=$((t1 - t0))
}

show() {
    sed 's/^/#    /' "$T/fw.out"
    [ -f "$T/emu.log" ] && sed 's/^/#    emu: /' "$T/emu.log"
}

# expect_fail CODE PATTERN : the firmware exited with CODE, said PATTERN,
# and did not hang.
expect_fail() {
    local code=$1 pattern=$2
    if [ "$FW_RC" = "$code" ] && grep -q -- "$pattern" "$T/fw.out" &&
        grep -q "^fw: exit $code\$" "$T/fw.out"; then
        ok "$CASE: exit $FW_RC in ${FW_SECS}s: $(grep -m1 -- "$pattern" "$T/fw.out")"
        return 0
    fi
    bad "$CASE: expected exit $code and '$pattern', got exit $FW_RC after ${FW_SECS}s"
    show
    return 1
}

# provisioned_chip [EMULATOR ARGS] : a chip provisioned on a plain emulator
# (slot 0 key, certificate issued from its CSR), then, with ARGS, the same
# chip (state file) restarted with them: faults must not hit provisioning.
# fired COUNTER : the emulator counted the failure the case is about.
fired() {
    local n
    n=$(emu_stat "$1")
    if [ "${n:-0}" -gt 0 ]; then
        ok "emulator: $1=$n"
        return 0
    fi
    bad "$CASE: the emulator's $1 is ${n:-unset}: the failure never happened"
    return 1
}

provisioned_chip() {
    emu_start "$T" --time-scale 1 || exit 1
    emu_provision "$SUBJ" "$T" || { bad "provisioning"; cat "$T/provision.log"; exit 1; }
    kw_make_ca "$T" || exit 1
    kw_issue_cert_csr "$T" "$T/csr.pem" "$T/client.pem" || exit 1
    cp "$T/ca.pem" "$T/fw-ca.pem" && cp "$T/client.pem" "$T/fw-client.pem" || exit 1
    if [ $# -gt 0 ]; then
        kill "$EMU_PID" && wait "$EMU_PID" 2>/dev/null
        emu_start "$T" "$@" || exit 1
    fi
}

# tls KIND VER : one handshake; checks what the server and the chip saw.
tls() {
    local kind=$1 ver=$2 port signs0 rnd0 signs1 rnd1
    port=$(kw_free_port) || exit 1
    kw_start_server "$kind" "$T" "$port" "$ver" || exit 1
    signs0=$(emu_stat cmd_sign)
    rnd0=$(emu_stat cmd_random)
    fw_boot "tcp:127.0.0.1:$port"
    signs1=$(emu_stat cmd_sign)
    rnd1=$(emu_stat cmd_random)
    sed -n '/^---- response ----$/,/^---- end of response/p' "$T/fw.out" >"$T/body"
    # The image runs the Mbed TLS line the host build was made with (the
    # firmware is built on 3.6 and on 4.x).
    if [ "$FW_RC" = 0 ] && grep -q "^fw: handshake ok: TLSv$ver " "$T/fw.out" &&
        grep -q "^fw: keyward firmware on .*, Mbed TLS ${KW_MBEDTLS_VERSION:?}\( \|\$\)" "$T/fw.out" &&
        kw_server_saw_subject "$kind" "$T" "$SUBJ" "$T/body" &&
        [ "$signs1" -ge $((signs0 + 2)) ] && [ "$rnd1" -gt "$rnd0" ]; then
        ok "$CASE $kind TLS $ver in ${FW_SECS}s: $(sed -n 's/^fw: handshake ok: //p' "$T/fw.out");" \
             "chip Sign $((signs1 - signs0)), Random $((rnd1 - rnd0))"
        grep -E "^fw: (heap|stack)" "$T/fw.out" | sed 's/^/     /'
        kw_stop_server "$kind" "$T"
        return 0
    fi
    bad "$CASE $kind TLS $ver: exit $FW_RC after ${FW_SECS}s; chip Sign $signs0 -> $signs1," \
         "Random $rnd0 -> $rnd1"
    show
    sed 's/^/#    server: /' "$(kw_server_log "$kind" "$T")" | tail -20
    kw_stop_server "$kind" "$T"
    return 1
}

case $CASE in
tls)
    provisioned_chip
    tls "${2:?KIND}" "${3:?VER}"
    ;;
watchdog-once)
    # The first Sign's command write finds the chip asleep (its watchdog
    # fired): NAK, the driver sleeps, wakes and runs Nonce+Sign again.
    provisioned_chip
    emu_ctl "fault sign:1:watchdog" >/dev/null || exit 1
    w0=$(emu_stat watchdog_expiries)
    tls openssl 1.3 || exit 1
    w1=$(emu_stat watchdog_expiries)
    [ "$w1" -gt "$w0" ] || { echo "FAIL: the watchdog fault did not fire ($w0 -> $w1)"; exit 1; }
    ok "the firmware recovered from $((w1 - w0)) watchdog expiry"
    ;;
expired)
    # Same CA, a server certificate valid only in January 2020 (openssl ca
    # can set the dates; openssl x509 cannot backdate).
    provisioned_chip
    O=$T/old
    mkdir -p "$O/newcerts" && : >"$O/index.txt" && echo 01 >"$O/serial" || exit 1
    cat >"$O/ca.cnf" <<EOC
[ ca ]
default_ca = old
[ old ]
dir = $O
database = $O/index.txt
new_certs_dir = $O/newcerts
serial = $O/serial
default_md = sha256
policy = any
[ any ]
commonName = supplied
EOC
    if ! { openssl req -new -key "$T/server.key" -subj /CN=localhost -out "$O/server.csr" &&
        openssl ca -batch -notext -config "$O/ca.cnf" -cert "$T/ca.pem" -keyfile "$T/ca.key" \
            -in "$O/server.csr" -startdate 20200101000000Z -enddate 20200201000000Z \
            -extfile "$T/ca-ext.cnf" -extensions v3_server -out "$O/server.pem"; } \
            >"$O/ca.log" 2>&1; then
        echo "FAIL: could not issue the expired certificate"; cat "$O/ca.log"; exit 1
    fi
    cp "$T/ca.pem" "$T/server.key" "$O/" || exit 1
    port=$(kw_free_port) || exit 1
    kw_start_server openssl "$O" "$port" 1.3 || exit 1
    fw_boot "tcp:127.0.0.1:$port"
    expect_fail 7 "server certificate rejected: .*, expired" || exit 1
    if ! grep -q "^fw: clock (semihosting): $(date -u +%Y-%m-%d)" "$T/fw.out"; then
        echo "FAIL: the firmware's clock is not today's date"
        show
        exit 1
    fi
    ;;
nochip)
    provisioned_chip --fault 'wake:*:lostwake'
    fw_boot null
    expect_fail 3 "chip: no valid wake reply" && fired wakes_lost
    ;;
silent)
    # A socket that accepts and never says anything: QEMU connects, every
    # reply times out on the UART.
    emu_start "$T" || exit 1      # only for EMU_SOCK's directory and cleanup
    EMU_SOCK=$T/silent.sock
    /usr/bin/python3 - "$EMU_SOCK" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(1)
c, _ = s.accept()
while c.recv(4096):
    pass
PY
    SILENT_PID=$!
    kw_on_exit "kill $SILENT_PID 2>/dev/null; wait $SILENT_PID 2>/dev/null"
    kw_wait_for_file "$EMU_SOCK" 5
    fw_boot null
    expect_fail 3 "chip: bus error"
    ;;
crc)
    provisioned_chip --fault 'info:*:crc'
    fw_boot null
    expect_fail 4 "chip: response CRC wrong" && fired faults_fired
    ;;
unlocked)
    emu_start "$T" || exit 1
    fw_boot null
    expect_fail 5 "configuration zone unlocked"
    ;;
watchdog)
    # 100 ms from the wake: Info, Read and Random fit, Random + Nonce (20 ms)
    # + Sign (115 ms) never does.  The chip either refuses the command that
    # cannot finish in time (status 0xEE, the datasheet's rule) or falls
    # asleep mid-sequence; either way, every attempt.
    provisioned_chip --time-scale 1 --watchdog-ms 100
    fw_boot null
    if expect_fail 6 "the chip stopped answering mid-sequence"; then
        if [ "$(emu_stat watchdog_expiries)" -gt 0 ]; then
            fired watchdog_expiries
        else
            fired watchdog_refusals
        fi
    else
        exit 1
    fi
    ;;
*)
    echo "mcu.sh: unknown case '$CASE'" >&2
    exit 2
    ;;
esac
kw_test_done
