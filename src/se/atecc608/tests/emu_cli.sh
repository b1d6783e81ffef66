#!/usr/bin/env bash
# Issue 7 section 7: the emulator never harms the machine it runs on.
#  - --socket refuses a path that exists and is not a socket (the file is
#    left untouched), refuses a live socket (another emulator answers) and
#    removes only a stale one;
#  - every bad option value is a one-line error and exit 2, quickly;
#  - --state refuses a device, a directory and incomplete or corrupt files
#    with a one-line reason, and never replaces them;
#  - a state save that fails makes the command fail and the chip keeps its
#    previous state, in memory and on disk.
set -u
HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
. "$KW_SOURCE_DIR/tests/tls/lib.sh"
. "$KW_SOURCE_DIR/tests/support/emu.sh"


kw_test_start atecc608_emu_cli
kw_tmpdir T || exit 1

# expect_error WHAT EXIT PATTERN -- ARGS...: the emulator exits with EXIT within
# 10 s, printing exactly one line on stderr that matches PATTERN.
expect_error() {
    local what=$1 want=$2 pat=$3 rc=0
    shift 4
    timeout 10 "$KW_EMU" "$@" >"$T/out" 2>"$T/err" || rc=$?
    local lines
    lines=$(wc -l <"$T/err")
    if [ "$rc" -eq "$want" ] && [ "$lines" -eq 1 ] && grep -q -- "$pat" "$T/err"; then
        ok "$what: $(cat "$T/err")"
    else
        bad "$what: exit $rc (want $want), $lines stderr lines:"
        sed 's/^/#    /' "$T/err"
    fi
}

# ---- the socket path -------------------------------------------------------
printf 'precious\n' >"$T/file"
expect_error "--socket on a regular file" 1 "not a socket" -- --state "$T/a.state" --socket "$T/file"
[ "$(cat "$T/file")" = precious ] && ok "the regular file is untouched" || bad "the regular file was changed"
[ ! -e "$T/a.state" ] && ok "no state file created when the socket is refused" || bad "state file created"
mkdir "$T/dir"
expect_error "--socket on a directory" 1 "not a socket" -- --state "$T/a.state" --socket "$T/dir"
ln -s "$T/file" "$T/link"
expect_error "--socket on a symlink to a file" 1 "not a socket" -- --state "$T/a.state" --socket "$T/link"
[ "$(cat "$T/file")" = precious ] && [ -L "$T/link" ] && ok "symlink and its target untouched" || bad "symlink or target changed"

emu_start "$T" || exit 1
expect_error "--socket on a live emulator's socket" 1 "in use" -- --state "$T/b.state" --socket "$EMU_SOCK"
if emu_ctl ping | grep -q pong; then ok "the first emulator still answers"; else bad "the first emulator lost its socket"; fi
kill -9 "$EMU_PID"
wait "$EMU_PID" 2>/dev/null
[ -S "$EMU_SOCK" ] || { bad "no stale socket left by kill -9"; }
emu_start "$T" || exit 1
if emu_ctl ping | grep -q pong; then ok "a stale socket (emulator killed) is replaced"; else bad "stale socket not replaced"; fi
kill "$EMU_PID"
wait "$EMU_PID" 2>/dev/null
[ ! -e "$EMU_SOCK" ] && ok "the emulator removes its own socket at exit" || bad "socket left after a clean exit"

# ---- options -----------------------------------------------------------------
S=(--state "$T/o.state" --socket "$T/o.sock")
for v in nan inf -1 1e308 abc 1x "" 101; do
    expect_error "--time-scale '$v'" 2 "time-scale" -- "${S[@]}" --time-scale "$v"
done
for v in 12345678901234 0 -5 1.5 abc 600001; do
    expect_error "--watchdog-ms '$v'" 2 "watchdog-ms" -- "${S[@]}" --watchdog-ms "$v"
done
for v in sign:0:crc sign:-1:crc sign:100000000000000000000:crc sign:1e3:crc sign::crc \
         sign:1:bogus bogus:1:crc sign:1:status=100 sign:1:status=xy sign:1:lostwake wake:1:crc sign:1; do
    expect_error "--fault '$v'" 2 "fault" -- "${S[@]}" --fault "$v"
done
expect_error "unknown option" 2 "unknown argument" -- "${S[@]}" --bogus 1
expect_error "option without a value" 2 "needs a value" -- "${S[@]}" --time-scale
expect_error "--state given twice" 2 "twice" -- "${S[@]}" --state "$T/x.state"
expect_error "no --socket" 2 "socket" -- --state "$T/o.state"
[ ! -e "$T/o.state" ] && [ ! -e "$T/o.sock" ] && ok "no file created by a refused option" || bad "a refused option left files"
long=$(head -c 10000 /dev/zero | tr '\0' x)
expect_error "10,000-character --ctl" 2 "ctl" -- --socket "$T/o.sock" --ctl "$long"
expect_error "--ctl with no emulator" 2 "cannot connect" -- --socket "$T/o.sock" --ctl ping

