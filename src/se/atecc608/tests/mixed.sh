#!/usr/bin/env bash
# Keys from the ATECC608 emulator, SoftHSM2 (PKCS#11) and a software key
# (file:) opened and used in one process (test_atecc608_psa with
# KW_MIXED_KEYREFS).
set -u
. "$KW_SOURCE_DIR/tests/tls/lib.sh"
kw_test_start atecc608_mixed
kw_tmpdir T || exit 1
MOD=""
for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so; do
    [ -f "$m" ] && MOD=$m && break
done
[ -n "$MOD" ] || { echo "SoftHSM2 module not found"; exit 1; }
export SOFTHSM2_CONF=$T/softhsm2.conf
mkdir -p "$T/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\n' "$T/tokens" >"$SOFTHSM2_CONF"
softhsm2-util --init-token --free --label kwmix --pin 1234 --so-pin 5678 >/dev/null || exit 1
P11="pkcs11:token=kwmix;object=mixkey?module-path=$MOD&pin-value=1234"
"$KW_TOOL" keygen "$P11" --type ec-p256 >"$T/p11.pub" || exit 1
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/soft-rsa.pem" 2>/dev/null || exit 1
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/soft-ec.pem" 2>/dev/null || exit 1
# test_atecc608_psa counts its own checks (kwcheck.h); here it is one check of the script.
if KW_MIXED_KEYREFS="$P11 file:$T/soft-rsa.pem file:$T/soft-ec.pem" "$KW_PSA_TEST"; then
    ok "ATECC608, PKCS#11 and file: keys in one process"
else
    bad "ATECC608, PKCS#11 and file: keys in one process"
fi
kw_test_done atecc608_mixed
