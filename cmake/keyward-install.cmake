# keyward's install rules: `cmake --install BUILD --prefix P` (`make install PREFIX=P`).
#
#   P/include/keyward/*.h             keyward's application API
#   P/include/keyward/port/*.h        the port API (drivers, backends, HAL, Mbed TLS compatibility)
#   P/include/keyward-mbedtls/        the hooked Mbed TLS's headers (mbedtls/, psa/, and on 4.x
#                                     tf-psa-crypto/), with keyward's configuration built in
#   P/lib/keyward/*.a                 libkeyward_tls, libkeyward_cert, libmbedtls, libmbedx509,
#                                     libmbedcrypto (3.6) or libtfpsacrypto (4.x), keyward inside
#   P/bin/                            keyward-client, keyward-tool (+ the ATECC608 emulator)
#   P/lib/pkgconfig/keyward.pc        pkg-config --cflags --libs [--static] keyward
#   P/lib/cmake/keyward/              find_package(keyward) -> keyward::keyward
#
# Why the namespaced folders: Debian's libmbedtls-dev (2.28) owns /usr/include/mbedtls and
# /usr/lib/<arch>/libmbed*.  keyward's Mbed TLS is another version with a driver inside; under
# /usr/local the two must not shadow each other, so its headers and libraries live in folders
# only keyward's package files point at.
#
# Why the configuration is in the installed config headers, not in -D flags: keyward's build
# passes MBEDTLS_USER_CONFIG_FILE="..." (and TF_PSA_CRYPTO_USER_CONFIG_FILE on 4.x), a quoted
# string that pkg-config output and Makefiles do not carry reliably.  The installed
# mbedtls/mbedtls_config.h (4.x: and psa/crypto_config.h) is Mbed TLS's own, followed by an
# #include of keyward's fragment, which is what build_info.h does with the user config file;
# an application therefore sees the same configuration as keyward's build with no flag at all.
#
# Mbed TLS's own install rules are off (it is a subproject, EXCLUDE_FROM_ALL), hence these.

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(KW_INSTALL_INC_MBEDTLS ${CMAKE_INSTALL_INCLUDEDIR}/keyward-mbedtls)
set(KW_INSTALL_LIBDIR ${CMAKE_INSTALL_LIBDIR}/keyward)
set(kw_gen ${CMAKE_BINARY_DIR}/install-gen)

# -- headers --
# The installed keyward headers: one list, which the install rules and the
# install test (tests/install/headers.sh) both read.  Each entry is
# "PATH=SYMBOL": PATH under include/keyward/, SYMBOL one function it declares
# (the test takes its address in C99 and in C++, where it must come out
# unmangled), or "-" for a header of types and macros only.
#   keyward/*.h        the application API: what an application includes
#   keyward/port/*.h   the port API: PSA driver entry points, the backend
#                      ops table, locations, the I2C HAL class, the ATECC608
#                      chip and its administration, the Mbed TLS 3.6/4.x
#                      compatibility layer (header-only, static inline)
set(KW_INSTALL_HEADERS
  keyward.h=keyward_init
  errors.h=keyward_last_error
  version.h=keyward_version
  cert.h=keyward_cert_load
  tls.h=keyward_tls_identity_open
  port/backend.h=keyward_backend_by_keyref
  port/psa_driver.h=keyward_psa_sign_hash
  port/locations.h=-
  port/i2c.h=-
  port/mbedtls_compat.h=keyward_compat_pk_wrap_psa)
