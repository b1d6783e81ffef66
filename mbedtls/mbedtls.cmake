# Mbed TLS for keyward: pristine source -> private copy -> hooked -> built here.
#
# Two lines are accepted, from one source tree of keyward:
#   - Mbed TLS 3.6.x, x >= 6 (the 3.6 LTS; the default, fetched from Debian), and
#   - Mbed TLS 4.0.x / 4.1.x with TF-PSA-Crypto 1.x in tf-psa-crypto/ (a user's
#     tree, or a release archive such as ../shared/mbedtls-4.0.0.tar.xz).
# Anything else stops the configure step with one line naming what was found.
#
# Sets for the rest of the build:
#   KW_MBEDTLS_PRISTINE      the untouched source tree
#   KW_MBEDTLS_VERSION       "3.6.6", "4.0.0", ...
#   KW_MBEDTLS_LINE          3 or 4
#   KW_MBEDTLS_TREE          the private, hooked copy that is built
#   KW_CRYPTO_TARGET         mbedcrypto (3.6) or tfpsacrypto (4.x): keyward's objects go in there
#   KW_MBEDTLS_INCLUDE_DIRS  public include folders of the crypto and TLS libraries
#   KW_MBEDTLS_CONFIG_DEFS   the user-config definitions every keyward file is compiled with

set(MBEDTLS_SOURCE_DIR "" CACHE PATH
    "Mbed TLS source tree or release archive (.tar.xz/.tar.gz/.tar.bz2): 3.6.x (x >= 6), 4.0.x or 4.1.x; empty: fetch Debian's 3.6")
set(KW_MBEDTLS_ACCEPTED "accepted: Mbed TLS 3.6.x with x >= 6, 4.0.x or 4.1.x (with TF-PSA-Crypto 1.x)")

