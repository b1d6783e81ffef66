#!/usr/bin/env bash
# One TPM shared by several processes, and clients killed at any moment (issue 7 §4):
#   - 8 processes x 25 mutual-TLS handshakes at once on a bare swtpm (no resource manager):
#     all succeed (keyward serialises them with its cross-process lock and recovers slots);
#   - the same through tpm2-abrmd (a resource manager: no lock);
#   - a signing process SIGKILLed at random moments, 6 times, and handshaking clients killed at
#     random moments: each time the next process signs, and at the end nothing is left loaded;
#   - two keys used in turn by one process stay loaded (no reload per signature).
set -u
HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
. "$KW_SOURCE_DIR/tests/support/swtpm.sh"
for t in swtpm tpm2_createprimary tpm2-abrmd dbus-daemon openssl; do
    command -v "$t" >/dev/null || { echo "FAIL: $t is missing (run scripts/install-deps.sh)"; exit 1; }
done
kw_tpm_init tpm2_shared
NPROC=${KW_TPM2_SHARED_PROCS:-8}
NHS=${KW_TPM2_SHARED_HS:-25}
CA=$T/ca
mkdir -p "$CA"
kw_make_ca "$CA" || exit 1

# make_key DIR NAME : a P-256 key in the current TPM and its certificate
make_key() {
    "$KW_TOOL" keygen "tpm2:file=$1/$2.pem" --type ec-p256 >"$1/$2.pub" &&
        kw_issue_cert "$CA" "$1/$2.pub" "/CN=keyward shared $2/O=keyward" "$1/$2.crt"
}

# handshakes KEYDIR PORT TAG : NPROC processes x NHS handshakes at once; ok if all succeed
handshakes() {
    local kd=$1 port=$2 tag=$3 p i pids=()
    for ((p = 0; p < NPROC; p++)); do
        (
            for ((i = 0; i < NHS; i++)); do
                if timeout 60 "$KW_CLIENT" --cacert "$CA/ca.pem" --cert "$kd/k.crt" \
                    --key "tpm2:file=$kd/k.pem" "https://127.0.0.1:$port/" \
                    >/dev/null 2>>"$T/hs.$tag.$p.err"; then
                    echo ok
                else
                    echo "fail rc=$?"
                fi
            done >"$T/hs.$tag.$p"
        ) &
        pids+=($!)
    done
    wait "${pids[@]}"
    local good total
    good=$(cat "$T"/hs."$tag".* 2>/dev/null | grep -c '^ok$')
    total=$((NPROC * NHS))
    if [ "$good" -eq "$total" ]; then
        ok "$tag: $NPROC processes x $NHS handshakes: $good/$total succeed"
    else
        bad "$tag: $NPROC processes x $NHS handshakes: only $good/$total succeed"
        cat "$T"/hs."$tag".*.err 2>/dev/null | sort | uniq -c | sort -rn | head -n 5 | sed 's/^/#    /'
    fi
}

port=$(kw_free_port) || exit 1
kw_start_server openssl "$CA" "$port" || { bad "start openssl s_server"; kw_tpm_done; exit 1; }

# ---- bare swtpm -------------------------------------------------------------------------
kw_swtpm_start "$T/tpm" || exit 1
BARE_TCTI=$TPM2TOOLS_TCTI
K=$T/bare
mkdir -p "$K"
check "keygen on the bare TPM" make_key "$K" k
start=$(date +%s)
handshakes "$K" "$port" "bare swtpm"
echo "#    ($(($(date +%s) - start)) s)"
check "bare swtpm: nothing left loaded after the clients" kw_tpm_clean