# A header kept outside include/keyward/ (e.g. in its backend's folder) is
# added, before this file is read, as
#   set_property(GLOBAL APPEND PROPERTY KEYWARD_INSTALL_HEADERS_EXTRA "SOURCE|PATH=SYMBOL")
get_property(kw_extra_headers GLOBAL PROPERTY KEYWARD_INSTALL_HEADERS_EXTRA)
set(KW_INSTALL_HEADER_LIST "")
foreach(entry ${KW_INSTALL_HEADERS} ${kw_extra_headers})
  if(entry MATCHES "^([^|]+)\\|(.+)$")
    set(kw_src "${CMAKE_MATCH_1}")
    set(entry "${CMAKE_MATCH_2}")
  else()
    string(REGEX REPLACE "=.*" "" kw_rel "${entry}")
    set(kw_src "${PROJECT_SOURCE_DIR}/include/keyward/${kw_rel}")
  endif()
  string(REGEX REPLACE "=.*" "" kw_rel "${entry}")
  if(NOT EXISTS "${kw_src}" OR NOT entry MATCHES "=")
    message(FATAL_ERROR "keyward-install.cmake: installed header '${entry}': no ${kw_src}, or no =SYMBOL")
  endif()
  get_filename_component(kw_dir "${kw_rel}" DIRECTORY)
  install(FILES "${kw_src}" DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/keyward/${kw_dir})
  list(APPEND KW_INSTALL_HEADER_LIST "${entry}")
