/* keyward_version(): the release this library is (include/keyward/version.h,
 * also CMake's project version, keyward.pc and keywardConfigVersion.cmake). */
#include "keyward/version.h"

const char *keyward_version(void)
{
    return KEYWARD_VERSION_STRING;
}
