/*
 * TPM 2.0 backend: the standard SRK (parent 0x40000001) and the parents of
 * blob keys.
 */
#include <stdlib.h>
#include <string.h>

#include <tss2/tss2_esys.h>

#include "keyward/port/backend.h"
#include "mbedtls/platform_util.h"
#include "tpm2_cache.h"

/* The standard SRK: ECC P-256 storage key, AES-128-CFB, SHA-256 name,
 * noDA, empty unique: what tpm2-openssl creates for parent 0x40000001. */
static const TPM2B_PUBLIC srk_template = {
    .publicArea =
        {
            .type = TPM2_ALG_ECC,
            .nameAlg = TPM2_ALG_SHA256,
            .objectAttributes = TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_RESTRICTED |
                                TPMA_OBJECT_DECRYPT | TPMA_OBJECT_NODA | TPMA_OBJECT_FIXEDTPM |
                                TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN,
            .parameters.eccDetail =
                {
                    .symmetric = {.algorithm = TPM2_ALG_AES,
                                  .keyBits.aes = 128,
                                  .mode.aes = TPM2_ALG_CFB},
                    .scheme = {.scheme = TPM2_ALG_NULL},
                    .curveID = TPM2_ECC_NIST_P256,
                    .kdf = {.scheme = TPM2_ALG_NULL},
                },
        },
};

static uint32_t srk_handle_config(void)
{
    const char *v = getenv("KEYWARD_TPM2_SRK");
    if (v != NULL) {
        char *end = NULL;
        unsigned long h = strtoul(v, &end, 0);
        return (end != v && *end == '\0') ? (uint32_t)h : 0;
    }
    return KW_TPM2_SRK_HANDLE;
}

/* The standard SRK (parent 0x40000001): a persistent copy if one with the
 * same name exists, else a transient primary kept in the cache.  *pin is
 * the cache slot to keep while loading a child (NULL if persistent). */
psa_status_t kw_tpm2_srk_get(kw_tpm2_conn_t *c, const kw_tpm2_ref_t *r, ESYS_TR *tr,
                             kw_tpm2_slot_t **pin, TSS2_RC *rc)
{
    TPM2B_SENSITIVE_CREATE sens;
    TPM2B_DATA outside;
    TPML_PCR_SELECTION pcrs;
    TPM2B_AUTH owner;
    ESYS_TR prim = ESYS_TR_NONE;
    kw_tpm2_persist_t *p = NULL;
    psa_status_t status;
    uint32_t srk_handle;

    *pin = NULL;
    if (c->srk_checked && c->srk_persistent != 0) {
        status = kw_tpm2_persist_get(c, c->srk_persistent, &p, rc);
        if (status == PSA_SUCCESS) {
            *tr = p->tr;
        }
        return status;
    }
    for (size_t i = 0; i < KW_TPM2_MAX_SLOTS; i++) {
        if (c->slots[i].kind == SLOT_SRK) {
            status = kw_tpm2_slot_use(c, &c->slots[i], rc);
            if (status == PSA_SUCCESS) {
                *tr = c->slots[i].tr;
                *pin = &c->slots[i];
                return PSA_SUCCESS;
            }
            if (status != PSA_ERROR_DOES_NOT_EXIST) {
                return status;
            }
            break; /* flushed by someone else: make it again */
        }
    }
    memset(&sens, 0, sizeof(sens));
    memset(&outside, 0, sizeof(outside));
    memset(&pcrs, 0, sizeof(pcrs));
    kw_tpm2_parent_auth(r, &owner);
    *rc = Esys_TR_SetAuth(c->esys, ESYS_TR_RH_OWNER, &owner);
    mbedtls_platform_zeroize(&owner, sizeof(owner));
    if (*rc != TSS2_RC_SUCCESS) {
        return kw_tpm2_fail_rc("Esys_TR_SetAuth", *rc);
    }
    kw_tpm2_make_room(c, NULL, 1);
    for (int attempt = 0; attempt < 2; attempt++) {
        *rc = Esys_CreatePrimary(c->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                 ESYS_TR_NONE, &sens, &srk_template, &outside, &pcrs, &prim, NULL,
                                 NULL, NULL, NULL);
        if (kw_tpm2_rc_base(*rc) != TPM2_RC_OBJECT_MEMORY) {
            break;
        }
        kw_tpm2_make_room(c, NULL, KW_TPM2_MAX_SLOTS);
    }
    if (*rc != TSS2_RC_SUCCESS) {
        return kw_tpm2_fail_rc("Esys_CreatePrimary (standard SRK under the owner hierarchy)", *rc);
    }
    if (!c->srk_checked && (srk_handle = srk_handle_config()) != 0 &&
        (status = kw_tpm2_handle_exists(c, srk_handle, rc)) != PSA_ERROR_DOES_NOT_EXIST) {
        TSS2_RC prc = 0;
        if (status != PSA_SUCCESS) {
            (void)Esys_FlushContext(c->esys, prim);
            return status;
        }
        status = kw_tpm2_persist_get(c, srk_handle, &p, &prc);
        if (status == PSA_SUCCESS && kw_tpm2_names_equal(c, prim, p->tr)) {
            (void)Esys_FlushContext(c->esys, prim);
            c->srk_checked = 1;
            c->srk_persistent = srk_handle;
            *tr = p->tr;
            return PSA_SUCCESS;
        }
        if (kw_tpm2_rc_is_comm(prc)) {
            *rc = prc;
            return status;
        }
        if (p != NULL && status == PSA_SUCCESS) {
            kw_tpm2_persist_forget(c, p); /* some other object: not ours to keep open */
        }
    }
    c->srk_checked = 1;
    kw_tpm2_loads++;
    *pin = kw_tpm2_slot_new(c, SLOT_SRK, prim, NULL);
    if (*pin == NULL) {
        (void)Esys_FlushContext(c->esys, prim);
        return PSA_ERROR_INSUFFICIENT_MEMORY;
    }
    *tr = prim;
    return PSA_SUCCESS;
}

/* The parent of a blob key, ready to authorise a load or create. */
psa_status_t kw_tpm2_parent_get(kw_tpm2_conn_t *c, const kw_tpm2_ref_t *r, uint32_t parent,
                                ESYS_TR *tr, kw_tpm2_slot_t **pin, TSS2_RC *rc)
{
    kw_tpm2_persist_t *p = NULL;
    TPM2B_AUTH a;
    psa_status_t status;

    *pin = NULL;
    if (parent == KW_TPM2_PARENT_OWNER) {
        status = kw_tpm2_srk_get(c, r, tr, pin, rc);
    } else {
        status = kw_tpm2_persist_get(c, parent, &p, rc);
        if (status == PSA_SUCCESS) {
            *tr = p->tr;
        } else if (status == PSA_ERROR_DOES_NOT_EXIST) {
            keyward_set_error("the key's parent 0x%08x is not in this TPM", (unsigned)parent);
        }
    }
    if (status != PSA_SUCCESS) {
        return status;
    }
    /* The SRK has an empty auth; a persistent parent may have one. */
    memset(&a, 0, sizeof(a));
    if (p != NULL) {
        kw_tpm2_parent_auth(r, &a);
    }
    *rc = Esys_TR_SetAuth(c->esys, *tr, &a);
    mbedtls_platform_zeroize(&a, sizeof(a));
    return *rc == TSS2_RC_SUCCESS ? PSA_SUCCESS : kw_tpm2_fail_rc("Esys_TR_SetAuth", *rc);
}
