#!/usr/bin/env bash
# Issue 10: the emulator shares no ATECC608 protocol knowledge with the host
# driver.  Its sources include no keyward header and nothing of src/se/, and
# its object files reference no keyward symbol except the socket transport
# helper (keyward_sock_io_all, the simulated wire).
set -u
. "$KW_SOURCE_DIR/tests/support/kwcheck.sh"
kw_test_start atecc608_emu_independent
src=$KW_SOURCE_DIR/emulator
if grep -nE '#include *"(keyward/|se/|hal/i2c_socket\.h|.*atecc608)' "$src"/*.c "$src"/*.h; then
    bad "the emulator includes driver headers (above)"
else
    ok "no driver header included by emulator/"
fi
IFS=: read -r -a objs <<<"$KW_EMU_OBJECTS"
[ "${#objs[@]}" -ge 3 ] || { echo "FAIL no emulator objects in KW_EMU_OBJECTS"; exit 1; }
used=$(nm -u "${objs[@]}" | awk '{print $NF}' | grep -E '^(keyward_|kw608_|KEYWARD_)' | sort -u)
if [ "$used" != keyward_sock_io_all ]; then
    bad "the emulator's objects use keyward symbols: $(echo "$used" | tr '\n' ' ')"
else
    ok "the only keyward symbol the emulator uses: keyward_sock_io_all"
fi
kw_test_done
