#!/usr/bin/env bash
# The emulator is independent of the driver (issue 10, issue 15 section 4).
# It shares no ATECC608 protocol knowledge with the host driver, and it does
# not even carry the driver:
#  - its sources include no keyward header and nothing of src/se/;
#  - its object files use no keyward symbol (the one thing it shares with
#    the host transport, the socket I/O loop kw_sock_io_all, is compiled
#    into it from src/hal/i2c_socket_io.c);
#  - the linked binary (KW_EMU) holds no symbol with "keyward" in its name,
#    none of the ATECC608 backend (kw608_), no builtin-key hook of a
#    driver, and needs neither p11-kit nor any tss2 library: it links a
#    plain crypto library built from the pristine Mbed TLS tree, not the
#    hooked one that has keyward inside.
set -u
. "$KW_SOURCE_DIR/tests/support/kwcheck.sh"
kw_test_start atecc608_emu_independent
src=$KW_SOURCE_DIR/emulator
if grep -nE '#include *"(keyward/|se/|hal/i2c_socket\.h|.*atecc608)' "$src"/*.c "$src"/*.h; then
    bad "the emulator includes driver headers (above)"
else
    ok "no driver header included by emulator/"
fi

IFS=: read -r -a objs <<<"${KW_EMU_OBJECTS:-}"
if [ "${#objs[@]}" -lt 3 ]; then
    bad "no emulator objects in KW_EMU_OBJECTS"
else
    used=$(nm -u "${objs[@]}" | awk '{print $NF}' | grep -iE 'keyward|^kw608_' | sort -u)
    if [ -n "$used" ]; then
        bad "the emulator's objects use keyward symbols: $(echo "$used" | tr '\n' ' ')"
    else
        ok "the emulator's objects use no keyward symbol"
    fi
fi

bin=${KW_EMU:-}
if [ ! -x "$bin" ]; then
    bad "no emulator binary in KW_EMU ('$bin')"
else
    # Static and dynamic symbol tables both: a symbol table that cannot be
    # read (a stripped binary) is a failure, not a pass.
    syms=$( { nm "$bin" 2>/dev/null; nm -D "$bin" 2>/dev/null; } | awk '{print $NF}' | sort -u)
    if [ "$(echo "$syms" | grep -c .)" -lt 100 ]; then
        bad "cannot read the symbols of $bin (stripped?)"
    else
        kw=$(echo "$syms" | grep -iE 'keyward|^kw608_')
        if [ -n "$kw" ]; then
            bad "$bin holds $(echo "$kw" | wc -l) keyward symbols, e.g. $(echo "$kw" | head -5 | tr '\n' ' ')"
        else
            ok "$(basename "$bin") holds no symbol with 'keyward' (or kw608_) in its name"
        fi
        if echo "$syms" | grep -qx 'mbedtls_psa_platform_get_builtin_key'; then
            bad "$bin carries the builtin-key hook of a driver build (mbedtls_psa_platform_get_builtin_key)"
        else
            ok "no builtin-key hook in $(basename "$bin")"
        fi
    fi
    needed=$(readelf -d "$bin" | awk '/\(NEEDED\)/ {print $NF}' | tr -d '[]')
    if [ -z "$needed" ]; then
        bad "readelf shows no NEEDED entry for $bin"
    else
        bad_libs=$(echo "$needed" | grep -E '^lib(p11-kit|tss2-)')
        if [ -n "$bad_libs" ]; then
            bad "$bin needs $(echo "$bad_libs" | tr '\n' ' ')"
        else
            ok "$(basename "$bin") needs no p11-kit or tss2 library ($(echo "$needed" | tr '\n' ' '))"
        fi
    fi
fi

kw_test_done
