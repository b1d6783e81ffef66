/*
 * TPM 2.0 backend: key objects.  A ref's key as a usable ESYS_TR and public
 * area: a persistent handle opened through the cache, or a blob loaded
 * under its parent (the SRK or a persistent parent) into a cache slot,
 * with the parent's auth through the session when it has one.
 */
#include <string.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_rc.h>

#include "keyward/port/backend.h"
#include "mbedtls/platform_util.h"
#include "tpm2_key.h"

/* SHA-256 of (parent, public, private): the cache key of a loaded blob.
 * PSA hashing, the API Mbed TLS 3.6 and 4.x share (sha256.h is private in 4.x). */
static psa_status_t blob_id(const kw_tpm2_ref_t *r, uint8_t id[32])
{
    psa_hash_operation_t op = PSA_HASH_OPERATION_INIT;
    psa_status_t status = PSA_ERROR_CORRUPTION_DETECTED;
    size_t len = 0;
    uint8_t p[4] = {(uint8_t)(r->parent >> 24), (uint8_t)(r->parent >> 16),
                    (uint8_t)(r->parent >> 8), (uint8_t)r->parent};

    status = psa_hash_setup(&op, PSA_ALG_SHA_256);
    if (status == PSA_SUCCESS) {
        status = psa_hash_update(&op, p, sizeof(p));
    }
    if (status == PSA_SUCCESS) {
        status = psa_hash_update(&op, r->pub, r->pub_len);
    }
    if (status == PSA_SUCCESS) {
        status = psa_hash_update(&op, r->priv, r->priv_len);
    }
    if (status == PSA_SUCCESS) {
        status = psa_hash_finish(&op, id, 32, &len);
    }
    psa_hash_abort(&op);
    return status;
}

/* A loaded object for a blob key; *slot_out is its cache slot. */
static psa_status_t blob_load(kw_tpm2_conn_t *c, const kw_tpm2_ref_t *r, kw_tpm2_slot_t **slot_out,
                              int *hit, TSS2_RC *rc)
{
    uint8_t id[32];
    TPM2B_PUBLIC pub;
    TPM2B_PRIVATE priv;
    ESYS_TR parent = ESYS_TR_NONE, obj = ESYS_TR_NONE, session = ESYS_TR_NONE;
    kw_tpm2_slot_t *pin = NULL;
    psa_status_t status;

    status = blob_id(r, id);
    if (status != PSA_SUCCESS) {
        return status;
    }
    for (size_t i = 0; i < KW_TPM2_MAX_SLOTS; i++) {
        kw_tpm2_slot_t *s = &c->slots[i];
        if (s->kind == SLOT_KEY && memcmp(s->id, id, sizeof(id)) == 0) {
            status = kw_tpm2_slot_use(c, s, rc);
            if (status == PSA_SUCCESS) {
                *slot_out = s;
                *hit = 1;
                return PSA_SUCCESS;
            }
            if (status != PSA_ERROR_DOES_NOT_EXIST) {
                return status;
            }
            break; /* flushed by someone else: load it again */
        }
    }
    *hit = 0;
    status = kw_tpm2_blob_unmarshal(r, &pub, &priv);
    if (status != PSA_SUCCESS) {
        return status;
    }
    status = kw_tpm2_parent_get(c, r, r->parent, &parent, &pin, rc);
    if (status == PSA_SUCCESS) {
        status =
            kw_tpm2_session_get(c, r, kw_tpm2_parent_has_secret(r, r->parent), 0, &session, rc);
    }
    if (status != PSA_SUCCESS) {
        return status;
    }
    /* With a transient SRK as parent, the key may take the slot left free
     * for the lock holder while it loads; the SRK then gives it back below,
     * so that two keys fit where the SRK and one key did. */
    kw_tpm2_make_room(c, pin, pin != NULL ? 0 : 1);
    for (int attempt = 0; attempt < 2; attempt++) {
        *rc = Esys_Load(c->esys, parent, session, ESYS_TR_NONE, ESYS_TR_NONE, &priv, &pub, &obj);
        if (kw_tpm2_rc_base(*rc) != TPM2_RC_OBJECT_MEMORY) {
            break;
        }
        kw_tpm2_make_room(c, pin,
                          KW_TPM2_MAX_SLOTS); /* someone else holds slots: give back all of ours */
    }
    mbedtls_platform_zeroize(&priv, sizeof(priv));
    if (*rc != TSS2_RC_SUCCESS) {
        if (kw_tpm2_rc_base(*rc) == TPM2_RC_INTEGRITY || kw_tpm2_rc_base(*rc) == TPM2_RC_BINDING) {
            keyward_set_error("TPM2_Load: the key blob does not belong to parent 0x%08x of this "
                              "TPM, or is corrupted: %s (0x%x)",
                              (unsigned)r->parent, Tss2_RC_Decode(*rc), (unsigned)*rc);
            return PSA_ERROR_DATA_INVALID;
        }
        return kw_tpm2_fail_rc("TPM2_Load", *rc);
    }
    *slot_out = kw_tpm2_slot_new(c, SLOT_KEY, obj, id);
    if (*slot_out == NULL) {
        (void)Esys_FlushContext(c->esys, obj);
        return PSA_ERROR_INSUFFICIENT_MEMORY;
    }
    kw_tpm2_loads++;
    if (pin != NULL && kw_tpm2_slots_used(c) > kw_tpm2_budget(c)) {
        kw_tpm2_slot_flush(c, pin);
    }
    return PSA_SUCCESS;
}

psa_status_t kw_tpm2_key_get(kw_tpm2_conn_t *c, const kw_tpm2_ref_t *r, kw_tpm2_key_obj_t *k,
                             TSS2_RC *rc)
{
    psa_status_t status;

    memset(k, 0, sizeof(*k));
    if (r->handle != 0) {
        kw_tpm2_persist_t *p = NULL;
        size_t before = 0;
        for (size_t i = 0; i < KW_TPM2_MAX_PERSIST; i++) {
            before += c->persist[i].handle == r->handle;
        }
        status = kw_tpm2_persist_get(c, r->handle, &p, rc);
        if (status == PSA_SUCCESS) {
            k->tr = p->tr;
            k->pub = p->pub;
            k->was_cached = before > 0;
        }
        return status;
    }
    status = kw_tpm2_blob_unmarshal(r, &k->pub, NULL);
    if (status == PSA_SUCCESS) {
        status = blob_load(c, r, &k->slot, &k->was_cached, rc);
        if (status == PSA_SUCCESS) {
            k->tr = k->slot->tr;
        }
    }
    return status;
}

/* Drops a cached object the TPM no longer knows (flushed by someone else). */
void kw_tpm2_key_forget(kw_tpm2_conn_t *c, const kw_tpm2_ref_t *r, kw_tpm2_key_obj_t *k)
{
    if (k->slot != NULL) {
        kw_tpm2_slot_forget(c, k->slot, 0);
    } else {
        for (size_t i = 0; i < KW_TPM2_MAX_PERSIST; i++) {
            if (c->persist[i].handle == r->handle) {
                kw_tpm2_persist_forget(c, &c->persist[i]);
            }
        }
    }
}
