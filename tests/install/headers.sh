#!/usr/bin/env bash
# The installed headers (issue 15, section 2), from the installed tree only:
#  - `cmake --install` into a temp prefix installs exactly the headers listed in
#    KW_INSTALL_HEADERS (cmake/keyward-install.cmake; $KW_INSTALLED_HEADERS is the build's
#    copy of that list), no more, no fewer;
#  - no installed header includes a private one (src/, core/, se/, hal/, *_internal.h,
#    *_proto.h, ../) or a keyward header that is not installed;
#  - each header compiles ALONE, include dirs P/include and P/include/keyward-mbedtls only:
#    as C99 (gcc -std=c99 -Wall -Wextra -pedantic -Werror) and as C++ (g++ -std=c++11, same
#    flags), in the default and in the MCU profile (KEYWARD_NO_ERROR_TEXT,
#    KEYWARD_SECRETS_MAX=0, which switch declarations to static inline ones);
#  - the consumers (examples/*, tests/install/*.c) include no keyward/port/ header;
#  - extern "C" works: each translation unit takes the address of the function the list
#    names for the header, and in the C++ object that function's symbol is the C name,
#    not a mangled one.
set -u
. "$KW_SOURCE_DIR/tests/tls/lib.sh"
PASS=0 FAIL=0
ok() { echo "ok   $*"; PASS=$((PASS + 1)); }
bad() { echo "FAIL $*"; FAIL=$((FAIL + 1)); }

LIST=${KW_INSTALLED_HEADERS:?KW_INSTALLED_HEADERS: the list of installed headers}
CC=${CC:-cc}
CXX=${CXX:-c++}
command -v "$CXX" >/dev/null || { echo "FAIL no C++ compiler ($CXX): scripts/install-deps.sh installs g++"; exit 1; }
kw_tmpdir T || exit 1
P=$T/prefix
if cmake --install "$KW_BUILD_DIR" --prefix "$P" >"$T/install.log" 2>&1; then
    ok "cmake --install --prefix $P"
else
    bad "cmake --install"; sed 's/^/#    /' "$T/install.log"; exit 1
fi

# 1. The installed tree is the list.
want=$(cut -d= -f1 "$LIST" | sed '/^$/d' | sort)
have=$(cd "$P/include/keyward" && find . -type f | sed 's|^\./||' | sort)
if [ -n "$want" ] && [ "$want" = "$have" ]; then
    ok "installed headers = KW_INSTALL_HEADERS ($(echo "$want" | wc -l) headers)"
else
    bad "installed headers differ from KW_INSTALL_HEADERS (< listed, > installed):"
    diff <(echo "$want") <(echo "$have") | sed -n 's/^[<>]/#    &/p'
fi

# 2. No private header behind an installed one.
for h in $have; do
    incs=$(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]\([^>"]*\)[>"].*/\1/p' \
        "$P/include/keyward/$h")
    for i in $incs; do
        case $i in
        src/* | core/* | se/* | hal/* | *_internal.h | *_proto.h | ../* | *//*)
            bad "keyward/$h includes a private header: $i" ;;
        keyward/*)
            echo "$want" | grep -qx "${i#keyward/}" || bad "keyward/$h includes $i, which is not installed" ;;
        esac
    done
done
ok "no installed header includes a private one (checked above: any FAIL names it)"

# 3. The consumers (examples/, the install tests' own sources) are applications: they include
#    keyward's application API only, never keyward/port/.
consumers=$(cd "$KW_SOURCE_DIR" && ls examples/*/*.c tests/install/*.c 2>/dev/null)
port_use=$(cd "$KW_SOURCE_DIR" && grep -lE '#[[:space:]]*include[[:space:]]*[<"]keyward/port/' $consumers)
if [ -n "$consumers" ] && [ -z "$port_use" ]; then
    ok "the consumers include keyward/*.h only: $(echo $consumers)"
else
    bad "a consumer includes the port API: $port_use"
fi

# 4. Each header alone, C99 and C++, two profiles; extern "C" checked on the C++ object.
INC=(-I"$P/include" -I"$P/include/keyward-mbedtls")
FLAGS=(-Wall -Wextra -pedantic -Werror)
n=0
while IFS='=' read -r h sym; do
    [ -n "$h" ] || continue
    base=$T/h_$(echo "$h" | tr '/.' '__')
    {
        echo "#include <keyward/$h>"
        echo "/* A translation unit must declare something (ISO C). */"
        echo "typedef int kw_header_alone_t;"
        if [ "$sym" != "-" ]; then
            echo "typedef void (*kw_fn_t)(void);"
            echo "kw_fn_t kw_taken(void);"
            echo "kw_fn_t kw_taken(void) { return (kw_fn_t)&$sym; }"
        fi
    } >"$base.c"
    cp "$base.c" "$base.cpp"
    for profile in default mcu; do
        defs=()
        [ $profile = mcu ] && defs=(-DKEYWARD_NO_ERROR_TEXT -DKEYWARD_SECRETS_MAX=0)
        if "$CC" -std=c99 "${FLAGS[@]}" "${defs[@]}" "${INC[@]}" -c "$base.c" -o "$base.$profile.o" \
            2>"$base.$profile.c.log"; then
            n=$((n + 1))
        else
            bad "keyward/$h alone as C99 ($profile profile)"; sed 's/^/#    /' "$base.$profile.c.log" | head -20
        fi
        if "$CXX" -std=c++11 "${FLAGS[@]}" "${defs[@]}" "${INC[@]}" -c "$base.cpp" \
            -o "$base.$profile.cpp.o" 2>"$base.$profile.cpp.log"; then
            n=$((n + 1))
            if [ "$sym" != "-" ] && ! nm "$base.$profile.cpp.o" | grep -Eq "^[[:xdigit:] ]+ [UTtWw] $sym\$"; then
                bad "keyward/$h in C++: $sym is not extern \"C\" ($(nm "$base.$profile.cpp.o" | grep "$sym" | head -1))"
            fi
        else
            bad "keyward/$h alone as C++ ($profile profile)"; sed 's/^/#    /' "$base.$profile.cpp.log" | head -20
        fi
    done
done <"$LIST"
[ "$n" -gt 0 ] && ok "$n compilations of a header alone (C99 and C++, default and MCU profile)"

echo "# $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ] && [ "$PASS" -gt 0 ]
