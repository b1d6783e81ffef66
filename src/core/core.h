/* Internal helpers shared by the core's files. */
#ifndef KEYWARD_CORE_H
#define KEYWARD_CORE_H

#include "keyward/backend.h"
#include "keyward/keyward.h"

#if defined(KEYWARD_NO_THREADS)
#define KEYWARD_THREAD_LOCAL
#else
#define KEYWARD_THREAD_LOCAL _Thread_local
#endif

#ifndef KEYWARD_BUILTIN_MAX
#define KEYWARD_BUILTIN_MAX 8
#endif
#ifndef KEYWARD_KEYREF_MAX
#define KEYWARD_KEYREF_MAX 512
#endif

/* Builtin key table entry (builtin.c). */
typedef struct {
    psa_key_id_t id;
#if defined(KEYWARD_BUILTIN_KEYREF_BY_REFERENCE)
    const char *keyref;
#else
    char keyref[KEYWARD_KEYREF_MAX];
#endif
    psa_key_type_t type;
    uint16_t bits;
    psa_key_usage_t usage;
    psa_algorithm_t alg, alg2;
} keyward_builtin_t; /* its backend: keyward_backend_by_keyref(keyref) */

const keyward_builtin_t *keyward_builtin_get(size_t index);

/* Generation target of this thread (api.c), or NULL. */
const char *keyward_generate_target(void);

/* The KEYREF turned into a backend ref (ref_from_keyref or a copy). */
psa_status_t keyward_ref_from_keyref(const keyward_backend_t *be, const char *keyref,
                                     uint8_t *ref, size_t ref_size, size_t *ref_len);

#endif
