#!/usr/bin/env bash
# Footprint of keyward on a Cortex-M4 (arm-none-eabi-gcc -Os -mcpu=cortex-m4
# -mthumb): per object, then linked with --gc-sections as a firmware image
# carries it.  Lines:
#   keyward's share   core + ATECC608 backend (+ atecc608_single.c), HAL
#                     excluded -- the figure the budget applies to:
#                     .text <= 4096, .bss <= 64, no heap (checked; exit 1 if over)
#   HAL               bench/footprint_hal.c, a representative port (the
#                     application's own code), reported apart
#   entropy source    atecc608_entropy.c (mbedtls_hardware_poll), reported apart
# Mbed TLS itself is not counted (its size depends on the application's
# configuration).
#
#   bench/footprint.sh [MBEDTLS_INCLUDE_DIR]
# Without an argument: once per Mbed TLS line built here (3.6 and 4.x), the
# same way; on 4.x the crypto side's headers and config are TF-PSA-Crypto's.
#
# The MCU profile: no threads (KEYWARD_NO_THREADS), 2 builtin keys, short
# KEYREFs (32 bytes), one cached public key, no error text, no file keys; the
# platform layer is atecc608_single.c (one chip given by the application).
# Needs gcc-arm-none-eabi and libnewlib-arm-none-eabi (the C headers);
# installs them when missing.  Any failed step stops the script with a
# message: it never prints figures it did not measure.
set -euo pipefail
HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd -- "$HERE/.." && pwd)
die() { echo "footprint.sh: $*" >&2; exit 1; }
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
    [ $found = 1 ] || die "no Mbed TLS build found (build first, or pass its include dir)"
    exit 0
fi
[ -f "$INC/mbedtls/build_info.h" ] || die "$INC is not an Mbed TLS include dir"
TREE=$(cd "$INC/.." && pwd)
need=()
command -v arm-none-eabi-gcc >/dev/null 2>&1 || need+=(gcc-arm-none-eabi)
dpkg-query -W -f='${Status}' libnewlib-arm-none-eabi 2>/dev/null | grep -q "install ok installed" ||
    need+=(libnewlib-arm-none-eabi)
if [ "${#need[@]}" -gt 0 ]; then
    echo "footprint.sh: installing ${need[*]}" >&2
    apt-get install -y "${need[@]}" >/dev/null || die "cannot install ${need[*]} (run scripts/install-deps.sh as root)"
fi
OUT=$(mktemp -d)
trap '[ -n "${KEEP_FOOTPRINT_OBJ:-}" ] && cp "$OUT"/linked-*.o /tmp/ 2>/dev/null; rm -rf "$OUT"' EXIT
# Mbed TLS config for the MCU: keyward's fragment without pthreads / file I/O.
# 3.6 has one config; 4.x's crypto side (threading, builtin keys) is
# TF-PSA-Crypto's, with its headers beside Mbed TLS's.  The entropy hook is
# mbedtls_hardware_poll on 3.6, mbedtls_platform_get_entropy on 4.x.
if [ -d "$TREE/tf-psa-crypto/include" ]; then
    base=keyward_tf_psa_crypto_config.h
    LINE_FLAGS=(-DTF_PSA_CRYPTO_USER_CONFIG_FILE="\"$OUT/mcu_config.h\""
                -I"$TREE/tf-psa-crypto/include" -I"$TREE/tf-psa-crypto/drivers/builtin/include")
    ENTROPY_FLAG=-DMBEDTLS_PSA_DRIVER_GET_ENTROPY ENTROPY_FN=mbedtls_platform_get_entropy
else
    base=keyward_mbedtls_config.h
    LINE_FLAGS=(-DMBEDTLS_USER_CONFIG_FILE="\"$OUT/mcu_config.h\"")
    ENTROPY_FLAG=-DMBEDTLS_ENTROPY_HARDWARE_ALT ENTROPY_FN=mbedtls_hardware_poll
fi
cat > "$OUT/mcu_config.h" <<EOC
#include "$SRC/mbedtls/$base"
#undef MBEDTLS_THREADING_C
#undef MBEDTLS_THREADING_PTHREAD
EOC
# The backend's MCU sources, its headers and the backend table, from its declaration
# (src/se/atecc608/CMakeLists.txt), checked and written by the backend contract.
cmake -DKW_SOURCE_DIR="$SRC" -DKW_BACKENDS=atecc608 -DKW_OUT="$OUT/gen" \
      -P "$SRC/cmake/keyward-backends.cmake" >&2 || die "the backend declarations do not check out"
ATECC="" BACKEND_INC=()
while read -r line; do
    case $line in
        -I*) BACKEND_INC+=("$line") ;;
        *) ATECC="$ATECC ${line#"$SRC"/}" ;;
    esac
done <"$OUT/gen/backends.list"
CFLAGS=(-Os -mcpu=cortex-m4 -mthumb -ffunction-sections -fdata-sections -std=c11
        -Wall -Wextra -Werror
        "${LINE_FLAGS[@]}" -DKEYWARD_NO_THREADS
        -DKEYWARD_NO_ERROR_TEXT -DKEYWARD_NO_FILE_KEYS -DKEYWARD_BUILTIN_KEYREF_BY_REFERENCE
        -DKEYWARD_BUILTIN_MAX=2 -DKEYWARD_KEYREF_MAX=32
        -DKEYWARD_REF_MAX=32u -DKEYWARD_ATECC608_PUBKEY_CACHE=1 -DKEYWARD_SECRETS_MAX=0
        -I"$SRC/include" "${BACKEND_INC[@]}" -I"$OUT/gen" -I"$SRC/src" -I"$INC")
