/*
 * TPM 2.0 backend: TPM2_Sign, the TPM's own signature of a digest, and the
 * key's auth value set for it.  sign_hash (tpm2_sign.c) and the RSA-PSS
 * salt check (tpm2_pss.c) both sign through here.
 */
#include <string.h>

#include <tss2/tss2_esys.h>

#include "keyward/port/backend.h"
#include "mbedtls/platform_util.h"
#include "tpm2_key.h"

/* Sets the key's auth value on its ESYS_TR.  Without an auth value, the
 * empty one is tried even if the key file says emptyAuth FALSE:
 * tpm2_encodeobject writes FALSE for keys that have none. */
psa_status_t kw_tpm2_sign_set_auth(kw_tpm2_conn_t *c, const kw_tpm2_ref_t *r,
                                   const kw_tpm2_key_obj_t *k, TSS2_RC *rc, int *have_auth)
{
    TPM2B_AUTH auth;
    int have = 0;

    kw_tpm2_key_auth(r, &auth, &have);
    *rc = Esys_TR_SetAuth(c->esys, k->tr, &auth);
    mbedtls_platform_zeroize(&auth, sizeof(auth));
    if (have_auth != NULL) {
        *have_auth = have;
    }
    return *rc == TSS2_RC_SUCCESS ? PSA_SUCCESS : kw_tpm2_fail_rc("Esys_TR_SetAuth", *rc);
}

/* TPM2_Sign with s's scheme; the signature goes to s->sig in PSA format. */
psa_status_t kw_tpm2_sign_tpm(kw_tpm2_conn_t *c, const kw_tpm2_ref_t *r, kw_tpm2_key_obj_t *k,
                              const kw_tpm2_sign_arg_t *s, TSS2_RC *rc)
{
    TPM2B_DIGEST digest;
    TPMT_SIG_SCHEME scheme;
    TPMT_TK_HASHCHECK ticket;
    TPMT_SIGNATURE *sig = NULL;
    ESYS_TR session = ESYS_TR_NONE;
    psa_status_t status = kw_tpm2_session_get(c, r, kw_tpm2_key_has_secret(r), 0, &session, rc);

    if (status != PSA_SUCCESS) {
        return status;
    }
    memset(&digest, 0, sizeof(digest));
    digest.size = (UINT16)s->digest_len;
    memcpy(digest.buffer, s->digest, s->digest_len);
    memset(&scheme, 0, sizeof(scheme));
    scheme.scheme = s->scheme;
    scheme.details.any.hashAlg = s->hash;
    memset(&ticket, 0, sizeof(ticket));
    ticket.tag = TPM2_ST_HASHCHECK; /* the NULL ticket: fine for unrestricted keys */
    ticket.hierarchy = TPM2_RH_NULL;
    *rc = Esys_Sign(c->esys, k->tr, session, ESYS_TR_NONE, ESYS_TR_NONE, &digest, &scheme, &ticket,
                    &sig);
    if (*rc != TSS2_RC_SUCCESS) {
        if (kw_tpm2_rc_is_stale_handle(*rc) && k->was_cached) {
            kw_tpm2_key_forget(c, r, k);
            return PSA_ERROR_BAD_STATE; /* kw_tpm2_run_op loads it again */
        }
        return kw_tpm2_fail_rc("TPM2_Sign", *rc);
    }
    if (s->type == PSA_KEY_TYPE_RSA_KEY_PAIR) {
        const TPM2B_PUBLIC_KEY_RSA *v =
            s->scheme == TPM2_ALG_RSAPSS ? &sig->signature.rsapss.sig : &sig->signature.rsassa.sig;
        size_t n = s->bits / 8;
        if (v->size > n || v->size == 0) {
            status = PSA_ERROR_HARDWARE_FAILURE;
        } else if (s->sig_size < n) {
            status = PSA_ERROR_BUFFER_TOO_SMALL;
        } else {
            kw_tpm2_put_padded(s->sig, n, v->buffer, v->size);
            *s->sig_len = n;
            status = PSA_SUCCESS;
        }
    } else {
        size_t coord = PSA_BITS_TO_BYTES(s->bits);
        const TPM2B_ECC_PARAMETER *R = &sig->signature.ecdsa.signatureR;
        const TPM2B_ECC_PARAMETER *S = &sig->signature.ecdsa.signatureS;
        if (R->size > coord || S->size > coord) {
            status = PSA_ERROR_HARDWARE_FAILURE;
        } else if (s->sig_size < 2 * coord) {
            status = PSA_ERROR_BUFFER_TOO_SMALL;
        } else {
            kw_tpm2_put_padded(s->sig, coord, R->buffer, R->size);
            kw_tpm2_put_padded(s->sig + coord, coord, S->buffer, S->size);
            *s->sig_len = 2 * coord;
            status = PSA_SUCCESS;
        }
    }
    Esys_Free(sig);
    return status;
}
