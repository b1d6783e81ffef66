#!/usr/bin/env bash
# The suite's first and last ctest cases (tests/CMakeLists.txt, fixture kw_suite):
#   leftovers.sh setup   make the suite's temp dir (every test's TMPDIR) afresh
#   leftovers.sh check   fail if a test left a file in it, or a process that carries it (the
#                        suite's TMPDIR in its environment or its path in its command line:
#                        swtpm, SoftHSM/p11-kit servers, the ATECC608 emulator, openssl
#                        s_server, gnutls-serv, nginx, ssl_server2, mosquitto...); then remove
#                        what was left, so one failed run does not fail the next
set -u
: "${KW_SUITE_TMPDIR:?}"
case $KW_SUITE_TMPDIR in
    /tmp/kw-suite-*) ;;
    *) echo "leftovers: refusing to work on $KW_SUITE_TMPDIR" >&2; exit 2 ;;
esac
. "$(dirname -- "${BASH_SOURCE[0]}")/kwcheck.sh"
# shellcheck disable=SC2034 # read by check (kwcheck.sh): no log file in /tmp
KW_CHECK_LOG=/dev/null

if [ "${1:-}" = setup ]; then
    kw_test_start leftovers.setup
    rm -rf -- "$KW_SUITE_TMPDIR"
    check "suite temp dir $KW_SUITE_TMPDIR made" mkdir -m 700 "$KW_SUITE_TMPDIR"
    kw_test_done
    exit
fi

kw_test_start leftovers
# Processes of this user (other users' environments are unreadable) that carry the marker:
# TMPDIR=<suite dir> in the environment, or a path under it in the command line.  One grep
# over /proc each; the patterns come from a file, so grep's own command line does not match.
procs() {
    local pat pids pid
    pat=$(mktemp) || return 0
    printf 'TMPDIR=%s\n' "$KW_SUITE_TMPDIR" >"$pat.env"
    printf '%s/\n' "$KW_SUITE_TMPDIR" >"$pat"
    pids=$( {
        grep -lzxFf "$pat.env" /proc/[0-9]*/environ 2>/dev/null
        grep -lzFf "$pat" /proc/[0-9]*/cmdline 2>/dev/null
    } | sed -n 's#^/proc/\([0-9]*\)/.*#\1#p' | sort -un)
    rm -f -- "$pat" "$pat.env"
    for pid in $pids; do
        [ "$pid" = "$$" ] && continue
        [ -r "/proc/$pid/cmdline" ] || continue
        printf '%s %s\n' "$pid" "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-200)"
    done
}
left=$(procs)
if [ -z "$left" ]; then
    ok "no process left by the suite"
else
    bad "processes left by the suite:"
    printf '%s\n' "$left" | sed 's/^/#    /'
    # Ours (they carry this build's marker): stop them so the next run starts clean.
    printf '%s\n' "$left" | while read -r pid _; do kill "$pid" 2>/dev/null; done
fi
if [ ! -d "$KW_SUITE_TMPDIR" ]; then
    bad "the suite temp dir $KW_SUITE_TMPDIR is gone (a test removed it, or setup did not run)"
else
    files=$(cd "$KW_SUITE_TMPDIR" && find . -mindepth 1 -maxdepth 3 | sort | head -n 50)
    if [ -z "$files" ]; then
        ok "no file left in $KW_SUITE_TMPDIR"
    else
        bad "files left in $KW_SUITE_TMPDIR:"
        printf '%s\n' "$files" | sed 's/^/#    /'
    fi
    rm -rf -- "$KW_SUITE_TMPDIR"
fi
kw_test_done
