#!/usr/bin/env bash
# Footprint of keyward's core + ATECC608 backend + HAL interface on a
# Cortex-M4 (arm-none-eabi-gcc -Os -mcpu=cortex-m4 -mthumb), per object and
# in total: .text (code + read-only data), .data, .bss.  Mbed TLS itself is
# not counted (its size depends on the application's configuration).
#
#   bench/footprint.sh [MBEDTLS_INCLUDE_DIR]
# Without an argument: once per Mbed TLS line built here (3.6 and 4.x), the
# same way; on 4.x the crypto side's headers and config are TF-PSA-Crypto's.
#
# The MCU profile: no threads (KEYWARD_NO_THREADS), 2 builtin keys, short
# KEYREFs (32 bytes), one cached public key; the platform layer is
# atecc608_single.c (one chip given by the application).  The I2C HAL
# itself is the application's (three functions + delay): not counted.
set -eu
HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd -- "$HERE/.." && pwd)
INC=${1:-}
if [ -z "$INC" ]; then
    # No tree given: measure each Mbed TLS line that has a build here (one
    # 3.6 and one 4.x tree), the same way, one after the other.
    found=0
    for want in 3 4; do
        for d in "$SRC"/build*/mbedtls-src/include; do
            [ -f "$d/mbedtls/build_info.h" ] || continue
            v=$(sed -n 's/^#define MBEDTLS_VERSION_MAJOR *\([0-9]*\).*/\1/p' "$d/mbedtls/build_info.h")
            [ "$v" = "$want" ] || continue
            found=1
            bash "$0" "$d" || exit 1
            echo
            break
        done
    done
    [ $found = 1 ] || { echo "footprint.sh: no Mbed TLS build found (build first, or pass its include dir)" >&2; exit 1; }
    exit 0
fi
TREE=$(cd "$INC/.." && pwd)
[ -f "$INC/mbedtls/build_info.h" ] || { echo "footprint.sh: $INC is not an Mbed TLS include dir" >&2; exit 1; }
if ! command -v arm-none-eabi-gcc >/dev/null 2>&1; then
    echo "footprint.sh: installing gcc-arm-none-eabi" >&2
    apt-get install -y gcc-arm-none-eabi >/dev/null
fi
OUT=$(mktemp -d)
trap '[ -n "${KEEP_FOOTPRINT_OBJ:-}" ] && cp "$OUT/keyward-linked.o" /tmp/kw-linked.o; rm -rf "$OUT"' EXIT
# Mbed TLS config for the MCU: keyward's fragment without pthreads / file I/O.
# 3.6 has one config; 4.x's crypto side (threading, builtin keys) is
# TF-PSA-Crypto's, with its headers beside Mbed TLS's.
if [ -d "$TREE/tf-psa-crypto/include" ]; then
    base=keyward_tf_psa_crypto_config.h
    LINE_FLAGS=(-DTF_PSA_CRYPTO_USER_CONFIG_FILE="\"$OUT/mcu_config.h\""
                -I"$TREE/tf-psa-crypto/include" -I"$TREE/tf-psa-crypto/drivers/builtin/include")
else
    base=keyward_mbedtls_config.h
    LINE_FLAGS=(-DMBEDTLS_USER_CONFIG_FILE="\"$OUT/mcu_config.h\"")
fi
cat > "$OUT/mcu_config.h" <<EOC
#include "$SRC/mbedtls/$base"
#undef MBEDTLS_THREADING_C
#undef MBEDTLS_THREADING_PTHREAD
EOC
CFLAGS=(-Os -mcpu=cortex-m4 -mthumb -ffunction-sections -fdata-sections -std=c11
        -Wall -Wextra -Werror
        "${LINE_FLAGS[@]}" -DKEYWARD_NO_THREADS
        -DKEYWARD_NO_ERROR_TEXT -DKEYWARD_NO_FILE_KEYS -DKEYWARD_BUILTIN_KEYREF_BY_REFERENCE
        -DKEYWARD_WITH_ATECC608 -DKEYWARD_BUILTIN_MAX=2 -DKEYWARD_KEYREF_MAX=32
        -DKEYWARD_REF_MAX=32u -DKEYWARD_ATECC608_PUBKEY_CACHE=1 -DKEYWARD_SECRETS_MAX=0
        -I"$SRC/include" -I"$SRC/src" -I"$INC")
