/* The backends compiled into this build.  The table is generated from the
 * keyward_backend() declarations of src/se/<name>/CMakeLists.txt
 * (cmake/keyward-backends.cmake): by keyward's CMake, and for builds without
 * it (the MCU firmware, bench/footprint.sh) by the same file run as a script
 * for the backends they compile. */
#include <string.h>

#include "keyward/port/backend.h"
#include "keyward_backends_table.h"

const keyward_backend_t *const keyward_backends[] = {
    KEYWARD_BACKEND_ENTRIES NULL,
};

const keyward_backend_t *keyward_backend_by_location(uint32_t location)
{
    for (size_t i = 0; keyward_backends[i] != NULL; i++) {
        if (keyward_backends[i]->location == location) {
            return keyward_backends[i];
        }
    }
    return NULL;
}

const keyward_backend_t *keyward_backend_by_id(uint8_t id)
{
    for (size_t i = 0; keyward_backends[i] != NULL; i++) {
        if (keyward_backends[i]->id == id) {
            return keyward_backends[i];
        }
    }
    return NULL;
}

const keyward_backend_t *keyward_backend_by_keyref(const char *keyref)
{
    if (keyref == NULL) {
        return NULL;
    }
    for (size_t i = 0; keyward_backends[i] != NULL; i++) {
        size_t n = strlen(keyward_backends[i]->scheme);
        if (strncmp(keyref, keyward_backends[i]->scheme, n) == 0 && keyref[n] == ':') {
            return keyward_backends[i];
        }
    }
    return NULL;
}
