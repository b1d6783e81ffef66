/* The backends compiled into this build.  One line per SE. */
#include <string.h>

#include "keyward/backend.h"

#if defined(KEYWARD_WITH_PKCS11)
extern const keyward_backend_t keyward_pkcs11_backend;
#endif
#if defined(KEYWARD_WITH_ATECC608)
extern const keyward_backend_t keyward_atecc608_backend;
#endif
#if defined(KEYWARD_WITH_TPM2)
extern const keyward_backend_t keyward_tpm2_backend;
#endif

const keyward_backend_t *const keyward_backends[] = {
#if defined(KEYWARD_WITH_PKCS11)
    &keyward_pkcs11_backend,
#endif
#if defined(KEYWARD_WITH_ATECC608)
    &keyward_atecc608_backend,
#endif
#if defined(KEYWARD_WITH_TPM2)
    &keyward_tpm2_backend,
#endif
    NULL,
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
