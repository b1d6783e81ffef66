/* keyward_version(): the release this library is (CMake's project version,
 * also in keyward.pc and keywardConfigVersion.cmake). */
#include "keyward/keyward.h"

#ifndef KEYWARD_VERSION_STRING
#error "KEYWARD_VERSION_STRING comes from the build (CMakeLists.txt)"
#endif

const char *keyward_version(void)
{
    return KEYWARD_VERSION_STRING;
}
