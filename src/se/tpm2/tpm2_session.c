/*
 * TPM 2.0 backend: the authorisation session that keeps auth values off the
 * TPM bus.
 *
 * With password sessions (keyward's first release, tpm2-tools' default)
 * every auth value crosses the bus in the clear.  keyward instead uses one
 * HMAC session per connection, salted with the standard SRK (the salt is
 * encrypted to the SRK, so a bus observer cannot derive the session key),
 * AES-128-CFB parameter encryption on the commands that carry sensitive
 * data (TPM2_Create's new auth value), as tpm2-tools does with its
 * salted sessions.  The session is started once and reused:
 *
 *   - behind a resource manager it stays loaded on the open connection;
 *   - on a bare TPM, where keyward connects for every operation, it is
 *     saved with TPM2_ContextSave before disconnecting (ESYS puts its own
 *     metadata, nonces and session key, into the saved blob, kept only in
 *     this process's memory) and loaded again by the next operation.
 *
 * A saved session whose process was killed stays in the TPM until flushed:
 * when the TPM runs out of session memory or handles, keyward flushes
 * every session but its own under the cross-process lock (kw_tpm2_run_op).
 *
 * Not covered: TPM2_CreatePrimary of a transient SRK authorises the owner
 * hierarchy with a password session (the SRK is what would salt a session);
 * use a persistent SRK at 0x81000001 where the owner auth is not empty.
 */
#include <string.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_sys.h>

#include "keyward/port/backend.h"
#include "mbedtls/platform_util.h"
#include "tpm2_session.h"

unsigned long kw_tpm2_sessions_started;

static const TPMT_SYM_DEF session_sym = {
    .algorithm = TPM2_ALG_AES,
    .keyBits = {.aes = 128},
    .mode = {.aes = TPM2_ALG_CFB},
};

int kw_tpm2_key_has_secret(const kw_tpm2_ref_t *r)
{
    TPM2B_AUTH a;
    int have = 0, secret;

    kw_tpm2_key_auth(r, &a, &have);
    secret = a.size > 0;
    mbedtls_platform_zeroize(&a, sizeof(a));
    return secret;
}

int kw_tpm2_parent_has_secret(const kw_tpm2_ref_t *r, uint32_t parent)
{
    TPM2B_AUTH a;
    int secret;

    if (parent == KW_TPM2_PARENT_OWNER) {
        return 0; /* the standard SRK has an empty auth */
    }
    kw_tpm2_parent_auth(r, &a);
    secret = a.size > 0;
    mbedtls_platform_zeroize(&a, sizeof(a));
    return secret;
}

psa_status_t kw_tpm2_session_get(kw_tpm2_conn_t *c, const kw_tpm2_ref_t *r, int secret,
                                 TPMA_SESSION attrs, ESYS_TR *out, TSS2_RC *rc)
{
    if (!secret) {
        /* Nothing to hide: an empty auth value and no sensitive parameter.
         * A password session costs no HMACs (with tss2-esys 3.2 and
         * OpenSSL 3 each HMAC or hash costs ~0.3 ms here). */
        *out = ESYS_TR_PASSWORD;
        return PSA_SUCCESS;
    }
    if (c->session == ESYS_TR_NONE && c->session_saved) {
        *rc = Esys_ContextLoad(c->esys, &c->session_ctx, &c->session);
        mbedtls_platform_zeroize(&c->session_ctx, sizeof(c->session_ctx));
        c->session_saved = 0;
        if (*rc != TSS2_RC_SUCCESS) {
            c->session = ESYS_TR_NONE;
            if (kw_tpm2_rc_is_comm(*rc) || kw_tpm2_rc_base(*rc) == TPM2_RC_SESSION_MEMORY) {
                return kw_tpm2_fail_rc("TPM2_ContextLoad (session)", *rc);
            }
            *rc = TSS2_RC_SUCCESS; /* gone (TPM restarted, flushed): start another */
        }
    }
    if (c->session == ESYS_TR_NONE) {
        ESYS_TR srk = ESYS_TR_NONE;
        kw_tpm2_slot_t *pin = NULL;
        psa_status_t status = kw_tpm2_srk_get(c, r, &srk, &pin, rc);
        if (status != PSA_SUCCESS) {
            return status;
        }
        *rc = Esys_StartAuthSession(c->esys, srk, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                    ESYS_TR_NONE, NULL, TPM2_SE_HMAC, &session_sym, TPM2_ALG_SHA256,
                                    &c->session);
        if (*rc != TSS2_RC_SUCCESS) {
            c->session = ESYS_TR_NONE;
            return kw_tpm2_fail_rc("TPM2_StartAuthSession (salted with the SRK)", *rc);
        }
        kw_tpm2_sessions_started++;
    }
    *rc =
        Esys_TRSess_SetAttributes(c->esys, c->session, TPMA_SESSION_CONTINUESESSION | attrs, 0xff);
    if (*rc != TSS2_RC_SUCCESS) {
        return kw_tpm2_fail_rc("Esys_TRSess_SetAttributes", *rc);
    }
    *out = c->session;
    return PSA_SUCCESS;
}

