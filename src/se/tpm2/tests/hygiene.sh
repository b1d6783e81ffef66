#!/usr/bin/env bash
# Transient-object hygiene on a TPM without resource manager (3 object slots):
#   - 10,000 signatures in one process (one key mostly, switching among 3 keys every 50, so
#     eviction and reload run too): no failure, never more than keyward's budget loaded, none
#     left after the process (checked in-process with TPM2_GetCapability and again afterwards);
#   - the same with KEYWARD_TPM2_MAX_LOADED=3 (the whole TPM) and a persistent key;
#   - other programs' objects occupying slots: with one foreign object keyward still works;
#     with two (one slot left; a load needs two) it flushes them under the cross-process lock
#     (they are a killed process's leftovers or another process's cache) and signs; with a
#     persistent SRK and one foreign object it works.
set -u
HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
. "$KW_SOURCE_DIR/tests/support/swtpm.sh"
command -v swtpm >/dev/null && command -v tpm2_create >/dev/null || { echo "FAIL: a required tool is missing (run scripts/install-deps.sh)"; exit 1; }
kw_tpm_init tpm2_hygiene
N=${KW_TPM2_HYGIENE_N:-10000}
kw_swtpm_start "$T/tpm" || exit 1
K=$T/keys
mkdir -p "$K"
for k in p256:ec-p256 p384:ec-p384 rsa2048:rsa-2048; do
    check "keygen ${k#*:}" bash -c "'$KW_TOOL' keygen 'tpm2:file=$K/${k%%:*}.pem' --type ${k#*:} >/dev/null"
done

start=$(date +%s)
check "$N signatures, budget 2, transient SRK" "$KW_TPM2_TEST" hygiene "$K" "$N"
echo "#    ($(($(date +%s) - start)) s)"
check "nothing left in the TPM after the process" kw_tpm_clean

# Foreign objects: a primary left loaded by tpm2-tools (as tpm2-tools do).
foreign() { tpm2_createprimary -Q -C o -G ecc256 -c "$T/f$1.ctx"; }
one_sig() { "$KW_TOOL" csr "tpm2:file=$K/p256.pem" --subject CN=x >/dev/null; }
foreign 1
check "one foreign object loaded: keyward still signs" one_sig
foreign 2
# Nobody holds objects legitimately outside the lock: under it, keyward flushes what others left
# (a killed process, tpm2-tools) when object memory is full, and goes on.
check "two foreign objects + transient SRK: keyward flushes them and signs" one_sig
check "the foreign objects are gone, and keyward left nothing" kw_tpm_clean
kw_tpm_flush
# (A persistent parent also takes a slot while TPM2_Load runs: two free slots are needed either
# way.)
check "persistent SRK" kw_srk_persist
foreign 1
check "one foreign object + persistent SRK: keyward signs" one_sig
kw_tpm_flush

persist() {
    tpm2_create -Q -C 0x81000001 -G ecc256 -u "$T/h.pub" -r "$T/h.priv" &&
        tpm2_load -Q -C 0x81000001 -u "$T/h.pub" -r "$T/h.priv" -c "$T/h.ctx" &&
        tpm2_evictcontrol -Q -C o -c "$T/h.ctx" 0x81000002
    local rc=$?
    kw_tpm_flush
    return $rc
}
check "persistent key at 0x81000002" persist
check "$((N / 5)) signatures, budget 3, persistent SRK and a persistent key" \
    env KEYWARD_TPM2_MAX_LOADED=3 KW_TPM2_HANDLE_KEY=0x81000002 "$KW_TPM2_TEST" hygiene "$K" "$((N / 5))"
check "nothing left in the TPM after the process" kw_tpm_clean
kw_tpm_done
