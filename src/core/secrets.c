/*
 * Secrets kept in process memory only: PINs and auth values given in a
 * KEYREF.  Key buffers (which PSA may write to storage) never hold them;
 * a backend stores them here, keyed by the secret-free ref it puts in the
 * key buffer, and looks them up at use time.
 *
 * A fixed table (no allocation), one mutex.  An entry belongs to a thread
 * and a sequence number until the key it was made for exists; then it is
 * bound to that PSA key id and lives until keyward_key_close(key) or
 * keyward_deinit().  Every value is wiped with mbedtls_platform_zeroize.
 */
#include <string.h>

#include "core.h"
#include "mbedtls/build_info.h"
#include "mbedtls/platform_util.h"
#include "psa/crypto_extra.h"

#ifndef KEYWARD_SECRETS_MAX
#define KEYWARD_SECRETS_MAX 16
#endif
#define NAME_MAX_ 16

#if KEYWARD_SECRETS_MAX > 0

typedef struct {
    int used;
    unsigned long seq;
    const void *owner; /* the thread that stored it, while unbound */
    psa_key_id_t key;  /* 0: not yet bound to a key */
    char name[NAME_MAX_];
    size_t ref_len;
    uint8_t ref[KEYWARD_REF_MAX];
    size_t value_len;
    uint8_t value[KEYWARD_SECRET_MAX];
} secret_t;

static secret_t table[KEYWARD_SECRETS_MAX];
static unsigned long seq_counter;
static KEYWARD_THREAD_LOCAL char thread_tag; /* its address names the thread */

KW_MODULE_LOCK;

static void wipe(secret_t *s)
{
    mbedtls_platform_zeroize(s, sizeof(*s));
}

static int same_ref(const secret_t *s, const uint8_t *ref, size_t ref_len)
{
    return s->used && s->ref_len == ref_len && memcmp(s->ref, ref, ref_len) == 0;
}