void kw_tpm2_session_park(kw_tpm2_conn_t *c)
{
    TPMS_CONTEXT *ctx = NULL;

    if (c->session == ESYS_TR_NONE || c->esys == NULL) {
        return;
    }
    if (Esys_ContextSave(c->esys, c->session, &ctx) == TSS2_RC_SUCCESS) {
        c->session_ctx = *ctx;
        c->session_saved = 1;
        mbedtls_platform_zeroize(ctx, sizeof(*ctx));
        Esys_Free(ctx);
    } else {
        (void)Esys_FlushContext(c->esys, c->session);
    }
    c->session = ESYS_TR_NONE;
}

void kw_tpm2_session_close(kw_tpm2_conn_t *c, int flush)
{
    if (flush && c->esys != NULL) {
        if (c->session == ESYS_TR_NONE && c->session_saved &&
            Esys_ContextLoad(c->esys, &c->session_ctx, &c->session) != TSS2_RC_SUCCESS) {
            c->session = ESYS_TR_NONE;
        }
        if (c->session != ESYS_TR_NONE) {
            (void)Esys_FlushContext(c->esys, c->session);
        }
    }
    c->session = ESYS_TR_NONE;
    c->session_saved = 0;
    mbedtls_platform_zeroize(&c->session_ctx, sizeof(c->session_ctx));
}

size_t kw_tpm2_flush_foreign_sessions(kw_tpm2_conn_t *c)
{
    static const TPM2_HANDLE firsts[2] = {0x02000000u /* loaded */, 0x03000000u /* saved */};
    TSS2_SYS_CONTEXT *sys = NULL;
    TPM2_HANDLE ours_loaded = 0, ours_saved = c->session_saved ? c->session_ctx.savedHandle : 0;
    size_t n = 0;

    if (c->session != ESYS_TR_NONE) {
        (void)Esys_TR_GetTpmHandle(c->esys, c->session, &ours_loaded);
    }
    if (Esys_GetSysContext(c->esys, &sys) != TSS2_RC_SUCCESS) {
        return 0;
    }
    for (size_t k = 0; k < 2; k++) {
        TPMS_CAPABILITY_DATA *cap = NULL;
        TPMI_YES_NO more = 0;
        if (Esys_GetCapability(c->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES,
                               firsts[k], TPM2_MAX_CAP_HANDLES, &more, &cap) != TSS2_RC_SUCCESS) {
            continue;
        }
        for (size_t i = 0; i < cap->data.handles.count; i++) {
            TPM2_HANDLE h = cap->data.handles.handle[i];
            /* A saved session is listed with its 0x02/0x03 handle as
             * well; compare the low bits, which the TPM keeps. */
            if ((h & 0xffffff) == (ours_loaded & 0xffffff) && ours_loaded != 0) {
                continue;
            }
            if ((h & 0xffffff) == (ours_saved & 0xffffff) && ours_saved != 0) {
                continue;
            }
            n += Tss2_Sys_FlushContext(sys, h) == TSS2_RC_SUCCESS;
        }
        Esys_Free(cap);
    }
    return n;
}
