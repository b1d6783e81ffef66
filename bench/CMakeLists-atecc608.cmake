# ATECC608 benchmarks (included from bench/CMakeLists.txt):
#   atecc608_handshake  per-handshake wakes/commands/bus bytes, from the emulator's counters
#   bench/footprint.sh  Cortex-M4 footprint (run by the target atecc608_footprint)
add_executable(atecc608_handshake ${CMAKE_CURRENT_LIST_DIR}/atecc608_handshake.c
               ${PROJECT_SOURCE_DIR}/tests/atecc608/emu_helper.c
               ${PROJECT_SOURCE_DIR}/src/se/atecc608/tool/atecc608_tool.c)
target_include_directories(atecc608_handshake PRIVATE ${PROJECT_SOURCE_DIR}/src
                           ${PROJECT_SOURCE_DIR}/src/se/atecc608/tool)
target_link_libraries(atecc608_handshake PRIVATE keyward)
target_compile_options(atecc608_handshake PRIVATE -Wall -Wextra -Werror)
add_custom_target(atecc608_bench
  COMMAND ${CMAKE_COMMAND} -E env KW_EMU=$<TARGET_FILE:keyward-atecc608-emu>
          $<TARGET_FILE:atecc608_handshake> 20
  DEPENDS atecc608_handshake keyward-atecc608-emu USES_TERMINAL)
add_custom_target(atecc608_footprint
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/footprint.sh ${KW_MBEDTLS_TREE}/include USES_TERMINAL)
