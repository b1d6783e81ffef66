# shellcheck shell=bash
# tests/support/emu.sh - start keyward-atecc608-emu from a bash test (sourced after
# tests/tls/lib.sh). The emulator is stopped by lib.sh's cleanup trap.
#
#   emu_start DIR [EMULATOR ARGS...]   sets EMU_SOCK, EMU_BUS (unix:...), EMU_PID
#   emu_ctl COMMAND                    control command, answer on stdout
#   emu_stat NAME                      one counter of "stats"
#   emu_provision SUBJECT OUTDIR       provision, keygen slot 0, CSR -> OUTDIR/{pub,csr}.pem

emu_start() {
    local dir=$1
    shift
    EMU_SOCK=$dir/emu.sock
    EMU_BUS=unix:$EMU_SOCK
    "$KW_EMU" --state "$dir/emu.state" --socket "$EMU_SOCK" "$@" 2>"$dir/emu.log" &
    EMU_PID=$!
    kw_on_exit "kill $EMU_PID 2>/dev/null; wait $EMU_PID 2>/dev/null"
    local i
    for ((i = 0; i < 100; i++)); do
        "$KW_EMU" --socket "$EMU_SOCK" --ctl ping >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "emulator did not start:" >&2
    cat "$dir/emu.log" >&2
    return 1
}

emu_ctl() {
    "$KW_EMU" --socket "$EMU_SOCK" --ctl "$*"
}

emu_stat() {
    emu_ctl stats | sed -n "s/^$1=//p"
}

emu_provision() {
    local subject=$1 out=$2
    "$KW_TOOL" provision "atecc608:bus=$EMU_BUS" >"$out/provision.log" 2>&1 &&
        "$KW_TOOL" keygen "atecc608:slot=0;bus=$EMU_BUS" --type ec-p256 >"$out/pub.pem" &&
        "$KW_TOOL" csr "atecc608:slot=0;bus=$EMU_BUS" --subject "$subject" >"$out/csr.pem"
}
