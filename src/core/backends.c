/* The backends compiled into this build.  keyward's CMake generates the
 * table from the backends that src/se/<name>/CMakeLists.txt registered
 * (cmake/keyward-backends.cmake); a build without it (the MCU firmware,
 * bench/footprint.sh) has the ATECC608 backend alone. */
#include <string.h>

#include "keyward/port/backend.h"

#if defined(KEYWARD_BACKENDS_GENERATED)
#include "keyward_backends_table.h"
#elif defined(KEYWARD_WITH_ATECC608)
extern const keyward_backend_t keyward_atecc608_backend;
#define KEYWARD_BACKEND_ENTRIES &keyward_atecc608_backend,
#else
#define KEYWARD_BACKEND_ENTRIES
#endif

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
