/*
 * TPM 2.0 backend, layer 5: key objects (tpm2_keyobj.c), the TPM's own
 * signature (tpm2_tpmsign.c) and the RSA-PSS salt check and fallback
 * (tpm2_pss.c), on a connection run_op gave.
 */
#ifndef KEYWARD_TPM2_KEY_H
#define KEYWARD_TPM2_KEY_H

#include "tpm2_conn.h"

/* A usable key object (TR) and its public area. */
typedef struct {
    ESYS_TR tr;
    TPM2B_PUBLIC pub;
    kw_tpm2_slot_t *slot; /* cache slot for blob keys */
    int was_cached;
} kw_tpm2_key_obj_t;

/* What a signature needs (tpm2_sign.c, tpm2_pss.c). */
typedef struct {
    psa_key_type_t type;
    size_t bits;
    TPMI_ALG_SIG_SCHEME scheme;
    TPMI_ALG_HASH hash;
    const uint8_t *digest;
    size_t digest_len;
    uint8_t *sig;
    size_t sig_size, *sig_len;
} kw_tpm2_sign_arg_t;

/* tpm2_keyobj.c ---------------------------------------------------------- */

psa_status_t kw_tpm2_key_get(kw_tpm2_conn_t *c, const kw_tpm2_ref_t *r, kw_tpm2_key_obj_t *k,
                             TSS2_RC *rc);
void kw_tpm2_key_forget(kw_tpm2_conn_t *c, const kw_tpm2_ref_t *r, kw_tpm2_key_obj_t *k);

/* tpm2_tpmsign.c, tpm2_pss.c --------------------------------------------- */

psa_status_t kw_tpm2_sign_set_auth(kw_tpm2_conn_t *c, const kw_tpm2_ref_t *r,
                                   const kw_tpm2_key_obj_t *k, TSS2_RC *rc, int *have_auth);
psa_status_t kw_tpm2_sign_tpm(kw_tpm2_conn_t *c, const kw_tpm2_ref_t *r, kw_tpm2_key_obj_t *k,
                              const kw_tpm2_sign_arg_t *s, TSS2_RC *rc);
/* RSA-PSS with salt = hash length, whatever the TPM's own PSS does. */
psa_status_t kw_tpm2_pss_sign(kw_tpm2_conn_t *c, const kw_tpm2_ref_t *r, kw_tpm2_key_obj_t *k,
                              const kw_tpm2_sign_arg_t *a, TSS2_RC *rc);
/* Whether TPM2_RSA_Decrypt with scheme NULL (raw RSA) works with the key. */
int kw_tpm2_pss_raw_allowed(const TPMT_PUBLIC *p);
/* Frees the software encoding keys and forgets the per-key verdicts. */
void kw_tpm2_pss_reset(void);
/* Signs with tr's RSA-PSS and checks the salt length: 0 hash length, 1
 * another, -1 failure (*rc).  tr's auth value must be set. */
int kw_tpm2_pss_probe(kw_tpm2_conn_t *c, const kw_tpm2_ref_t *r, int secret, ESYS_TR tr,
                      const TPMT_PUBLIC *p, TSS2_RC *rc);

#endif