CORE="src/core/driver.c src/core/keybuf.c src/core/builtin.c src/core/backends.c src/core/api.c src/core/redact.c src/core/secrets.c"
ATECC="src/se/atecc608/atecc608_proto.c src/se/atecc608/atecc608_chip.c src/se/atecc608/atecc608_backend.c src/se/atecc608/atecc608_single.c"
compile() {
    local f o
    for f in "$@"; do
        o="$OUT/$(basename "${f%.c}").o"
        arm-none-eabi-gcc "${CFLAGS[@]}" -c "$SRC/$f" -o "$o"
        echo "$o"
    done
}
# shellcheck disable=SC2086
core_o=$(compile $CORE)
# shellcheck disable=SC2086
atecc_o=$(compile $ATECC)
echo "Mbed TLS $(sed -n 's/^#define MBEDTLS_VERSION_STRING *"\(.*\)"/\1/p' "$INC/mbedtls/build_info.h"):" \
     "arm-none-eabi-gcc $(arm-none-eabi-gcc -dumpversion) -Os -mcpu=cortex-m4 -mthumb"
printf '%-24s %7s %6s %6s\n' object .text .data .bss
sum() {
    # shellcheck disable=SC2086
    arm-none-eabi-size $1 | awk -v label="$2" 'NR > 1 {
        n = split($6, p, "/"); name = p[n];
        printf "%-24s %7d %6d %6d\n", name, $1, $2, $3; t += $1; d += $2; b += $3 }
        END { printf "%-24s %7d %6d %6d\n", label, t, d, b }'
}
sum "$core_o" "= core"
sum "$atecc_o" "= atecc608 + HAL iface"
# shellcheck disable=SC2086
arm-none-eabi-size $core_o $atecc_o | awk 'NR > 1 { t += $1; d += $2; b += $3 }
    END { printf "%-24s %7d %6d %6d\n", "= TOTAL", t, d, b }'
# What a firmware image really carries: link the objects with
# --gc-sections, keeping only what the PSA core and the application call.
# Two application styles: (a) opens keys by KEYREF (keyward_key_open);
# (b) declares its slot keys at boot (keyward_builtin_add) and uses the ids.
link_size() {
    local label=$1 r ldargs=()
    shift
    for r in keyward_psa_get_key_buffer_size keyward_psa_get_key_buffer_size_from_key_data \
             keyward_psa_import_key keyward_psa_generate_key keyward_psa_export_public_key \
             keyward_psa_export_key keyward_psa_sign_hash keyward_psa_verify_hash \
             keyward_psa_get_builtin_key mbedtls_psa_platform_get_builtin_key "$@"; do
        ldargs+=(-Wl,-u,"$r")
    done
    # shellcheck disable=SC2086
    arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -nostdlib -Wl,-r -Wl,--gc-sections "${ldargs[@]}" \
        -o "$OUT/keyward-linked.o" $core_o $atecc_o
    arm-none-eabi-size "$OUT/keyward-linked.o" | awk -v l="$label" 'NR > 1 {
        printf "%-24s %7d %6d %6d\n", l, $1, $2, $3 }'
}
link_size "= LINKED, builtin_add" keyward_builtin_add keyward_init
link_size "= LINKED, key_open" keyward_key_open keyward_init
echo "heap: none (no malloc/calloc/free referenced):"
# shellcheck disable=SC2086
if arm-none-eabi-nm -u $core_o $atecc_o | grep -E ' (malloc|calloc|realloc|free)$'; then
    echo "  FOUND heap use"
else
    echo "  confirmed"
fi
