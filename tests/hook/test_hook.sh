#!/usr/bin/env bash
# The wrapper hook on the Mbed TLS line this build uses (3.6: the generated
# library/ files; 4.x: TF-PSA-Crypto's Jinja templates): hooks every entry
# point exactly once, is idempotent, refuses a tree with a missing anchor
# without touching it, and the real build tree is hooked.  On 4.x also: the
# wrappers generated at build time carry every case, and --verify-generated
# refuses generated files that lack one.
set -u
: "${KW_SOURCE_DIR:?}" "${KW_MBEDTLS_PRISTINE:?}" "${KW_BUILD_DIR:?}"
hook="$KW_SOURCE_DIR/mbedtls/hook_driver_wrappers.py"
. "${KW_SOURCE_DIR:?}/tests/support/kwcheck.sh"
kw_test_start hook.driver_wrappers
kw_tmpdir tmp || exit 1

if [ -f "$KW_MBEDTLS_PRISTINE/library/psa_crypto_driver_wrappers.h" ]; then
    line=3.6; dir=library; sfx=""
elif [ -f "$KW_MBEDTLS_PRISTINE/tf-psa-crypto/scripts/data_files/driver_templates/psa_crypto_driver_wrappers.h.jinja" ]; then
    line=4.x; dir=tf-psa-crypto/scripts/data_files/driver_templates; sfx=.jinja
else
    echo "FAIL $KW_MBEDTLS_PRISTINE has neither layout"; exit 1
fi
H=$dir/psa_crypto_driver_wrappers.h$sfx
C=$dir/psa_crypto_driver_wrappers_no_static.c$sfx
echo "# Mbed TLS $line layout: $H, $C"
fresh() { rm -rf "$tmp/t"; mkdir -p "$tmp/t/$dir"; cp -a "$KW_MBEDTLS_PRISTINE/$dir/." "$tmp/t/$dir/"; }
sums() { sha256sum "$1/$H" "$1/$C" | awk '{print $1}'; }

fresh
python3 "$hook" "$tmp/t" >/dev/null && ok "hooks a pristine $line tree" || bad "hooks a pristine $line tree"
for ep in sign_hash verify_hash get_key_buffer_size_from_key_data generate_key import_key export_key; do
  n=$(grep -c "keyward-hook: $ep \*/" "$tmp/t/$H")
  [ "$n" = 1 ] && ok "$ep hooked once" || bad "$ep hooked $n times"
done
for ep in get_key_buffer_size export_public_key get_builtin_key; do
  n=$(grep -c "keyward-hook: $ep \*/" "$tmp/t/$C")
  [ "$n" = 1 ] && ok "$ep hooked once" || bad "$ep hooked $n times"
done
for f in $H $C; do
  n=$(grep -c '#include "keyward/port/psa_driver.h"' "$tmp/t/$f")
  [ "$n" = 1 ] && ok "include added once to $(basename $f)" || bad "include count $n in $f"
done
# every inserted case sits before the default: of a location switch
n=$(grep -A4 'KEYWARD_PSA_LOCATION_CASES' "$tmp/t/$H" "$tmp/t/$C" | grep -c '^.*#endif')
[ "$n" = 9 ] && ok "9 guarded blocks" || bad "guarded blocks: $n"
n=$(grep -A5 'KEYWARD_PSA_LOCATION_CASES' "$tmp/t/$H" "$tmp/t/$C" | grep -c 'default:')
[ "$n" = 9 ] && ok "each block is followed by the switch's default:" || bad "blocks before default: $n"

before=$(sums "$tmp/t")
out=$(python3 "$hook" "$tmp/t")
[ "$(sums "$tmp/t")" = "$before" ] && ok "second run changes nothing" || bad "second run changed files"
echo "$out" | grep -q "0 file(s) changed" && ok "second run reports no change" || bad "second run said: $out"

