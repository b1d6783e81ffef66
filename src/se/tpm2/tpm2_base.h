/*
 * TPM 2.0 backend, layer 1 (no TPM connection): TSS2 response codes
 * (tpm2_rc.c) and what a ref says (tpm2_keydata.c).  Builds on the key
 * formats (tpm2_internal.h).  tpm2.c lists all the layers.
 */
#ifndef KEYWARD_TPM2_BASE_H
#define KEYWARD_TPM2_BASE_H

#include <stddef.h>
#include <stdint.h>

#include <psa/crypto.h>
#include <tss2/tss2_esys.h>

#include "tpm2_internal.h"

/* tpm2_rc.c -------------------------------------------------------------- */

/* The TPM response code without handle/session/parameter numbers. */
TSS2_RC kw_tpm2_rc_base(TSS2_RC rc);
/* A TSS-side failure that means the TPM connection is gone or confused. */
int kw_tpm2_rc_is_comm(TSS2_RC rc);
/* The TPM does not know a handle we named (flushed behind our back). */
int kw_tpm2_rc_is_stale_handle(TSS2_RC rc);
/* Sets keyward_last_error ("what: decoded rc") and maps rc to PSA. */
psa_status_t kw_tpm2_fail_rc(const char *what, TSS2_RC rc);

/* tpm2_keydata.c --------------------------------------------------------- */

int kw_tpm2_auth_from_env(const char *name, TPM2B_AUTH *a);
void kw_tpm2_key_auth(const kw_tpm2_ref_t *r, TPM2B_AUTH *a, int *have);
void kw_tpm2_parent_auth(const kw_tpm2_ref_t *r, TPM2B_AUTH *a);
psa_status_t kw_tpm2_ref_parse_checked(const uint8_t *ref, size_t ref_len, kw_tpm2_ref_t *r);
psa_status_t kw_tpm2_blob_unmarshal(const kw_tpm2_ref_t *r, TPM2B_PUBLIC *pub, TPM2B_PRIVATE *priv);
psa_status_t kw_tpm2_pub_describe(const TPMT_PUBLIC *p, psa_key_type_t *type, size_t *bits);
void kw_tpm2_put_padded(uint8_t *out, size_t width, const uint8_t *v, size_t v_len);

/* KEYREF -> ref: a persistent handle, or a key file read and checked (the
 * backend's ref_from_keyref). */
psa_status_t kw_tpm2_ref_from_keyref(const char *keyref, uint8_t *ref, size_t ref_size,
                                     size_t *ref_len);

#endif
