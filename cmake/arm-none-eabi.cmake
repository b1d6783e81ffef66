# CMake toolchain file: bare-metal Cortex-M4F with Debian's gcc-arm-none-eabi
# and newlib (libnewlib-arm-none-eabi).  Used by firmware/ (configured as a
# separate project from the host build, see the top-level CMakeLists.txt).
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)

find_program(KW_ARM_GCC arm-none-eabi-gcc REQUIRED)
get_filename_component(_kw_arm_bin "${KW_ARM_GCC}" DIRECTORY)
set(CMAKE_C_COMPILER "${KW_ARM_GCC}")
set(CMAKE_ASM_COMPILER "${KW_ARM_GCC}")
set(CMAKE_AR "${_kw_arm_bin}/arm-none-eabi-ar" CACHE FILEPATH "")
set(CMAKE_RANLIB "${_kw_arm_bin}/arm-none-eabi-ranlib" CACHE FILEPATH "")
set(CMAKE_OBJCOPY "${_kw_arm_bin}/arm-none-eabi-objcopy" CACHE FILEPATH "")
set(CMAKE_SIZE "${_kw_arm_bin}/arm-none-eabi-size" CACHE FILEPATH "")

# try_compile cannot link a bare-metal executable without a linker script.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

set(KW_MCU_FLAGS "-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16")
set(CMAKE_C_FLAGS_INIT "${KW_MCU_FLAGS} -ffunction-sections -fdata-sections")
set(CMAKE_ASM_FLAGS_INIT "${KW_MCU_FLAGS}")
set(CMAKE_EXE_LINKER_FLAGS_INIT "${KW_MCU_FLAGS} -Wl,--gc-sections")

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