# an anchor removed: the wrapper function renamed (version drift)
fresh
sed -i 's/psa_driver_wrapper_verify_hash(/psa_driver_wrapper_verify_hash_v2(/' "$tmp/t/$H"
before=$(sums "$tmp/t")
err=$(python3 "$hook" "$tmp/t" 2>&1); rc=$?
[ $rc -eq 2 ] && ok "missing function anchor fails (rc 2)" || bad "missing function anchor rc=$rc"
echo "$err" | grep -q "psa_driver_wrapper_verify_hash(" && ok "message names the anchor" || bad "message: $err"
[ "$(echo "$err" | wc -l)" = 1 ] && ok "message is one line" || bad "message lines: $err"
[ "$(sums "$tmp/t")" = "$before" ] && ok "failed run leaves the tree untouched" || bad "failed run modified files"

# the location switch's default: label removed
fresh
python3 - "$tmp/t/$C" <<'PY'
import sys,re
p=sys.argv[1]; s=open(p).read()
i=s.index('psa_status_t psa_driver_wrapper_get_builtin_key(')
j=s.index('default:', i)
open(p,'w').write(s[:j]+'/* gone */'+s[j+8:])
PY
err=$(python3 "$hook" "$tmp/t" 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$err" | grep -q "default:" && echo "$err" | grep -q get_builtin_key \
  && ok "missing default: anchor fails naming it" || bad "default anchor: rc=$rc $err"

# the include anchor removed
fresh
sed -i 's/#include "psa_crypto_core.h"/#include "psa_crypto_core2.h"/' "$tmp/t/$C"
err=$(python3 "$hook" "$tmp/t" 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$err" | grep -q 'psa_crypto_core.h' && ok "missing include anchor fails naming it" || bad "include anchor: rc=$rc $err"

# not an Mbed TLS tree at all
err=$(python3 "$hook" "$tmp/nothing" 2>&1); rc=$?
[ $rc -eq 2 ] && ok "non-tree refused" || bad "non-tree rc=$rc"

# the tree this build compiled is hooked
n=$(grep -c "keyward-hook: " "$KW_BUILD_DIR/mbedtls-src/$H" "$KW_BUILD_DIR/mbedtls-src/$C" | awk -F: '{s+=$2} END {print s}')
[ "$n" = 9 ] && ok "build tree hooked (9 entry points)" || bad "build tree hooks: $n"
# and the pristine source was never touched
n=$(grep -c "keyward" "$KW_MBEDTLS_PRISTINE/$H" "$KW_MBEDTLS_PRISTINE/$C" | awk -F: '{s+=$2} END {print s}')
[ "$n" = 0 ] && ok "pristine tree untouched" || bad "pristine tree has $n keyward lines"

if [ $line = 4.x ]; then
  gen="$KW_BUILD_DIR/mbedtls/tf-psa-crypto/core"
  out=$(python3 "$hook" --verify-generated "$gen" 2>&1); rc=$?
  [ $rc -eq 0 ] && ok "generated wrappers of this build carry all 9 cases" || bad "verify-generated: rc=$rc $out"
  n=$(grep -c "keyward-hook: " "$gen/psa_crypto_driver_wrappers.h" "$gen/psa_crypto_driver_wrappers_no_static.c" | awk -F: '{s+=$2} END {print s}')
  [ "$n" = 9 ] && ok "Jinja kept all 9 cases" || bad "generated cases: $n"
  # a generation that lost one case (e.g. a case inside a false {% if %}) is refused
  mkdir -p "$tmp/gen"
  cp "$gen/psa_crypto_driver_wrappers.h" "$gen/psa_crypto_driver_wrappers_no_static.c" "$tmp/gen/"
  sed -i 's|/\* keyward-hook: export_key \*/|/* lost */|' "$tmp/gen/psa_crypto_driver_wrappers.h"
  err=$(python3 "$hook" --verify-generated "$tmp/gen" 2>&1); rc=$?
  [ $rc -eq 2 ] && echo "$err" | grep -q "psa_driver_wrapper_export_key" \
    && ok "generated output lacking a case is refused, naming it" || bad "verify lost case: rc=$rc $err"
fi

kw_test_done hook.driver_wrappers