CORE="src/core/driver.c src/core/keybuf.c src/core/builtin.c src/core/backends.c src/core/api.c src/core/keyref.c src/core/redact.c src/core/secrets.c"
compile() { # FILE [EXTRA CFLAGS...] -> prints the object path
    local f=$1 o
    shift
    o="$OUT/$(basename "${f%.c}").o"
    arm-none-eabi-gcc "${CFLAGS[@]}" "$@" -c "$SRC/$f" -o "$o" >&2 || die "cannot compile $f"
    echo "$o"
}
core_o=() atecc_o=()
for f in $CORE; do core_o+=("$(compile "$f")"); done
for f in $ATECC; do atecc_o+=("$(compile "$f")"); done
hal_o=$(compile bench/footprint_hal.c)
entropy_o=$(compile src/se/atecc608/atecc608_entropy.c "$ENTROPY_FLAG")

sizes() { # OBJECTS... -> "text data bss" summed; dies on a failure or on all zeros
    local out
    out=$(arm-none-eabi-size "$@") || die "arm-none-eabi-size failed on $*"
    echo "$out" | awk 'NR > 1 { t += $1; d += $2; b += $3 } END { print t + 0, d + 0, b + 0 }'
}
row() { printf '%-34s %7s %6s %6s\n' "$@"; }
echo "Mbed TLS $(sed -n 's/^#define MBEDTLS_VERSION_STRING *"\(.*\)"/\1/p' "$INC/mbedtls/build_info.h"):" \
     "arm-none-eabi-gcc $(arm-none-eabi-gcc -dumpversion) -Os -mcpu=cortex-m4 -mthumb"
row object .text .data .bss
for o in "${core_o[@]}" "${atecc_o[@]}"; do
    # shellcheck disable=SC2046
    row "$(basename "$o")" $(sizes "$o")
done
# shellcheck disable=SC2046
row "= core objects" $(sizes "${core_o[@]}")
# shellcheck disable=SC2046
row "= atecc608 backend objects" $(sizes "${atecc_o[@]}")

# What a firmware image really carries: link with --gc-sections, keeping the
# PSA driver entry points, the builtin-key hook and what the application
# calls.  Two application styles: (a) declares its slot keys at boot
# (keyward_builtin_add, KEYWARD_ATECC608_BUILTIN) and uses the ids; (b)
# opens keys by KEYREF (keyward_key_open).
ROOTS=(keyward_psa_get_key_buffer_size keyward_psa_get_key_buffer_size_from_key_data
       keyward_psa_import_key keyward_psa_generate_key keyward_psa_export_public_key
       keyward_psa_export_key keyward_psa_sign_hash keyward_psa_verify_hash
       keyward_psa_get_builtin_key mbedtls_psa_platform_get_builtin_key keyward_init
       keyward_atecc608_init keyward_atecc608_attach)
link() { # NAME ROOTS... -- OBJECTS...
    local name=$1 args=()
    shift
    while [ "$1" != -- ]; do args+=(-Wl,-u,"$1"); shift; done
    shift
    arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -nostdlib -Wl,-r -Wl,--gc-sections "${args[@]}" \
        -o "$OUT/linked-$name.o" "$@" || die "link '$name' failed"
    sizes "$OUT/linked-$name.o"
}
read -r t d b <<<"$(link builtin "${ROOTS[@]}" keyward_builtin_add -- "${core_o[@]}" "${atecc_o[@]}")"
[ "$t" -gt 0 ] || die "the linked image is empty: the link did not keep keyward's code"
read -r t2 d2 b2 <<<"$(link key_open "${ROOTS[@]}" keyward_key_open -- "${core_o[@]}" "${atecc_o[@]}")"
read -r th dh bh <<<"$(link hal "${ROOTS[@]}" keyward_builtin_add board_i2c -- \
    "${core_o[@]}" "${atecc_o[@]}" "$hal_o")"
read -r te de be <<<"$(link entropy "${ROOTS[@]}" keyward_builtin_add "$ENTROPY_FN" -- \
    "${core_o[@]}" "${atecc_o[@]}" "$entropy_o")"
row "= keyward's share, linked (a)" "$t" "$d" "$b"
row "  same, application style (b)" "$t2" "$d2" "$b2"
row "+ HAL (bench/footprint_hal.c)" $((th - t)) $((dh - d)) $((bh - b))
row "+ entropy source ($ENTROPY_FN)" $((te - t)) $((de - d)) $((be - b))

fail=0
heap=$(arm-none-eabi-nm -u "${core_o[@]}" "${atecc_o[@]}" "$entropy_o" | grep -E ' (malloc|calloc|realloc|free)$' || true)
if [ -n "$heap" ]; then
    echo "heap: FOUND ($heap)"
    fail=1
else
    echo "heap: none (no malloc/calloc/realloc/free referenced)"
fi
if [ "$t" -le 4096 ] && [ "$b" -le 64 ]; then
    echo "budget: ok (keyward's share .text $t <= 4096, .bss $b <= 64)"
else
    echo "budget: EXCEEDED (keyward's share .text $t of 4096, .bss $b of 64)"
    fail=1
fi
exit "$fail"
