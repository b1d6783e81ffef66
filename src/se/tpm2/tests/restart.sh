#!/usr/bin/env bash
# The TPM goes away (swtpm killed with SIGKILL) while a process uses a key: the next signature
# fails cleanly with PSA_ERROR_COMMUNICATION_FAILURE (no crash, no SIGPIPE death); once swtpm
# is back (same state, same port), the next signature reconnects, reloads the key and succeeds.
# Then the same through keyward-client: a TLS handshake fails cleanly while the TPM is down.
set -u
HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
. "$KW_SOURCE_DIR/tests/support/swtpm.sh"
command -v swtpm >/dev/null || { echo "FAIL: a required tool is missing (run scripts/install-deps.sh)"; exit 1; }
kw_tpm_init tpm2_restart
kw_swtpm_start "$T/tpm" || exit 1
K=$T/keys
mkdir -p "$K"
check "keygen" bash -c "'$KW_TOOL' keygen 'tpm2:file=$K/p256.pem' --type ec-p256 >/dev/null"

# The test program runs these through system(): kill, then start again with the same state.
cat >"$T/kill.sh" <<EOS
kill -KILL \$(cat '$T/tpm/pid') && while kill -0 \$(cat '$T/tpm/pid') 2>/dev/null; do sleep 0.05; done
EOS
cat >"$T/start.sh" <<EOS
. '$KW_SOURCE_DIR/tests/support/swtpm.sh' >/dev/null 2>&1
T='$T'
_kw_swtpm_launch '$T/tpm' '$KW_SWTPM_PORT' >/dev/null 2>&1 </dev/null
EOS
check "kill / restart swtpm under a running process" env KW_TPM2_KILL="bash $T/kill.sh" \
    KW_TPM2_START="bash $T/start.sh" "$KW_TPM2_TEST" restart "$K"
# The restarted swtpm is not our child any more: stop it by its pid file at exit.
kw_on_exit "kill -KILL \$(cat '$T/tpm/pid' 2>/dev/null) 2>/dev/null"
check "after the restart, a new process signs" bash -c \
    "'$KW_TOOL' csr 'tpm2:file=$K/p256.pem' --subject CN=x | openssl req -noout -verify"
bash "$T/kill.sh"
if "$KW_TOOL" csr "tpm2:file=$K/p256.pem" --subject CN=x >/dev/null 2>"$T/err"; then
    bad "TPM down: keyward-tool should fail"
elif grep -q "PSA_ERROR_COMMUNICATION_FAILURE" "$T/err"; then
    ok "TPM down: keyward-tool fails with PSA_ERROR_COMMUNICATION_FAILURE"
else
    bad "TPM down: unclear error"
    sed 's/^/#    /' "$T/err"
fi
kw_tpm_done