endforeach()
# Every header under include/keyward/ is listed: a new one is installed and tested, never
# forgotten (or left behind in the tree, unused).
file(GLOB_RECURSE kw_tree_headers RELATIVE ${PROJECT_SOURCE_DIR}/include/keyward
     ${PROJECT_SOURCE_DIR}/include/keyward/*.h)
foreach(h ${kw_tree_headers})
  if(NOT "${KW_INSTALL_HEADER_LIST}" MATCHES "(^|;)${h}=")
    message(FATAL_ERROR "include/keyward/${h} is not in KW_INSTALL_HEADERS (cmake/keyward-install.cmake)")
  endif()
endforeach()
string(REPLACE ";" "\n" kw_header_lines "${KW_INSTALL_HEADER_LIST}")
file(WRITE ${kw_gen}/installed-headers.txt "${kw_header_lines}\n")

# kw_config_with_fragment(ORIGINAL FRAGMENT OUT): Mbed TLS's config header + keyward's fragment.
function(kw_config_with_fragment original fragment out)
  file(READ "${original}" body)
  get_filename_component(frag_name "${fragment}" NAME)
  file(WRITE "${out}" "${body}
/* keyward (cmake/keyward-install.cmake): the configuration keyward's library was built with.
 * In keyward's own build this fragment is the user config file; here it follows the
 * defaults exactly where build_info.h would have included it. */
#include \"${frag_name}\"
")
endfunction()

if(KW_MBEDTLS_LINE EQUAL 3)
  set(kw_mbedtls_inc_dirs ${KW_MBEDTLS_TREE}/include)
  kw_config_with_fragment(${KW_MBEDTLS_TREE}/include/mbedtls/mbedtls_config.h ${KW_MBEDTLS_CONFIG}
                          ${kw_gen}/mbedtls/mbedtls_config.h)
  set(kw_config_fragments ${KW_MBEDTLS_CONFIG})
  set(kw_crypto_lib mbedcrypto)
else()
  set(kw_mbedtls_inc_dirs ${KW_MBEDTLS_TREE}/include ${KW_MBEDTLS_TREE}/tf-psa-crypto/include
                          ${KW_MBEDTLS_TREE}/tf-psa-crypto/drivers/builtin/include
                          ${KW_MBEDTLS_TREE}/tf-psa-crypto/drivers/everest/include)
  kw_config_with_fragment(${KW_MBEDTLS_TREE}/include/mbedtls/mbedtls_config.h ${KW_MBEDTLS_CONFIG}
                          ${kw_gen}/mbedtls/mbedtls_config.h)
  kw_config_with_fragment(${KW_MBEDTLS_TREE}/tf-psa-crypto/include/psa/crypto_config.h
                          ${KW_TF_PSA_CRYPTO_CONFIG} ${kw_gen}/psa/crypto_config.h)
  set(kw_config_fragments ${KW_MBEDTLS_CONFIG} ${KW_TF_PSA_CRYPTO_CONFIG})
  set(kw_crypto_lib tfpsacrypto)
endif()
foreach(dir ${kw_mbedtls_inc_dirs})
  install(DIRECTORY ${dir}/ DESTINATION ${KW_INSTALL_INC_MBEDTLS}
          FILES_MATCHING PATTERN "*.h"
          PATTERN "mbedtls_config.h" EXCLUDE PATTERN "crypto_config.h" EXCLUDE)
endforeach()
install(DIRECTORY ${kw_gen}/mbedtls ${kw_gen}/psa DESTINATION ${KW_INSTALL_INC_MBEDTLS}
        OPTIONAL FILES_MATCHING PATTERN "*.h")
if(KW_MBEDTLS_LINE EQUAL 3)
  # 3.6 keeps psa/crypto_config.h as it is (PSA follows MBEDTLS_* there).
  install(FILES ${KW_MBEDTLS_TREE}/include/psa/crypto_config.h
          DESTINATION ${KW_INSTALL_INC_MBEDTLS}/psa)
endif()
install(FILES ${kw_config_fragments} DESTINATION ${KW_INSTALL_INC_MBEDTLS})

# -- libraries (static: the SE driver lives inside the crypto library) --
set(kw_install_libs keyward_tls keyward_cert mbedtls mbedx509 ${kw_crypto_lib})
foreach(lib ${kw_install_libs})
  install(FILES $<TARGET_FILE:${lib}> DESTINATION ${KW_INSTALL_LIBDIR})
endforeach()

# -- programs --
install(TARGETS keyward-client keyward-tool RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
if(TARGET keyward-atecc608-emu)
  install(TARGETS keyward-atecc608-emu RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

# -- what the libraries need: each backend registers its pkg-config modules (src/se/*/) --
get_property(KW_PKG_MODULES GLOBAL PROPERTY KEYWARD_PKG_MODULES)
if(KW_PKG_MODULES)
  list(REMOVE_DUPLICATES KW_PKG_MODULES)
endif()
string(REPLACE ";" " " KW_PC_REQUIRES "${KW_PKG_MODULES}")
set(KW_PC_LIBS "")
foreach(lib ${kw_install_libs})
  string(APPEND KW_PC_LIBS " \${libdir}/lib${lib}.a")
endforeach()
string(APPEND KW_PC_LIBS " -lpthread")
# A KEYWARD_SANITIZE build's archives call the ASan/UBSan runtimes: the application links them.
set(KW_SANITIZE_LINK "")
if(KEYWARD_SANITIZE)
  set(KW_SANITIZE_LINK "-fsanitize=address,undefined")
  string(APPEND KW_PC_LIBS " ${KW_SANITIZE_LINK}")
endif()
foreach(l ${CMAKE_DL_LIBS})
  string(APPEND KW_PC_LIBS " -l${l}")
endforeach()

# keyward.pc: relative to its own place (${pcfiledir}), so that the prefix given to
# `cmake --install --prefix` (not known when configuring) is the one it names.
file(RELATIVE_PATH kw_pc_up /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
string(REGEX REPLACE "/$" "" kw_pc_up_noslash "${kw_pc_up}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/keyward.pc.in ${kw_gen}/keyward.pc @ONLY)
install(FILES ${kw_gen}/keyward.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# find_package(keyward): keywardConfig.cmake + version file.
file(RELATIVE_PATH kw_cmake_up /${CMAKE_INSTALL_LIBDIR}/cmake/keyward /)
configure_file(${PROJECT_SOURCE_DIR}/cmake/keywardConfig.cmake.in ${kw_gen}/keywardConfig.cmake @ONLY)
write_basic_package_version_file(${kw_gen}/keywardConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${kw_gen}/keywardConfig.cmake ${kw_gen}/keywardConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/keyward)
