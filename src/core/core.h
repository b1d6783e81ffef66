/* Internal helpers shared by the core's files. */
#ifndef KEYWARD_CORE_H
#define KEYWARD_CORE_H

#include "keyward/port/backend.h"
#include "keyward/keyward.h"

#if defined(KEYWARD_NO_THREADS)
#define KEYWARD_THREAD_LOCAL
#else
#define KEYWARD_THREAD_LOCAL _Thread_local
#endif

/* A core file's own lock (the builtin table, the secret store): the file
 * says KW_MODULE_LOCK once, then KW_LOCK()/KW_UNLOCK().  Nothing in
 * KEYWARD_NO_THREADS builds. */
#if defined(KEYWARD_NO_THREADS)
#define KW_MODULE_LOCK typedef int kw_module_lock_unused
#define KW_LOCK() ((void)0)
#define KW_UNLOCK() ((void)0)
#else
#include <pthread.h>
#define KW_MODULE_LOCK static pthread_mutex_t kw_module_lock = PTHREAD_MUTEX_INITIALIZER
#define KW_LOCK() pthread_mutex_lock(&kw_module_lock)
#define KW_UNLOCK() pthread_mutex_unlock(&kw_module_lock)
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

/* Copies entry index of the table (under its lock); PSA_ERROR_DOES_NOT_EXIST
 * past the end. */
psa_status_t keyward_builtin_copy(size_t index, keyward_builtin_t *out);
/* The id bound to keyref (secret-free text), or a new one from the top of
 * the builtin range that nobody declared, atomically. */
psa_status_t keyward_builtin_open(const char *keyref, psa_key_type_t type, size_t bits,
                                  psa_key_usage_t usage, psa_algorithm_t alg, psa_algorithm_t alg2,
                                  psa_key_id_t *id);

/* Secrets (secrets.c).  The core marks the store before it makes a key,
 * then binds what the backend stored meanwhile (in this thread) to the new
 * key, or drops it when making the key failed. */
unsigned long keyward_secrets_mark(void);
void keyward_secrets_bind_since(unsigned long mark, psa_key_id_t key);
void keyward_secrets_drop_since(unsigned long mark);
void keyward_secrets_forget_key(psa_key_id_t key);
/* Wipes the values of keys that no longer exist in PSA (destroyed with
 * psa_destroy_key instead of keyward_key_close). */
void keyward_secrets_collect(void);
void keyward_secrets_wipe_all(void);
/* Test accessor: entries in use, bound to key (0: all). */
size_t keyward_secrets_count(psa_key_id_t key);

/* Clears this thread's keyward_last_error (redact.c). */
#if defined(KEYWARD_NO_ERROR_TEXT)
#define keyward_clear_error() ((void)0)
#else
void keyward_clear_error(void);
#endif

/* Generation target of this thread (keyref.c), or NULL. */
const char *keyward_generate_target(void);

/* The KEYREF turned into a backend ref (ref_from_keyref or a copy; keyref.c). */
psa_status_t keyward_ref_from_keyref(const keyward_backend_t *be, const char *keyref, uint8_t *ref,
                                     size_t ref_size, size_t *ref_len);

#endif
