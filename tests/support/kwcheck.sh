# shellcheck shell=bash
# tests/support/kwcheck.sh - the one check library of keyward's shell tests: counting, the
# cleanup trap, temp dirs and waits with deadlines.  Fixtures (tls/lib.sh, swtpm.sh,
# softhsm_env.sh, emu.sh) source it; a test sources it or a fixture.
#
#   kw_test_start NAME          names the test and arms the verdict at exit: the test prints
#                               "NAME: N checks passed, M failed" and fails when M > 0 or N == 0
#                               (also when it leaves early through `exit`)
#   ok MSG / bad MSG            count a passed / failed check
#   check NAME CMD...           ok if CMD succeeds (output in $KW_CHECK_LOG, shown on failure)
#   check_fails NAME CMD...     ok if CMD fails
#   expect_fail NAME ERE CMD... ok if CMD exits non-zero and its stderr matches ERE
#   kw_test_done [NAME]         print the count now; status 0 only if M == 0 and N > 0
#   kw_tmpdir [VAR]             mktemp -d under $TMPDIR, removed at exit (path in VAR, default
#                               KW_TMPDIR)
#   kw_on_exit CMD...           run CMD (eval'd) at exit, before the temp dirs go (last first)
#   kw_wait_until SECS CMD...   poll CMD every 50 ms until it succeeds; fail after SECS
#   kw_wait_for_port PORT [SECS]      something listens on TCP PORT
#   kw_wait_for_pid_gone PID [SECS]   PID has exited
#   kw_wait_for_file PATH [SECS]      PATH exists
#   kw_wait_for_connection PORT [SECS] an established TCP connection to PORT
# The waits are the only way a test waits for something: a fixed sleep as synchronisation is
# either too short on a loaded machine or a waste on an idle one.

if [ -n "${KW_CHECK_LIB_LOADED:-}" ]; then
    return 0
fi
KW_CHECK_LIB_LOADED=1

KW_PASS=0
KW_FAIL=0
KW_TEST_NAME=""       # set by kw_test_start: the verdict at exit is armed
KW_REPORTED=""
KW_TMPDIRS=()         # dirs removed by the cleanup trap
KW_EXIT_CMDS=()       # extra cleanup commands (kw_on_exit)
KW_CLEANUP_FIRST=()   # fixtures' own cleanup (e.g. tls/lib.sh stops its servers), run first
KW_CLEANUP_DONE=""
KW_TRAP_INSTALLED=""
declare -gA KW_PREV_TRAP=()

# The suite's temp dir (tests/CMakeLists.txt) exists while the suite runs; a test run alone
# (e.g. by hand with TMPDIR set) makes it.
[ -z "${TMPDIR:-}" ] || mkdir -p "$TMPDIR" 2>/dev/null || true

_kw_err() { printf 'kw: %s\n' "$*" >&2; }

_kw_not_in_subshell() {
    if [ "${BASH_SUBSHELL:-0}" -gt 0 ]; then
        _kw_err "$1 must be called in the test's main shell, not in \$(...) or ( ... )"
        return 1
    fi
}

# ---------------------------------------------------------------- counting

ok() { printf 'ok   %s\n' "$*"; KW_PASS=$((KW_PASS + 1)); }
bad() { printf 'FAIL %s\n' "$*"; KW_FAIL=$((KW_FAIL + 1)); }

_kw_check_log() { printf '%s' "${KW_CHECK_LOG:-${T:-${TMPDIR:-/tmp}}/last.log}"; }

check() {
    local name=$1 log
    shift
    log=$(_kw_check_log)
    if "$@" >"$log" 2>&1; then
        ok "$name"
    else
        bad "$name"
        { grep -B2 '^FAIL' "$log" | tail -n 40; tail -n 5 "$log"; } | sed 's/^/#    /'
    fi
}

check_fails() {
    local name=$1 log
    shift
    log=$(_kw_check_log)
    if "$@" >"$log" 2>&1; then
        bad "$name (unexpected success)"
    else
        ok "$name"
    fi
}

expect_fail() {
    local name=$1 want=$2 rc=0 log
    shift 2
    log=$(_kw_check_log)
    "$@" >"$log.out" 2>"$log.err" || rc=$?
    if [ "$rc" -eq 0 ]; then
        bad "$name: exit 0"
    elif ! grep -Eq -- "$want" "$log.err"; then
        bad "$name: exit $rc but the message does not say /$want/:"
        sed 's/^/#    /' "$log.err"
    else
        ok "$name (exit $rc: $(tail -n 1 "$log.err"))"
    fi
}

kw_test_start() {
    _kw_not_in_subshell kw_test_start || return 1
    KW_TEST_NAME=$1
    _kw_install_trap
}

