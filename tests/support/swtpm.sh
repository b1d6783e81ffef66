# shellcheck shell=bash
# tests/support/swtpm.sh - helpers for the TPM 2.0 tests: a private swtpm per test, ok/bad counters.
#
#   kw_tpm_init NAME              kw_test_start NAME, temp dir ($T), tss2 logs off
#   kw_swtpm_start DIR            swtpm on a free port pair, state in DIR; exports TPM2TOOLS_TCTI,
#                                 TPM2OPENSSL_TCTI; KW_SWTPM_PORT, KW_SWTPM_PID
#   kw_swtpm_stop DIR             kill that swtpm (SIGKILL: a crash, not a clean shutdown)
#   kw_swtpm_restart DIR          start it again on the same port with the same state
#   kw_srk_persist                the standard ECC SRK made persistent at 0x81000001 (tpm2-tools)
#   kw_tpm_done                   kw_test_done (ok, bad, check, check_fails: kwcheck.sh)
#
# Needs KW_SOURCE_DIR (ctest sets it through KW_TEST_ENV).

# shellcheck source=../tls/lib.sh
. "${KW_SOURCE_DIR:?}/tests/tls/lib.sh"

kw_tpm_init() {
    kw_test_start "$1"
    kw_tmpdir T || exit 1
    # tss2 logs every TPM error at ERROR level; the negative tests provoke many.
    [ -n "${KW_VERBOSE:-}" ] || export TSS2_LOG=all+none
    export KW_TPM_TEST_NAME=$1
}

kw_tpm_done() {
    kw_test_done "$KW_TPM_TEST_NAME"
}

_kw_swtpm_launch() {
    local dir=$1 port=$2
    swtpm socket --tpm2 --tpmstate "dir=$dir/state" \
        --server "type=tcp,port=$port,bindaddr=127.0.0.1" \
        --ctrl "type=tcp,port=$((port + 1)),bindaddr=127.0.0.1" \
        --flags not-need-init,startup-clear --log "file=$dir/swtpm.log" &
    KW_SWTPM_PID=$!
    echo "$KW_SWTPM_PID" >"$dir/pid"
    local i
    for ((i = 0; i < 100; i++)); do
        if _kw_port_listening "$port" && _kw_port_listening "$((port + 1))"; then
            return 0
        fi
        kill -0 "$KW_SWTPM_PID" 2>/dev/null || break
        sleep 0.05
    done
    _kw_err "swtpm did not start on port $port (log: $dir/swtpm.log)"
    return 1
}

kw_swtpm_start() {
    local dir=$1 port i
    _kw_not_in_subshell kw_swtpm_start || return 1
    mkdir -p "$dir/state"
    # A free port can be taken by another test between the check and swtpm's
    # bind (tests run in parallel): then swtpm exits, and we try another.
    local attempt started=0
    for ((attempt = 0; attempt < 5 && started == 0; attempt++)); do
        for ((i = 0; i < 50; i++)); do
            port=$(kw_free_port) || return 1
            _kw_port_bindable "$((port + 1))" && break
        done
        echo "$port" >"$dir/port"
        KW_SWTPM_PORT=$port
        if _kw_swtpm_launch "$dir" "$port"; then
            started=1
        else
            kw_swtpm_stop "$dir"
        fi
    done
    [ "$started" -eq 1 ] || return 1
    kw_on_exit "kw_swtpm_stop '$dir'"
    export TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$port"
    # keyward's cross-process lock files for this private TPM live in the test's temp dir.
    export KEYWARD_TPM2_LOCK_DIR=$dir
    export TPM2OPENSSL_TCTI="$TPM2TOOLS_TCTI"
    # Allow many wrong auth values before lockout: the negative tests try some.
    tpm2_dictionarylockout -Q -s -n 1000 -t 1 -l 1 >/dev/null 2>&1
    kw_tpm_flush
}

kw_swtpm_stop() {
    local dir=$1 pid
    pid=$(cat "$dir/pid" 2>/dev/null) || return 0
    [ -n "$pid" ] || return 0
    # Only our own child: the pid file was written by _kw_swtpm_launch.
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    fi
    : >"$dir/pid"
    return 0
}

kw_swtpm_restart() {
    local dir=$1
    _kw_swtpm_launch "$dir" "$(cat "$dir/port")"
}

# tpm2-tools leave objects and sessions loaded: flush everything (a TPM without resource manager).
kw_tpm_flush() {
    tpm2_flushcontext -t >/dev/null 2>&1
    tpm2_flushcontext -l >/dev/null 2>&1
    tpm2_flushcontext -s >/dev/null 2>&1
    return 0
}

# kw_tpm_clean : true if the TPM holds no transient object and no session (prints them otherwise)
kw_tpm_clean() {
    local t s
    t=$(tpm2_getcap handles-transient) || return 1
    s=$(tpm2_getcap handles-loaded-session)$(tpm2_getcap handles-saved-session)
    [ -z "$t$s" ] && return 0
    printf 'transient: %s\nsessions: %s\n' "$t" "$s"
    return 1
}

# The standard SRK (ECC P-256, AES-128-CFB, noDA, empty unique: what tpm2-openssl and keyward
# create for parent 0x40000001) made persistent at 0x81000001, the TCG-recommended handle.
kw_srk_persist() {
    local ctx=$T/srk.ctx
    tpm2_createprimary -Q -C o -g sha256 -G ecc256:null:aes128cfb \
        -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|decrypt' \
        -c "$ctx" &&
        tpm2_evictcontrol -Q -C o -c "$ctx" 0x81000001
    local rc=$?
    kw_tpm_flush
    return $rc
}