# ---- where the source comes from ----
if(MBEDTLS_SOURCE_DIR)
  get_filename_component(kw_src "${MBEDTLS_SOURCE_DIR}" ABSOLUTE)
  if(NOT EXISTS "${kw_src}")
    message(FATAL_ERROR " keyward: MBEDTLS_SOURCE_DIR ${kw_src} does not exist; ${KW_MBEDTLS_ACCEPTED}")
  endif()
  if(NOT IS_DIRECTORY "${kw_src}")
    # A release archive: unpacked once into the build tree, never modified.
    if(NOT kw_src MATCHES "\\.(tar\\.xz|tar\\.gz|tgz|tar\\.bz2)$")
      message(FATAL_ERROR " keyward: MBEDTLS_SOURCE_DIR ${kw_src} is neither a folder nor a .tar.xz/.tar.gz/.tar.bz2 archive")
    endif()
    set(kw_unpack ${CMAKE_BINARY_DIR}/_deps/mbedtls-archive)
    set(kw_stamp_text "${kw_src}")
    if(EXISTS ${kw_unpack}/.keyward-unpacked)
      file(READ ${kw_unpack}/.keyward-unpacked kw_stamp)
    else()
      set(kw_stamp "")
    endif()
    if(NOT kw_stamp STREQUAL kw_stamp_text)
      file(REMOVE_RECURSE ${kw_unpack})
      file(MAKE_DIRECTORY ${kw_unpack})
      file(ARCHIVE_EXTRACT INPUT "${kw_src}" DESTINATION ${kw_unpack})
      file(WRITE ${kw_unpack}/.keyward-unpacked "${kw_stamp_text}")
    endif()
    file(GLOB kw_tops LIST_DIRECTORIES true ${kw_unpack}/*)
    list(FILTER kw_tops EXCLUDE REGEX "/\\.keyward-unpacked$")
    list(LENGTH kw_tops kw_n)
    if(NOT kw_n EQUAL 1)
      message(FATAL_ERROR " keyward: archive ${kw_src} does not hold exactly one top folder")
    endif()
    set(kw_src ${kw_tops})
  endif()
  set(KW_MBEDTLS_PRISTINE "${kw_src}")
else()
  execute_process(
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/scripts/fetch-mbedtls.sh ${CMAKE_BINARY_DIR}/_deps/mbedtls
    OUTPUT_VARIABLE KW_MBEDTLS_PRISTINE OUTPUT_STRIP_TRAILING_WHITESPACE
    RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "Fetching the Mbed TLS 3.6 source failed (scripts/fetch-mbedtls.sh); "
                        "or set MBEDTLS_SOURCE_DIR to an Mbed TLS 3.6.x or 4.x tree")
  endif()
endif()
set(KW_MBEDTLS_PRISTINE "${KW_MBEDTLS_PRISTINE}" CACHE INTERNAL "")

# ---- which version it is ----
# Reads "#define <PREFIX>_VERSION_STRING "a.b.c"" from a build_info.h.
function(kw_read_version header prefix out)
  set(${out} "" PARENT_SCOPE)
  if(EXISTS "${header}")
    file(STRINGS "${header}" vline REGEX "#define ${prefix}_VERSION_STRING +\"")
    if(vline MATCHES "\"([0-9]+\\.[0-9]+\\.[0-9]+)\"")
      set(${out} "${CMAKE_MATCH_1}" PARENT_SCOPE)
    endif()
  endif()
endfunction()

kw_read_version("${KW_MBEDTLS_PRISTINE}/include/mbedtls/build_info.h" MBEDTLS KW_MBEDTLS_VERSION)
if(KW_MBEDTLS_VERSION STREQUAL "")
  message(FATAL_ERROR " keyward: no Mbed TLS version found at ${KW_MBEDTLS_PRISTINE} "
                      "(include/mbedtls/build_info.h); ${KW_MBEDTLS_ACCEPTED}")
endif()
string(REPLACE "." ";" kw_v "${KW_MBEDTLS_VERSION}")
list(GET kw_v 0 kw_major)
list(GET kw_v 1 kw_minor)
list(GET kw_v 2 kw_patch)
if(kw_major EQUAL 3 AND kw_minor EQUAL 6 AND kw_patch GREATER_EQUAL 6)
  set(KW_MBEDTLS_LINE 3)
elseif(kw_major EQUAL 4 AND (kw_minor EQUAL 0 OR kw_minor EQUAL 1))
  set(KW_MBEDTLS_LINE 4)
else()
  message(FATAL_ERROR " keyward: Mbed TLS at ${KW_MBEDTLS_PRISTINE} is ${KW_MBEDTLS_VERSION}; "
                      "${KW_MBEDTLS_ACCEPTED}")
endif()
# make test-mbedtls4 sets this, so a 3.6 tree given there cannot pass as 4.x.
set(KEYWARD_REQUIRE_MBEDTLS_LINE "" CACHE STRING "If set (3 or 4): refuse any other Mbed TLS line")
if(KEYWARD_REQUIRE_MBEDTLS_LINE AND NOT KEYWARD_REQUIRE_MBEDTLS_LINE EQUAL KW_MBEDTLS_LINE)
  message(FATAL_ERROR " keyward: Mbed TLS at ${KW_MBEDTLS_PRISTINE} is ${KW_MBEDTLS_VERSION}, "
                      "but this build wants Mbed TLS ${KEYWARD_REQUIRE_MBEDTLS_LINE}.x")
endif()
if(KW_MBEDTLS_LINE EQUAL 4)
  # 4.x keeps its crypto in the tf-psa-crypto submodule and its build helpers
  # in the framework submodules: a plain `git clone` without --recursive lacks them.
  foreach(sub tf-psa-crypto/include/tf-psa-crypto/build_info.h
              tf-psa-crypto/core/psa_crypto.c
              framework/CMakeLists.txt tf-psa-crypto/framework/CMakeLists.txt)
    if(NOT EXISTS "${KW_MBEDTLS_PRISTINE}/${sub}")
      string(REGEX MATCH "^[^/]+(/framework)?" kw_mod "${sub}")
      message(FATAL_ERROR " keyward: Mbed TLS ${KW_MBEDTLS_VERSION} at ${KW_MBEDTLS_PRISTINE} lacks its "
                          "${kw_mod} submodule (${sub} not found; run `git submodule update --init "
                          "--recursive` or use a release archive); ${KW_MBEDTLS_ACCEPTED}")
    endif()
  endforeach()
  kw_read_version("${KW_MBEDTLS_PRISTINE}/tf-psa-crypto/include/tf-psa-crypto/build_info.h"
                  TF_PSA_CRYPTO KW_TF_PSA_CRYPTO_VERSION)
  if(NOT KW_TF_PSA_CRYPTO_VERSION MATCHES "^1\\.(0|1)\\.")
    message(FATAL_ERROR " keyward: Mbed TLS ${KW_MBEDTLS_VERSION} at ${KW_MBEDTLS_PRISTINE} carries "
                        "TF-PSA-Crypto '${KW_TF_PSA_CRYPTO_VERSION}'; ${KW_MBEDTLS_ACCEPTED}")
  endif()
  message(STATUS "keyward: Mbed TLS ${KW_MBEDTLS_VERSION} (TF-PSA-Crypto ${KW_TF_PSA_CRYPTO_VERSION}) from ${KW_MBEDTLS_PRISTINE}")
else()
  message(STATUS "keyward: Mbed TLS ${KW_MBEDTLS_VERSION} from ${KW_MBEDTLS_PRISTINE}")
endif()

# ---- the private copy, hooked ----
# The copy is remade whenever it came from another tree (the stamp holds the
# pristine path and version), so switching MBEDTLS_SOURCE_DIR in one build dir
# never builds a stale copy.
set(KW_MBEDTLS_TREE ${CMAKE_BINARY_DIR}/mbedtls-src)
set(kw_copy_stamp "${KW_MBEDTLS_PRISTINE} ${KW_MBEDTLS_VERSION}")
set(kw_old_stamp "")
if(EXISTS ${KW_MBEDTLS_TREE}/.keyward-copied)
  file(READ ${KW_MBEDTLS_TREE}/.keyward-copied kw_old_stamp)
endif()
if(NOT kw_old_stamp STREQUAL kw_copy_stamp)
  file(REMOVE_RECURSE ${KW_MBEDTLS_TREE})
  execute_process(COMMAND cp -a ${KW_MBEDTLS_PRISTINE} ${KW_MBEDTLS_TREE} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR " keyward: cannot copy ${KW_MBEDTLS_PRISTINE}")
  endif()
  file(REMOVE_RECURSE ${KW_MBEDTLS_TREE}/.git)
  file(WRITE ${KW_MBEDTLS_TREE}/.keyward-copied "${kw_copy_stamp}")
endif()
execute_process(
  COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/mbedtls/hook_driver_wrappers.py ${KW_MBEDTLS_TREE}
  RESULT_VARIABLE rc ERROR_VARIABLE kw_hook_err)
if(NOT rc EQUAL 0)
  string(STRIP "${kw_hook_err}" kw_hook_err)
  message(FATAL_ERROR " ${kw_hook_err}")
endif()

# ---- configuration, per line ----
set(ENABLE_TESTING OFF CACHE BOOL "" FORCE)
set(ENABLE_PROGRAMS ON CACHE BOOL "" FORCE)
set(MBEDTLS_FATAL_WARNINGS ON CACHE BOOL "" FORCE)
# The hook edits what the wrappers come from: 3.6 releases ship them
# generated (regenerating would drop keyward's cases), 4.x generates them from
# the hooked templates (not generating would leave them out).
if(KW_MBEDTLS_LINE EQUAL 3)
  set(GEN_FILES OFF CACHE BOOL "" FORCE)
else()
  set(GEN_FILES ON CACHE BOOL "" FORCE)
endif()
if(KW_MBEDTLS_LINE EQUAL 3)
  set(KW_MBEDTLS_CONFIG ${CMAKE_CURRENT_SOURCE_DIR}/mbedtls/keyward_mbedtls_config.h)
  set(MBEDTLS_USER_CONFIG_FILE ${KW_MBEDTLS_CONFIG} CACHE FILEPATH "" FORCE)
  set(KW_MBEDTLS_CONFIG_DEFS MBEDTLS_USER_CONFIG_FILE="${KW_MBEDTLS_CONFIG}")
  set(KW_CRYPTO_TARGET mbedcrypto)
  set(KW_MBEDTLS_INCLUDE_DIRS ${KW_MBEDTLS_TREE}/include)
else()
  # TF-PSA-Crypto reads its own user config (PSA, builtin keys, threading);
  # Mbed TLS reads the TLS one.  Both are appended to the defaults.
  set(KW_TF_PSA_CRYPTO_CONFIG ${CMAKE_CURRENT_SOURCE_DIR}/mbedtls/keyward_tf_psa_crypto_config.h)
  set(KW_MBEDTLS_CONFIG ${CMAKE_CURRENT_SOURCE_DIR}/mbedtls/keyward_mbedtls4_config.h)
  set(TF_PSA_CRYPTO_USER_CONFIG_FILE ${KW_TF_PSA_CRYPTO_CONFIG} CACHE FILEPATH "" FORCE)
  set(MBEDTLS_USER_CONFIG_FILE ${KW_MBEDTLS_CONFIG} CACHE FILEPATH "" FORCE)
  set(KW_MBEDTLS_CONFIG_DEFS MBEDTLS_USER_CONFIG_FILE="${KW_MBEDTLS_CONFIG}"
                             TF_PSA_CRYPTO_USER_CONFIG_FILE="${KW_TF_PSA_CRYPTO_CONFIG}")
  set(KW_CRYPTO_TARGET tfpsacrypto)
  set(KW_MBEDTLS_INCLUDE_DIRS
      ${KW_MBEDTLS_TREE}/include
      ${KW_MBEDTLS_TREE}/tf-psa-crypto/include
      ${KW_MBEDTLS_TREE}/tf-psa-crypto/drivers/builtin/include
      ${KW_MBEDTLS_TREE}/tf-psa-crypto/drivers/everest/include
      ${KW_MBEDTLS_TREE}/tf-psa-crypto/drivers/p256-m)
endif()
add_subdirectory(${KW_MBEDTLS_TREE} ${CMAKE_BINARY_DIR}/mbedtls EXCLUDE_FROM_ALL)

if(KW_MBEDTLS_LINE EQUAL 4)
  # On 4.x the wrappers are generated from the hooked templates at build
  # time.  Between that generation and the compilation of the crypto library,
  # check the generated output carries every keyward case: a template edit
  # that Jinja drops (e.g. a case landing inside a false {% if %}) then stops
  # the build instead of linking a half-hooked library.
  set(kw_gen_target libtfpsacrypto_generated_files_target)
  if(NOT TARGET ${kw_gen_target})
    message(FATAL_ERROR " keyward: TF-PSA-Crypto has no target ${kw_gen_target} (are its wrappers "
                        "still generated at build time?); keyward cannot check its hook")
  endif()
  get_target_property(kw_core_src ${KW_CRYPTO_TARGET} SOURCE_DIR)
  file(RELATIVE_PATH kw_core_rel ${KW_MBEDTLS_TREE} ${kw_core_src})
  add_custom_target(kw_verify_hook
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/mbedtls/hook_driver_wrappers.py
            --verify-generated ${CMAKE_BINARY_DIR}/mbedtls/${kw_core_rel}
    VERBATIM)
  add_dependencies(kw_verify_hook ${kw_gen_target})
  add_dependencies(${KW_CRYPTO_TARGET} kw_verify_hook)
endif()

# ---- a plain crypto library for the emulator ----
# keyward-atecc608-emu models a chip; it must not carry the driver.  It links
# a second crypto library built from the PRISTINE tree (never the hooked
# copy) with a configuration of its own (emulator/crypto_config_*.h: no
# drivers, no builtin keys, no threading, only P-256 ECDSA, SHA-256 and the
# DRBG).  An external project keeps Mbed TLS's own source lists and target
# names (mbedcrypto / tfpsacrypto) apart from the hooked ones; only the
# crypto library is built.  Sets KW_EMU_CRYPTO (an imported target).
include(ExternalProject)
set(kw_emu_bin ${CMAKE_BINARY_DIR}/emu-crypto)
set(kw_emu_args -DENABLE_TESTING=OFF -DENABLE_PROGRAMS=OFF
    -DCMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE} -DCMAKE_C_COMPILER=${CMAKE_C_COMPILER}
    -DCMAKE_C_COMPILER_LAUNCHER=${CMAKE_C_COMPILER_LAUNCHER} -DCMAKE_C_FLAGS=${CMAKE_C_FLAGS})
if(KW_MBEDTLS_LINE EQUAL 3)
  # A 3.6 release ships its generated files and configures without writing
  # into its source tree: the pristine tree is used as it is.
  set(kw_emu_src ${KW_MBEDTLS_PRISTINE})
  set(kw_emu_config ${PROJECT_SOURCE_DIR}/emulator/crypto_config_mbedtls3.h)
  list(APPEND kw_emu_args -DGEN_FILES=OFF -DMBEDTLS_FATAL_WARNINGS=ON
       -DMBEDTLS_CONFIG_FILE=${kw_emu_config})
  set(kw_emu_target mbedcrypto)
  set(kw_emu_lib ${kw_emu_bin}/build/library/libmbedcrypto.a)
  set(kw_emu_defs MBEDTLS_CONFIG_FILE="${kw_emu_config}")
  set(kw_emu_incs ${kw_emu_src}/include)
else()
  # TF-PSA-Crypto alone (its own project, its own framework submodule).  Its
  # configure writes the doxygen main page into the source tree, so it
  # builds from a copy of the pristine tf-psa-crypto/ (14 MB), remade when
  # the pristine tree changes, as the hooked copy is.
  set(kw_emu_src ${kw_emu_bin}/tf-psa-crypto)
  set(kw_emu_old "")
  if(EXISTS ${kw_emu_src}/.keyward-copied)
    file(READ ${kw_emu_src}/.keyward-copied kw_emu_old)
  endif()
  if(NOT kw_emu_old STREQUAL kw_copy_stamp)
    file(REMOVE_RECURSE ${kw_emu_src})
    file(MAKE_DIRECTORY ${kw_emu_bin})
    execute_process(COMMAND cp -a ${KW_MBEDTLS_PRISTINE}/tf-psa-crypto ${kw_emu_src} RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR " keyward: cannot copy ${KW_MBEDTLS_PRISTINE}/tf-psa-crypto")
    endif()
    file(WRITE ${kw_emu_src}/.keyward-copied "${kw_copy_stamp}")
  endif()
  set(kw_emu_config ${PROJECT_SOURCE_DIR}/emulator/crypto_config_tf_psa_crypto.h)
  list(APPEND kw_emu_args -DGEN_FILES=ON -DTF_PSA_CRYPTO_FATAL_WARNINGS=ON
       -DTF_PSA_CRYPTO_CONFIG_FILE=${kw_emu_config})
  set(kw_emu_target tfpsacrypto)
  set(kw_emu_lib ${kw_emu_bin}/build/core/libtfpsacrypto.a)
  set(kw_emu_defs TF_PSA_CRYPTO_CONFIG_FILE="${kw_emu_config}")
  set(kw_emu_incs ${kw_emu_src}/include ${kw_emu_src}/drivers/builtin/include)
endif()
ExternalProject_Add(kw_emu_crypto_build
  SOURCE_DIR ${kw_emu_src}
  BINARY_DIR ${kw_emu_bin}/build
  PREFIX ${kw_emu_bin}
  CMAKE_ARGS ${kw_emu_args}
  BUILD_COMMAND ${CMAKE_COMMAND} --build <BINARY_DIR> --target ${kw_emu_target}
  # The build step runs every time (make decides, quickly, that nothing
  # changed): the configuration header is a dependency only make can see.
  BUILD_ALWAYS ON
  INSTALL_COMMAND ""
  BUILD_BYPRODUCTS ${kw_emu_lib})
add_library(kw_emu_crypto STATIC IMPORTED GLOBAL)
set_target_properties(kw_emu_crypto PROPERTIES
  IMPORTED_LOCATION ${kw_emu_lib}
  INTERFACE_INCLUDE_DIRECTORIES "${kw_emu_incs}"
  INTERFACE_COMPILE_DEFINITIONS "${kw_emu_defs}")
add_dependencies(kw_emu_crypto kw_emu_crypto_build)