kw_test_done() {
    [ -n "${1:-}" ] && KW_TEST_NAME=$1
    KW_REPORTED=1
    printf '%s: %d checks passed, %d failed\n' "${KW_TEST_NAME:-test}" "$KW_PASS" "$KW_FAIL"
    if [ "$KW_PASS" -eq 0 ] && [ "$KW_FAIL" -eq 0 ]; then
        _kw_err "this test ran no check: failing it"
    fi
    [ "$KW_FAIL" -eq 0 ] && [ "$KW_PASS" -gt 0 ]
}

# ---------------------------------------------------------------- cleanup / trap

_kw_cleanup() {
    # Idempotent: EXIT runs after INT/TERM too.
    [ -n "$KW_CLEANUP_DONE" ] && return 0
    KW_CLEANUP_DONE=1
    local i
    for i in "${KW_CLEANUP_FIRST[@]}"; do
        eval "$i" || true
    done
    for ((i = ${#KW_EXIT_CMDS[@]} - 1; i >= 0; i--)); do
        eval "${KW_EXIT_CMDS[$i]}" || true
    done
    for i in "${KW_TMPDIRS[@]}"; do
        [ -n "$i" ] && [ -d "$i" ] && rm -rf -- "$i"
    done
    return 0
}

_kw_trap_handler() {
    local sig=$1 rc=$2
    _kw_cleanup
    # Run whatever trap the script had installed before us.
    if [ -n "${KW_PREV_TRAP[$sig]:-}" ]; then
        eval "${KW_PREV_TRAP[$sig]}"
    fi
    case $sig in
        INT) trap - INT; exit 130 ;;
        TERM) trap - TERM; exit 143 ;;
        EXIT)
            # The verdict: a started test that failed a check or ran none does not pass.
            if [ -n "$KW_TEST_NAME" ]; then
                [ -n "$KW_REPORTED" ] || kw_test_done || true
                if [ "$rc" -eq 0 ] && { [ "$KW_FAIL" -gt 0 ] || [ "$KW_PASS" -eq 0 ]; }; then
                    exit 1
                fi
            fi
            return "$rc"
            ;;
    esac
}

# Install the trap once; keep (and chain to) any trap the caller had set before.
_kw_install_trap() {
    [ -n "$KW_TRAP_INSTALLED" ] && return 0
    local sig prev
    for sig in EXIT INT TERM; do
        prev=$(trap -p "$sig")
        # trap -p prints: trap -- 'CMD' SIG ; extract CMD
        if [ -n "$prev" ]; then
            prev=${prev#trap -- }
            prev=${prev% *}          # drop the signal name (EXIT, SIGINT, SIGTERM)
            eval "prev=$prev"
            KW_PREV_TRAP[$sig]=$prev
        fi
        # shellcheck disable=SC2064
        trap "_kw_trap_handler $sig \$?" "$sig"
    done
    KW_TRAP_INSTALLED=1
}

kw_on_exit() {
    _kw_not_in_subshell kw_on_exit || return 1
    _kw_install_trap
    KW_EXIT_CMDS+=("$*")
}

kw_tmpdir() {
    local _kw_var=${1:-KW_TMPDIR} _kw_dir
    _kw_not_in_subshell kw_tmpdir || return 1
    _kw_dir=$(mktemp -d "${TMPDIR:-/tmp}/keyward-tls.XXXXXX") ||
        { _kw_err "mktemp -d failed"; return 1; }
    KW_TMPDIRS+=("$_kw_dir")
    _kw_install_trap
    printf -v "$_kw_var" '%s' "$_kw_dir"
}

# ---------------------------------------------------------------- waits

kw_wait_until() {
    local secs=$1 deadline
    shift
    deadline=$((SECONDS + ${secs%.*} + 1))
    while ! "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.05 # the poll interval, not a synchronisation
    done
}

_kw_port_listening() {
    # true if something listens on TCP PORT (any address)
    local port=$1
    if command -v ss >/dev/null 2>&1; then
        [ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ]
    else
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
    fi
}

_kw_pid_gone() { ! kill -0 "$1" 2>/dev/null; }

kw_wait_for_port() { kw_wait_until "${2:-10}" _kw_port_listening "$1"; }
# (a child of the test must be reaped: `wait` it, or its zombie stays "alive" here)
kw_wait_for_pid_gone() { kw_wait_until "${2:-10}" _kw_pid_gone "$1"; }
kw_wait_for_file() { kw_wait_until "${2:-10}" test -e "$1"; }
# kw_wait_for_connection PORT [SECS] : an established TCP connection to PORT (a client is in)
_kw_connected() { ss -Htn "dport = :$1" 2>/dev/null | grep -q ESTAB; }
kw_wait_for_connection() { kw_wait_until "${2:-10}" _kw_connected "$1"; }