psa_status_t keyward_secret_put(const uint8_t *ref, size_t ref_len, const char *name,
                                const uint8_t *value, size_t value_len)
{
    secret_t *s = NULL, *oldest = NULL;
    size_t name_len = name != NULL ? strlen(name) : 0;

    if (ref == NULL || ref_len == 0 || ref_len > KEYWARD_REF_MAX || name_len == 0 ||
        name_len >= NAME_MAX_ || value_len > KEYWARD_SECRET_MAX ||
        (value == NULL && value_len != 0)) {
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    KW_LOCK();
    for (size_t i = 0; i < KEYWARD_SECRETS_MAX && s == NULL; i++) {
        secret_t *e = &table[i];
        if (same_ref(e, ref, ref_len) && e->key == 0 && e->owner == &thread_tag &&
            strcmp(e->name, name) == 0) {
            s = e; /* this thread said it again before using it: replace */
        }
    }
    for (size_t i = 0; i < KEYWARD_SECRETS_MAX && s == NULL; i++) {
        if (!table[i].used) {
            s = &table[i];
        }
    }
    /* Full: give up the oldest value no key was made with yet. */
    for (size_t i = 0; i < KEYWARD_SECRETS_MAX && s == NULL; i++) {
        if (table[i].key == 0 && (oldest == NULL || table[i].seq < oldest->seq)) {
            oldest = &table[i];
        }
    }
    if (s == NULL) {
        s = oldest;
    }
    if (s == NULL) {
        KW_UNLOCK();
        keyward_set_error("more than %u keys with secrets in process memory: close some "
                          "(keyward_key_close)",
                          (unsigned)KEYWARD_SECRETS_MAX);
        return PSA_ERROR_INSUFFICIENT_MEMORY;
    }
    wipe(s);
    s->used = 1;
    s->seq = ++seq_counter;
    s->owner = &thread_tag;
    memcpy(s->name, name, name_len + 1);
    memcpy(s->ref, ref, ref_len);
    s->ref_len = ref_len;
    if (value_len > 0) {
        memcpy(s->value, value, value_len);
    }
    s->value_len = value_len;
    KW_UNLOCK();
    return PSA_SUCCESS;
}

psa_status_t keyward_secret_get(const uint8_t *ref, size_t ref_len, const char *name,
                                uint8_t *value, size_t value_size, size_t *value_len)
{
    psa_status_t status = PSA_ERROR_DOES_NOT_EXIST;
    const secret_t *best = NULL;

    if (ref == NULL || name == NULL) {
        return PSA_ERROR_DOES_NOT_EXIST;
    }
    KW_LOCK();
    for (size_t i = 0; i < KEYWARD_SECRETS_MAX; i++) {
        if (same_ref(&table[i], ref, ref_len) && strcmp(table[i].name, name) == 0 &&
            (best == NULL || table[i].seq > best->seq)) {
            best = &table[i];
        }
    }
    if (best != NULL) {
        if (best->value_len > value_size) {
            status = PSA_ERROR_BUFFER_TOO_SMALL;
        } else {
            if (best->value_len > 0) {
                memcpy(value, best->value, best->value_len);
            }
            *value_len = best->value_len;
            status = PSA_SUCCESS;
        }
    }
    KW_UNLOCK();
    return status;
}

void keyward_secret_drop(const uint8_t *ref, size_t ref_len)
{
    KW_LOCK();
    for (size_t i = 0; i < KEYWARD_SECRETS_MAX; i++) {
        if (same_ref(&table[i], ref, ref_len) && table[i].key == 0) {
            wipe(&table[i]);
        }
    }
    KW_UNLOCK();
}

unsigned long keyward_secrets_mark(void)
{
    unsigned long m;
    KW_LOCK();
    m = seq_counter;
    KW_UNLOCK();
    return m;
}

void keyward_secrets_bind_since(unsigned long mark, psa_key_id_t key)
{
    KW_LOCK();
    for (size_t i = 0; i < KEYWARD_SECRETS_MAX; i++) {
        secret_t *s = &table[i];
        if (s->used && s->key == key && s->seq <= mark &&
            !(MBEDTLS_PSA_KEY_ID_BUILTIN_MIN <= key && key <= MBEDTLS_PSA_KEY_ID_BUILTIN_MAX)) {
            /* A new volatile key got the id of one destroyed with
             * psa_destroy_key(): what that one left belongs to nobody. */
            wipe(s);
        }
    }
    for (size_t i = 0; i < KEYWARD_SECRETS_MAX; i++) {
        secret_t *s = &table[i];
        if (s->used && s->key == 0 && s->owner == &thread_tag && s->seq > mark) {
            /* A builtin id opened again: the new value replaces the old. */
            for (size_t j = 0; j < KEYWARD_SECRETS_MAX; j++) {
                if (table[j].used && table[j].key == key && table[j].seq <= mark &&
                    strcmp(table[j].name, s->name) == 0) {
                    wipe(&table[j]);
                }
            }
            s->key = key;
            s->owner = NULL;
        }
    }
    KW_UNLOCK();
}

void keyward_secrets_collect(void)
{
    psa_key_id_t ids[KEYWARD_SECRETS_MAX];
    size_t n = 0;

    /* Keys destroyed with psa_destroy_key() instead of keyward_key_close():
     * PSA does not tell the driver, so look.  Builtin ids are left alone
     * (asking PSA about one would load it, and they live for ever).  PSA is
     * asked without the lock held: loading a key may store secrets. */
    KW_LOCK();
    for (size_t i = 0; i < KEYWARD_SECRETS_MAX; i++) {
        psa_key_id_t k = table[i].key;
        if (table[i].used && k != 0 &&
            !(MBEDTLS_PSA_KEY_ID_BUILTIN_MIN <= k && k <= MBEDTLS_PSA_KEY_ID_BUILTIN_MAX)) {
            ids[n++] = k;
        }
    }
    KW_UNLOCK();
    for (size_t i = 0; i < n; i++) {
        psa_key_attributes_t attr = PSA_KEY_ATTRIBUTES_INIT;
        psa_status_t status = psa_get_key_attributes(ids[i], &attr);
        psa_reset_key_attributes(&attr);
        if (status == PSA_ERROR_INVALID_HANDLE || status == PSA_ERROR_DOES_NOT_EXIST) {
            keyward_secrets_forget_key(ids[i]);
        }
    }
}

void keyward_secrets_drop_since(unsigned long mark)
{
    KW_LOCK();
    for (size_t i = 0; i < KEYWARD_SECRETS_MAX; i++) {
        secret_t *s = &table[i];
        if (s->used && s->key == 0 && s->owner == &thread_tag && s->seq > mark) {
            wipe(s);
        }
    }
    KW_UNLOCK();
}

void keyward_secrets_forget_key(psa_key_id_t key)
{
    KW_LOCK();
    for (size_t i = 0; i < KEYWARD_SECRETS_MAX; i++) {
        if (table[i].used && table[i].key == key) {
            wipe(&table[i]);
        }
    }
    KW_UNLOCK();
}

void keyward_secrets_wipe_all(void)
{
    KW_LOCK();
    mbedtls_platform_zeroize(table, sizeof(table));
    KW_UNLOCK();
}

size_t keyward_secrets_count(psa_key_id_t key)
{
    size_t n = 0;
    KW_LOCK();
    for (size_t i = 0; i < KEYWARD_SECRETS_MAX; i++) {
        if (table[i].used && (key == 0 || table[i].key == key)) {
            n++;
        }
    }
    KW_UNLOCK();
    return n;
}

#else /* KEYWARD_SECRETS_MAX == 0: an MCU profile whose SEs take no secrets */

psa_status_t keyward_secret_put(const uint8_t *ref, size_t ref_len, const char *name,
                                const uint8_t *value, size_t value_len)
{
    (void)ref;
    (void)ref_len;
    (void)name;
    (void)value;
    (void)value_len;
    return PSA_ERROR_NOT_SUPPORTED;
}

psa_status_t keyward_secret_get(const uint8_t *ref, size_t ref_len, const char *name,
                                uint8_t *value, size_t value_size, size_t *value_len)
{
    (void)ref;
    (void)ref_len;
    (void)name;
    (void)value;
    (void)value_size;
    (void)value_len;
    return PSA_ERROR_DOES_NOT_EXIST;
}

void keyward_secret_drop(const uint8_t *ref, size_t ref_len)
{
    (void)ref;
    (void)ref_len;
}

unsigned long keyward_secrets_mark(void)
{
    return 0;
}

void keyward_secrets_bind_since(unsigned long mark, psa_key_id_t key)
{
    (void)mark;
    (void)key;
}

void keyward_secrets_drop_since(unsigned long mark)
{
    (void)mark;
}

void keyward_secrets_forget_key(psa_key_id_t key)
{
    (void)key;
}

void keyward_secrets_collect(void)
{
}

void keyward_secrets_wipe_all(void)
{
}

size_t keyward_secrets_count(psa_key_id_t key)
{
    (void)key;
    return 0;
}
#endif
