#!/usr/bin/env bash
# Interoperability of keyward's TPM keys with tpm2-openssl and tpm2-tools, both directions:
#   openssl genpkey -provider tpm2 (EC, RSA; parent 0x40000001)  -> keyward pubkey/csr
#   tpm2-tools key under a persistent SRK, tpm2_encodeobject     -> keyward pubkey/csr
#   tpm2-tools persistent key (tpm2_evictcontrol)                -> keyward tpm2:handle=
#   keyward-tool keygen (EC, RSA, parent= persistent)            -> openssl pkey/dgst -provider tpm2
set -u
HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
. "$KW_SOURCE_DIR/tests/support/swtpm.sh"
command -v swtpm >/dev/null && command -v tpm2_create >/dev/null || { echo "FAIL: a required tool is missing (run scripts/install-deps.sh)"; exit 1; }
kw_tpm_init tpm2_interop
kw_swtpm_start "$T/tpm" || exit 1
openssl list -providers -provider tpm2 >/dev/null 2>&1 || { echo "no tpm2-openssl provider"; exit 1; }
OSSL=(-provider tpm2 -provider default)

# der_hash PEM_PUBKEY : a canonical fingerprint of a public key
der_hash() { openssl pkey -pubin -in "$1" -outform DER | sha256sum | cut -d' ' -f1; }
same_pub() { # same_pub A.pem B.pem
    [ -s "$1" ] && [ -s "$2" ] && [ "$(der_hash "$1")" = "$(der_hash "$2")" ]
}
csr_ok() { # csr_ok KEYREF : a CSR signed inside the TPM verifies
    "$KW_TOOL" csr "$1" --subject "CN=keyward interop" >"$T/req.pem" &&
        openssl req -in "$T/req.pem" -noout -verify
}

# ---- tpm2-openssl -> keyward
for spec in "ec:EC:group:P-256" "rsa:RSA:bits:2048"; do
    IFS=: read -r n alg opt val <<<"$spec"
    check "openssl genpkey -provider tpm2 ($alg)" \
        openssl genpkey "${OSSL[@]}" -algorithm "$alg" -pkeyopt "$opt:$val" -out "$T/o_$n.pem"
    openssl pkey "${OSSL[@]}" -in "$T/o_$n.pem" -pubout -out "$T/o_$n.pub" 2>/dev/null
    "$KW_TOOL" pubkey "tpm2:file=$T/o_$n.pem" >"$T/o_$n.kw.pub" 2>"$T/last.log"
    check "keyward reads the tpm2-openssl $alg key (same public key)" same_pub "$T/o_$n.pub" "$T/o_$n.kw.pub"
    check "keyward signs a CSR with the tpm2-openssl $alg key" csr_ok "tpm2:file=$T/o_$n.pem"
done

# ---- tpm2-tools -> keyward (file under a persistent parent, and a persistent key)
check "standard SRK persistent at 0x81000001 (tpm2-tools)" kw_srk_persist
tools_file_key() {
    tpm2_create -Q -C 0x81000001 -G rsa2048 -u "$T/t.pub" -r "$T/t.priv" &&
        tpm2_encodeobject -Q -C 0x81000001 -u "$T/t.pub" -r "$T/t.priv" -o "$T/t_rsa.pem" &&
        tpm2_load -Q -C 0x81000001 -u "$T/t.pub" -r "$T/t.priv" -c "$T/t.ctx" &&
        tpm2_readpublic -Q -c "$T/t.ctx" -f pem -o "$T/t_rsa.pub"
    local rc=$?
    kw_tpm_flush
    return $rc
}
check "tpm2_create + tpm2_encodeobject (RSA-2048, parent 0x81000001)" tools_file_key
"$KW_TOOL" pubkey "tpm2:file=$T/t_rsa.pem" >"$T/t_rsa.kw.pub" 2>"$T/last.log"
check "keyward reads the tpm2-tools key file (same public key)" same_pub "$T/t_rsa.pub" "$T/t_rsa.kw.pub"
check "keyward signs a CSR with the tpm2-tools key file" csr_ok "tpm2:file=$T/t_rsa.pem"
tools_persistent_key() {
    tpm2_create -Q -C 0x81000001 -G ecc256 -u "$T/p.pub" -r "$T/p.priv" &&
        tpm2_load -Q -C 0x81000001 -u "$T/p.pub" -r "$T/p.priv" -c "$T/p.ctx" &&
        tpm2_evictcontrol -Q -C o -c "$T/p.ctx" 0x81000003 &&
        tpm2_readpublic -Q -c 0x81000003 -f pem -o "$T/p_ec.pub"
    local rc=$?
    kw_tpm_flush
    return $rc
}
check "tpm2-tools persistent EC key at 0x81000003" tools_persistent_key
"$KW_TOOL" pubkey "tpm2:handle=0x81000003" >"$T/p_ec.kw.pub" 2>"$T/last.log"
check "keyward reads tpm2:handle=0x81000003 (same public key)" same_pub "$T/p_ec.pub" "$T/p_ec.kw.pub"
check "keyward signs a CSR with tpm2:handle=0x81000003" csr_ok "tpm2:handle=0x81000003"

# ---- keyward -> tpm2-openssl
echo "keyward interop message" >"$T/msg"
for spec in "ec:ec-p256:" "rsa:rsa-2048:" "ecp:ec-p384:;parent=0x81000001"; do
    IFS=: read -r n type extra <<<"$spec"
    check "keyward-tool keygen $type$extra" bash -c \
        "'$KW_TOOL' keygen 'tpm2:file=$T/k_$n.pem$extra' --type $type >'$T/k_$n.kw.pub'"
    openssl pkey "${OSSL[@]}" -in "$T/k_$n.pem" -pubout -out "$T/k_$n.pub" 2>"$T/last.log"
    check "openssl pkey -provider tpm2 reads the keyward $type key" same_pub "$T/k_$n.pub" "$T/k_$n.kw.pub"
    check "openssl dgst -provider tpm2 signs with the keyward $type key" bash -c "
        openssl pkeyutl -provider tpm2 -provider base -sign -rawin -digest sha256 -inkey '$T/k_$n.pem' -in "$T/msg" -out "$T/sig" &&
        openssl dgst -sha256 -verify '$T/k_$n.kw.pub' -signature '$T/sig' '$T/msg'"
done
check_fails "keygen refuses to overwrite a key file" \
    "$KW_TOOL" keygen "tpm2:file=$T/k_ec.pem" --type ec-p256
check "no transient object or session left in the TPM" kw_tpm_clean
kw_tpm_done
