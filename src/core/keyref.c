/*
 * A KEYREF handed to its backend: the ref it becomes (the backend's own
 * conversion, or the KEYREF text without its secrets), and the generation
 * target of this thread (keyward_set_generate_target).  api.c, builtin.c and
 * driver.c all use it; it uses none of them.
 */
#include <string.h>

#include "core.h"
#include "keyward/port/psa_driver.h"

static KEYWARD_THREAD_LOCAL const char *gen_target;

const char *keyward_generate_target(void)
{
    return gen_target;
}

psa_status_t keyward_set_generate_target(const char *keyref)
{
    /* Kept by reference, not copied: no second copy of a KEYREF that may
     * hold a PIN, and no buffer on an MCU. */
    if (keyref != NULL && (keyref[0] == '\0' || strlen(keyref) >= KEYWARD_KEYREF_MAX)) {
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    gen_target = keyref;
    return PSA_SUCCESS;
}

psa_status_t keyward_ref_from_keyref(const keyward_backend_t *be, const char *keyref, uint8_t *ref,
                                     size_t ref_size, size_t *ref_len)
{
    size_t len;

    if (be->ref_from_keyref != NULL) {
        return be->ref_from_keyref(keyref, ref, ref_size, ref_len);
    }
    /* The ref is the KEYREF text; a backend without its own conversion has
     * no secrets to keep, so any secret attribute is simply left out. */
    len = strlen(keyref);
    if (len == 0 || len >= ref_size) {
        keyward_set_error("KEYREF longer than %u bytes", (unsigned)ref_size);
        return PSA_ERROR_INVALID_ARGUMENT;
    }
#if defined(KEYWARD_NO_SECRETS)
    memcpy(ref, keyref, len); /* MCU profile: no secret attributes (redact.c) */
    *ref_len = len;
    return PSA_SUCCESS;
#else
    return keyward_keyref_strip(keyref, (char *)ref, ref_size, ref_len);
#endif
}
