/*
 * TPM 2.0 backend, layer 3: the salted HMAC session (tpm2_session.c), salted
 * with the SRK (tpm2_cache.h).
 */
#ifndef KEYWARD_TPM2_SESSION_H
#define KEYWARD_TPM2_SESSION_H

#include "tpm2_cache.h"

/* tpm2_session.c --------------------------------------------------------- */

extern unsigned long kw_tpm2_sessions_started;
/* The connection's salted HMAC session, started or loaded on demand, with
 * continueSession plus attrs (TPMA_SESSION_DECRYPT: encrypt the first
 * command parameter). */
psa_status_t kw_tpm2_session_get(kw_tpm2_conn_t *c, const kw_tpm2_ref_t *r, int secret,
                                 TPMA_SESSION attrs, ESYS_TR *out, TSS2_RC *rc);
/* Whether the key's / a blob parent's auth value is not empty: only then
 * is the session needed (secret != 0), else ESYS_TR_PASSWORD is used. */
int kw_tpm2_key_has_secret(const kw_tpm2_ref_t *r);
int kw_tpm2_parent_has_secret(const kw_tpm2_ref_t *r, uint32_t parent);
/* Before disconnecting: save the session (TPM2_ContextSave) for the next
 * connection. */
void kw_tpm2_session_park(kw_tpm2_conn_t *c);
/* Forgets the session; flush: also flush it in the TPM. */
void kw_tpm2_session_close(kw_tpm2_conn_t *c, int flush);
/* Flushes every loaded or saved session that is not ours (under the lock). */
size_t kw_tpm2_flush_foreign_sessions(kw_tpm2_conn_t *c);

#endif
