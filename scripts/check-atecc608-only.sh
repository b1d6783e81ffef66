#!/usr/bin/env bash
# An ATECC608-only build (KEYWARD_WITH_PKCS11=OFF, KEYWARD_WITH_TPM2=OFF) links no PKCS#11 or
# TPM library: none of its programs needs p11-kit or tss2, and the crypto library that holds
# keyward refers to no p11-kit or Esys/Tss2 symbol.  Exit 1, naming the culprit, otherwise.
#   scripts/check-atecc608-only.sh BUILD_DIR
set -u
B=${1:?usage: check-atecc608-only.sh BUILD_DIR}
fail=0
grep -q '^KEYWARD_WITH_PKCS11:BOOL=OFF' "$B/CMakeCache.txt" &&
    grep -q '^KEYWARD_WITH_TPM2:BOOL=OFF' "$B/CMakeCache.txt" ||
    { echo "FAIL $B is not configured with KEYWARD_WITH_PKCS11=OFF and KEYWARD_WITH_TPM2=OFF"; exit 1; }
table=$B/keyward-gen/keyward_backends_table.h
if grep -q 'keyward_atecc608_backend' "$table" && ! grep -Eq 'pkcs11|tpm2' "$table"; then
    echo "ok   backend table: $(grep -o 'KEYWARD_BACKEND_ENTRIES.*' "$table")"
else
    echo "FAIL backend table $table:"; cat "$table"; fail=1
fi
for prog in tools/keyward-client tools/keyward-tool emulator/keyward-atecc608-emu; do
    needed=$(readelf -d "$B/$prog" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
    if [[ $needed == *p11-kit* || $needed == *tss2* ]]; then
        echo "FAIL $prog needs: $needed"; fail=1
    else
        echo "ok   $prog needs only: $needed"
    fi
done
crypto=$(find "$B/mbedtls" -name 'libmbedcrypto.a' -o -name 'libtfpsacrypto.a' | head -1)
syms=$(nm -u "$crypto" 2>/dev/null | grep -E ' (p11_kit_|C_GetFunctionList|Esys_|Tss2_)' | sort -u | head -5)
if [ -z "$crypto" ] || [ -n "$syms" ]; then
    echo "FAIL ${crypto:-no crypto library} refers to: $syms"; fail=1
else
    echo "ok   $(basename "$crypto") refers to no p11-kit/Esys/Tss2 symbol"
fi
exit $fail