# ---- killed clients ---------------------------------------------------------------------
cp "$K/k.pem" "$K/p256.pem"
one_sig() { "$KW_TOOL" csr "tpm2:file=$K/k.pem" --subject CN=x >/dev/null; }
kills_ok=0
for round in 1 2 3 4 5 6; do
    rm -f "$K/signing"
    "$KW_TPM2_TEST" loop "$K" >"$T/loop.$round.log" 2>&1 &
    pid=$!
    for ((i = 0; i < 400; i++)); do
        [ -e "$K/signing" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    [ -e "$K/signing" ] || { bad "round $round: the signing process never signed"; sed 's/^/#    /' "$T/loop.$round.log"; }
    # a random moment inside the signing loop (0-250 ms after the first signature): the
    # sleep IS the case (a kill at an arbitrary point), not a synchronisation
    sleep "0.$(printf '%03d' $((RANDOM % 250)))"
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    if one_sig 2>"$T/kill.err"; then
        kills_ok=$((kills_ok + 1))
    else
        bad "round $round: after a SIGKILLed signer the next process fails"
        sed 's/^/#    /' "$T/kill.err"
    fi
done
[ "$kills_ok" -eq 6 ] && ok "6 signers SIGKILLed at random moments: the next process signs every time"
# handshaking clients killed at random moments (key open, load, sign or TLS I/O)
for round in 1 2 3 4; do
    for p in 1 2 3; do
        timeout 60 "$KW_CLIENT" --cacert "$CA/ca.pem" --cert "$K/k.crt" --key "tpm2:file=$K/k.pem" \
            "https://127.0.0.1:$port/" >/dev/null 2>&1 &
        eval "cpid$p=\$!"
    done
    sleep "0.$(printf '%03d' $((RANDOM % 200)))" # the random kill moment is the case
    kill -KILL "$cpid1" "$cpid2" "$cpid3" 2>/dev/null
    wait "$cpid1" "$cpid2" "$cpid3" 2>/dev/null
done
check "after 12 clients SIGKILLed mid-handshake, a handshake succeeds" \
    timeout 60 "$KW_CLIENT" --cacert "$CA/ca.pem" --cert "$K/k.crt" --key "tpm2:file=$K/k.pem" \
    "https://127.0.0.1:$port/"
# What killed clients left (objects, saved sessions) stays until a keyward process runs short of
# TPM memory and flushes it (tested in tpm2_hygiene and above): the TPM keeps working.
check "and three more processes sign in a row" bash -c "$(declare -f one_sig); K='$K' KW_TOOL='$KW_TOOL'; one_sig && one_sig && one_sig"
kw_tpm_flush

# ---- two alternating keys ---------------------------------------------------------------
check "second key" "$KW_TOOL" keygen "tpm2:file=$K/p256b.pem" --type ec-p256
check "two alternating keys stay loaded" "$KW_TPM2_TEST" alternate "$K" 200
grep '^#' "$T/last.log"
check "the same with KEYWARD_TPM2_LOCK=process (lock and connection kept)" \
    env KEYWARD_TPM2_LOCK=process "$KW_TPM2_TEST" alternate "$K" 200
grep '^#' "$T/last.log"
kw_tpm_flush

# ---- through tpm2-abrmd -----------------------------------------------------------------
kw_swtpm_start "$T/tpm2" || exit 1
RM_SWTPM_TCTI=$TPM2TOOLS_TCTI
dbus-daemon --session --fork --nosyslog --print-address=3 --print-pid=4 3>"$T/dbus.addr" 4>"$T/dbus.pid" ||
    { bad "dbus-daemon"; kw_tpm_done; exit 1; }
kw_on_exit "kill \$(cat '$T/dbus.pid') 2>/dev/null"
export DBUS_SESSION_BUS_ADDRESS
DBUS_SESSION_BUS_ADDRESS=$(head -n 1 "$T/dbus.addr")
busname=com.intel.tss2.Tabrmd.kw$$
root=()
[ "$(id -u)" -eq 0 ] && root=(--allow-root)
tpm2-abrmd "${root[@]}" --session --dbus-name="$busname" --tcti="$RM_SWTPM_TCTI" >"$T/abrmd.log" 2>&1 &
abrmd_pid=$!
kw_on_exit "kill $abrmd_pid 2>/dev/null; wait $abrmd_pid 2>/dev/null"
export TPM2TOOLS_TCTI="tabrmd:bus_name=$busname,bus_type=session"
for ((i = 0; i < 100; i++)); do
    tpm2_getrandom 4 >/dev/null 2>&1 && break
    kill -0 "$abrmd_pid" 2>/dev/null || break
    sleep 0.1
done
check "tpm2-abrmd answers" tpm2_getrandom 4
K2=$T/rm
mkdir -p "$K2"
check "keygen through tpm2-abrmd" make_key "$K2" k
start=$(date +%s)
handshakes "$K2" "$port" "tpm2-abrmd"
echo "#    ($(($(date +%s) - start)) s)"
ls "$T"/tpm2/keyward-tpm2-*.lock >/dev/null 2>&1 && bad "a lock file was made for the resource manager" ||
    ok "no cross-process lock through the resource manager"
export TPM2TOOLS_TCTI=$BARE_TCTI
kw_stop_server openssl "$CA"
kw_tpm_done
