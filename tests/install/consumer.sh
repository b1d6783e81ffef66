#!/usr/bin/env bash
# An installed keyward, used as a product would use it (issue 9):
#  - `cmake --install` into a temp prefix: headers, libraries, programs, keyward.pc, the CMake
#    package, and nothing where a system Mbed TLS lives (P/include/mbedtls, P/lib/libmbed*);
#  - the README example (examples/tls-identity) and config_check.c are built out of the tree,
#    once with find_package(keyward) + keyward::keyward, once with
#    `pkg-config --cflags --libs [--static] keyward`; config_check fails to compile unless the
#    installed headers carry keyward's Mbed TLS configuration, and checks keyward_version()
#    against the package's version;
#  - both https_get builds do mutual TLS 1.2 and 1.3 with a SoftHSM2 key against nginx.
set -u
. "$KW_SOURCE_DIR/tests/tls/lib.sh"
. "$KW_SOURCE_DIR/tests/support/softhsm_env.sh"

kw_test_start install.consumer
kw_tmpdir T || exit 1
P=$T/prefix
if cmake --install "$KW_BUILD_DIR" --prefix "$P" >"$T/install.log" 2>&1; then
    ok "cmake --install --prefix $P"
else
    bad "cmake --install"; sed 's/^/#    /' "$T/install.log"; exit 1
fi
missing=""
for f in include/keyward/keyward.h include/keyward/tls.h include/keyward-mbedtls/mbedtls/ssl.h \
         include/keyward-mbedtls/psa/crypto.h lib/keyward/libmbedtls.a lib/keyward/libkeyward_tls.a \
         lib/pkgconfig/keyward.pc lib/cmake/keyward/keywardConfig.cmake \
         lib/cmake/keyward/keywardConfigVersion.cmake bin/keyward-client bin/keyward-tool; do
    [ -e "$P/$f" ] || missing+=" $f"
done
[ -z "$missing" ] && ok "installed tree complete" || bad "not installed:$missing"
clash=$(cd "$P" && ls -d include/mbedtls include/psa lib/libmbed* lib/*/libmbed* 2>/dev/null | grep -v '^lib/keyward/')
[ -z "$clash" ] && ok "nothing where a system Mbed TLS lives" || bad "clashes with a system Mbed TLS: $clash"

export PKG_CONFIG_PATH=$P/lib/pkgconfig
VERSION=$(pkg-config --modversion keyward) || { bad "pkg-config --modversion keyward"; exit 1; }
SRC=$T/app
mkdir -p "$SRC" && cp "$KW_SOURCE_DIR"/examples/tls-identity/* "$KW_SOURCE_DIR"/tests/install/config_check.c "$SRC"/
cat >>"$SRC/CMakeLists.txt" <<'CMK'
add_executable(config_check config_check.c)
target_link_libraries(config_check PRIVATE keyward::keyward)
CMK
# With CMake: only find_package(keyward) (CMAKE_PREFIX_PATH) and keyward::keyward.
if cmake -S "$SRC" -B "$T/b-cmake" -DCMAKE_PREFIX_PATH="$P" >"$T/cmake.log" 2>&1 &&
    cmake --build "$T/b-cmake" >>"$T/cmake.log" 2>&1; then
    ok "built with find_package(keyward)"
else
    bad "build with find_package(keyward)"; sed 's/^/#    /' "$T/cmake.log"
fi
# With pkg-config, shared-style and --static.
mkdir -p "$T/b-pc"
if cc -Wall -Wextra -Werror -o "$T/b-pc/https_get" "$SRC/https_get.c" $(pkg-config --cflags --libs keyward) 2>"$T/pc.log" &&
    cc -Wall -Wextra -Werror -o "$T/b-pc/config_check" "$SRC/config_check.c" $(pkg-config --cflags --libs --static keyward) 2>>"$T/pc.log"; then
    ok "built with pkg-config --cflags --libs [--static] keyward"
else
    bad "build with pkg-config"; sed 's/^/#    /' "$T/pc.log"
fi
for b in b-cmake b-pc; do
    if out=$("$T/$b/config_check" "$VERSION") ; then
        ok "$b/config_check: $out (package $VERSION)"
    else
        bad "$b/config_check: '$out', package version $VERSION"
    fi
done

kw_softhsm_setup "$T/hsm" p256:EC:prime256v1 || exit 1
kw_make_ca "$T" || exit 1
KEY=$(kw_p11_uri p256)
"$P/bin/keyward-tool" pubkey "$KEY" >"$T/p256.pub" || { bad "installed keyward-tool pubkey"; exit 1; }
kw_issue_cert "$T" "$T/p256.pub" "/CN=kw-installed-app/O=keyward tests" "$T/p256.pem" || exit 1
for b in b-cmake b-pc; do
    for ver in 1.2 1.3; do
        port=$(kw_free_port) || exit 1
        kw_start_server nginx "$T" "$port" "$ver" || { bad "nginx $ver"; continue; }
        if "$T/$b/https_get" "$T/ca.pem" "$T/p256.pem" "$KEY" 127.0.0.1 "$port" >"$T/body" 2>"$T/err" &&
            grep -q "protocol=TLSv$ver" "$T/body" && grep -q "verify=SUCCESS" "$T/body" &&
            grep -q "CN=kw-installed-app" "$T/body"; then
            ok "$b/https_get, SoftHSM2 key, nginx TLS $ver: $(head -1 "$T/err")"
        else
            bad "$b/https_get, nginx TLS $ver"; sed 's/^/#    /' "$T/err" "$T/body"
        fi
        kw_stop_server nginx "$T"
    done
done
kw_test_done install.consumer