# ---- the state file ------------------------------------------------------------
expect_error "--state /dev/zero" 1 "not a regular file" -- --state /dev/zero --socket "$T/o.sock"
expect_error "--state a directory" 1 "not a regular file" -- --state "$T/dir" --socket "$T/o.sock"
mkfifo "$T/fifo"
expect_error "--state a FIFO" 1 "not a regular file" -- --state "$T/fifo" --socket "$T/o.sock"
# A good state file to damage in several ways.
emu_start "$T" || exit 1
SUBJ="CN=keyward emu cli,O=keyward"
emu_provision "$SUBJ" "$T" || { bad "provisioning"; exit 1; }
kill "$EMU_PID"
wait "$EMU_PID" 2>/dev/null
GOOD=$T/emu.state
check_state() {
    local what=$1 pat=$2
    cp "$T/damaged" "$T/damaged.orig"
    expect_error "state $what" 1 "$pat" -- --state "$T/damaged" --socket "$T/o.sock"
    cmp -s "$T/damaged" "$T/damaged.orig" && ok "state $what: file left as it was" || bad "state $what: file changed"
}
grep -v '^slot 15 ' "$GOOD" >"$T/damaged"; check_state "without slot 15" "slot 15 is missing"
grep -v '^otp ' "$GOOD" >"$T/damaged"; check_state "without the otp line" "otp line missing"
head -c 3000 "$GOOD" >"$T/damaged"; check_state "truncated mid-line" "not terminated"
: >"$T/damaged"; check_state "empty" "incomplete"
sed '1s/.*/something else/' "$GOOD" >"$T/damaged"; check_state "with a foreign header" "not a keyward"
sed '/^config /s/^config ../config zz/' "$GOOD" >"$T/damaged"; check_state "with bad hex" "config line"
{ cat "$GOOD"; grep '^slot 3 ' "$GOOD"; } >"$T/damaged"; check_state "with slot 3 twice" "slot 3"
{ cat "$GOOD"; echo "extra line"; } >"$T/damaged"; check_state "with an unknown line" "unrecognised"
head -c 20000 /dev/zero >"$T/damaged"; check_state "of 20000 zero bytes" "more than"

# ---- failed saves ----------------------------------------------------------------
emu_start "$T" || exit 1
KEY="atecc608:slot=0;bus=$EMU_BUS"
"$KW_TOOL" pubkey "$KEY" >"$T/pub.before" || bad "pubkey before"
cp "$GOOD" "$T/state.before"
# A directory where the temporary file must go makes every save fail.
mkdir "$GOOD.tmp"
if "$KW_TOOL" keygen "$KEY" --type ec-p256 >"$T/pub.new" 2>"$T/keygen.err"; then
    bad "GenKey reported success although the state could not be saved"
else
    ok "GenKey fails when its state cannot be saved: $(grep -o 'ATECC608.*' "$T/keygen.err" | head -1)"
fi
[ "$(emu_stat save_failures)" = 1 ] && ok "emulator counted save_failures=1" || bad "save_failures=$(emu_stat save_failures)"
grep -q "cannot save the state" "$T/emu.log" && ok "the emulator logs the failed save" || bad "no log line for the failed save"
"$KW_TOOL" pubkey "$KEY" >"$T/pub.after" && cmp -s "$T/pub.before" "$T/pub.after" &&
    ok "the chip kept its key in memory" || bad "the chip's key changed after a failed save"
cmp -s "$GOOD" "$T/state.before" && ok "the state file is unchanged" || bad "the state file changed"
rmdir "$GOOD.tmp"
"$KW_TOOL" keygen "$KEY" --type ec-p256 >"$T/pub.new" 2>"$T/keygen.err" && ok "GenKey works again once saving works" ||
    { bad "GenKey after the directory was removed"; cat "$T/keygen.err"; }
kill "$EMU_PID"
wait "$EMU_PID" 2>/dev/null
emu_start "$T" || exit 1
"$KW_TOOL" pubkey "$KEY" >"$T/pub.reloaded" && cmp -s "$T/pub.new" "$T/pub.reloaded" &&
    ok "the saved key survives a restart" || bad "the key after restart is not the one GenKey returned"
[ ! -e "$GOOD.tmp" ] && ok "no temporary file left" || bad "temporary file left"

kw_test_done atecc608_emu_cli
