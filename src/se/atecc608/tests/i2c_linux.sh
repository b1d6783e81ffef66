#!/usr/bin/env bash
# src/hal/i2c_linux.c end to end, without hardware: an LD_PRELOAD shim
# (i2c_shim.c) fakes /dev/i2c-kwtest with the emulator behind it.  Checks:
#  - the wake is a one-byte write of 0x01 to address 0x00 (cryptoauthlib's
#    choice: not a general-call command), never 0x00;
#  - every receive starts with the read-address reset (a write of 00);
#  - the public key and signatures work through the i2c-dev HAL;
#  - 4 processes x 5 CSRs on the one adapter all succeed with no wake that
#    found the chip awake: the per-bus flock on the adapter serialises them.
set -u
HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
. "$KW_SOURCE_DIR/tests/tls/lib.sh"
. "$KW_SOURCE_DIR/tests/support/emu.sh"
kw_test_start atecc608_i2c_linux
kw_tmpdir T || exit 1
emu_start "$T" --time-scale 0.2 || exit 1
emu_provision "CN=keyward i2c-dev,O=keyward" "$T" || { echo "FAIL provisioning"; exit 1; }
: >"$T/adapter"
export KW_SHIM_DEV=/dev/i2c-kwtest KW_SHIM_FILE=$T/adapter KW_SHIM_SOCK=$EMU_SOCK KW_SHIM_LOG=$T/i2c.log
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0
KEY="atecc608:slot=0;bus=/dev/i2c-kwtest"
if LD_PRELOAD=$KW_I2C_SHIM "$KW_TOOL" pubkey "$KEY" >"$T/pub.i2c" 2>"$T/err" &&
    cmp -s "$T/pub.i2c" "$T/pub.pem"; then
    ok "public key through the i2c-dev HAL matches keygen's"
else
    echo "FAIL public key through the i2c-dev HAL"; cat "$T/err"; FAIL=1
fi
wakes=$(grep -c '^w 0x00 1 01 ' "$T/i2c.log")
bad=$(grep -c '^w 0x00 1 00 ' "$T/i2c.log")
if [ "$wakes" -ge 1 ] && [ "$bad" -eq 0 ] && ! grep '^w 0x00' "$T/i2c.log" | grep -vq '^w 0x00 1 01 '; then
    ok "wake: $wakes one-byte writes of 01 to address 0x00, none of 00"
else
    echo "FAIL wake bytes:"; grep '^w 0x00' "$T/i2c.log" | sort | uniq -c; FAIL=1
fi
# Each command write is followed (after the NAKed polls) by a reset of the
# read address, then the count byte read.
if awk '/^w 0x60 [0-9]+ 03/ { cmd = 1; next }
        cmd && /^w 0x60 1 00 ack/ { reset = 1; next }
        cmd && /^r 0x60 1 / { if (!reset) bad = 1; cmd = 0; reset = 0 }
        END { exit bad }' "$T/i2c.log" && grep -q '^w 0x60 1 00 ack' "$T/i2c.log"; then
    ok "every receive starts with the read-address reset"
else
    echo "FAIL a receive without the read-address reset"; FAIL=1
fi
emu_ctl stats reset >/dev/null
pids=()
for p in 1 2 3 4; do
    (
        for i in 1 2 3 4 5; do
            LD_PRELOAD=$KW_I2C_SHIM KW_SHIM_LOG= "$KW_TOOL" csr "$KEY" --subject "CN=p$p-$i" \
                >"$T/csr.$p.$i" 2>"$T/csrerr.$p.$i" || echo "$p.$i" >>"$T/csrfail"
        done
    ) &
    pids+=($!)
done
wait "${pids[@]}" # not a bare wait: the emulator is a background job too
n=$(cat "$T"/csr.*.* | grep -c "BEGIN CERTIFICATE REQUEST")
if [ ! -s "$T/csrfail" ] && [ "$n" -eq 20 ] && [ "$(emu_stat wakes_ignored)" = 0 ] &&
    [ "$(emu_stat cmd_sign)" = 20 ]; then
    ok "4 processes x 5 CSRs over one i2c-dev adapter: 20 of 20, wakes_ignored=0"
else
    echo "FAIL shared adapter: $n of 20 CSRs, wakes_ignored=$(emu_stat wakes_ignored), signs=$(emu_stat cmd_sign)"
    cat "$T"/csrerr.* 2>/dev/null | sort | uniq -c | head
    KW_FAIL=$((KW_FAIL + 1))
fi
kw_test_done atecc608_i2c_linux
