/*
 * TPM 2.0 backend: what its source files share.  Not for tests or tools
 * (they use tpm2_internal.h).
 *
 *   tpm2.c         KEYREF -> ref, key files and blobs, auth values, the
 *                  public area, describe/export_public, the ops table
 *   tpm2_rc.c      TSS2/TPM response codes -> PSA status and messages
 *   tpm2_conn.c    connections, the cross-process lock, run_op
 *   tpm2_cache.c   the transient-object cache (budget, name checks, loads)
 *   tpm2_srk.c     the standard SRK and blob parents
 *   tpm2_session.c the salted HMAC session (auth values off the bus)
 *   tpm2_sign.c    sign_hash
 *   tpm2_pss.c     RSA-PSS salt check and the raw-RSA fallback
 *   tpm2_keygen.c  generate
 */
#ifndef KEYWARD_TPM2_BACKEND_H
#define KEYWARD_TPM2_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include <psa/crypto.h>
#include <tss2/tss2_esys.h>

#include "tpm2_internal.h"

#ifndef KEYWARD_TPM2_MAX_LOADED
#define KEYWARD_TPM2_MAX_LOADED 2
#endif
#define KW_TPM2_MAX_SLOTS 8   /* upper bound for KEYWARD_TPM2_MAX_LOADED from the environment */
#define KW_TPM2_MAX_PERSIST 8 /* persistent handles with an ESYS_TR kept open */

typedef enum { SLOT_FREE = 0, SLOT_SRK, SLOT_KEY } kw_tpm2_slot_kind_t;

/* A transient object keyward loaded (the standard SRK or a blob key). */
typedef struct {
    kw_tpm2_slot_kind_t kind;
    ESYS_TR tr;         /* ESYS_TR_NONE until checked on the current connection */
    TPM2_HANDLE handle; /* the TPM's handle for it */
    TPM2B_NAME name;    /* what the object at that handle must be called */
    uint8_t id[32];     /* SHA-256(parent || TPM2B_PUBLIC || TPM2B_PRIVATE) */
    uint64_t last_use;
} kw_tpm2_slot_t;

/* An open ESYS_TR (and public area) for a persistent handle. */
typedef struct {
    uint32_t handle; /* 0: free */
    ESYS_TR tr;      /* ESYS_TR_NONE until checked on the current connection */
    TPM2B_PUBLIC pub;
    TPM2B_NAME name;
    uint64_t last_use;
} kw_tpm2_persist_t;

/* One ESYS context per TCTI configuration. */
typedef struct {
    int used;
    char tcti[KW_TPM2_TCTI_MAX]; /* "" = tss2's default */
    int rm;                      /* 1: behind a resource manager (no lock, kept open) */
    int lock_fd;                 /* the cross-process lock file, -1 if none (yet) */
    int held;                    /* KEYWARD_TPM2_LOCK=process: lock and connection kept */
    void *tcti_lib;              /* the TCTI's library, kept loaded */
    size_t budget;               /* objects we may keep loaded; 0: not asked yet */
    TSS2_TCTI_CONTEXT *tcti_ctx;
    ESYS_CONTEXT *esys;
    int srk_checked;
    uint32_t srk_persistent;  /* persistent copy of the standard SRK, or 0 */
    ESYS_TR session;          /* the salted HMAC session, or ESYS_TR_NONE */
    TPMS_CONTEXT session_ctx; /* ...saved between operations on a bare TPM */
    int session_saved;
    kw_tpm2_slot_t slots[KW_TPM2_MAX_SLOTS];
    kw_tpm2_persist_t persist[KW_TPM2_MAX_PERSIST];
    uint64_t clock, last_use;
} kw_tpm2_conn_t;

/* A usable key object (TR) and its public area. */
typedef struct {
    ESYS_TR tr;
    TPM2B_PUBLIC pub;
    kw_tpm2_slot_t *slot; /* cache slot for blob keys */
    int was_cached;
} kw_tpm2_key_obj_t;

/* An operation run on a connection by kw_tpm2_run_op: sets *rc to the TSS2
 * code behind a failure (0 for failures of its own). */
typedef psa_status_t (*kw_tpm2_op_fn_t)(kw_tpm2_conn_t *c, const kw_tpm2_ref_t *r, void *arg,
                                        TSS2_RC *rc);

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

/* tpm2_rc.c -------------------------------------------------------------- */

/* The TPM response code without handle/session/parameter numbers. */
TSS2_RC kw_tpm2_rc_base(TSS2_RC rc);
/* A TSS-side failure that means the TPM connection is gone or confused. */
int kw_tpm2_rc_is_comm(TSS2_RC rc);
/* The TPM does not know a handle we named (flushed behind our back). */
int kw_tpm2_rc_is_stale_handle(TSS2_RC rc);
/* Sets keyward_last_error ("what: decoded rc") and maps rc to PSA. */
psa_status_t kw_tpm2_fail_rc(const char *what, TSS2_RC rc);

/* tpm2_conn.c ------------------------------------------------------------ */

psa_status_t kw_tpm2_run_op(const kw_tpm2_ref_t *r, kw_tpm2_op_fn_t fn, void *arg);

/* tpm2_cache.c ----------------------------------------------------------- */

extern unsigned long kw_tpm2_loads;
/* Asks the TPM for TPM_PT_HR_TRANSIENT_MIN (once per connection state). */
void kw_tpm2_budget_ask(kw_tpm2_conn_t *c);
/* Frees a slot; flush: also flush the object if it was checked to be ours. */
void kw_tpm2_slot_forget(kw_tpm2_conn_t *c, kw_tpm2_slot_t *s, int flush);
/* Under the lock: flushes every transient object that is not ours. */
size_t kw_tpm2_flush_foreign(kw_tpm2_conn_t *c);
void kw_tpm2_make_room(kw_tpm2_conn_t *c, const kw_tpm2_slot_t *keep, size_t want);
kw_tpm2_slot_t *kw_tpm2_slot_new(kw_tpm2_conn_t *c, kw_tpm2_slot_kind_t kind, ESYS_TR tr,
                                 const uint8_t id[32]);
/* Makes a cached slot usable on the current connection: checks that the
 * TPM object at its handle still has its name.  PSA_ERROR_DOES_NOT_EXIST
 * (slot forgotten, not flushed: it is not ours any more) when it does not. */
psa_status_t kw_tpm2_slot_use(kw_tpm2_conn_t *c, kw_tpm2_slot_t *s, TSS2_RC *rc);
/* Flushes s (checked first: never someone else's object) and frees it. */
/* The name ESYS holds for tr (without recomputing it). */
int kw_tpm2_tr_name(ESYS_CONTEXT *esys, ESYS_TR tr, TPM2B_NAME *name);
void kw_tpm2_slot_flush(kw_tpm2_conn_t *c, kw_tpm2_slot_t *s);
size_t kw_tpm2_budget(const kw_tpm2_conn_t *c);
size_t kw_tpm2_slots_used(const kw_tpm2_conn_t *c);
psa_status_t kw_tpm2_persist_get(kw_tpm2_conn_t *c, uint32_t handle, kw_tpm2_persist_t **out,
                                 TSS2_RC *rc);
void kw_tpm2_persist_forget(kw_tpm2_conn_t *c, kw_tpm2_persist_t *p);
int kw_tpm2_names_equal(kw_tpm2_conn_t *c, ESYS_TR a, ESYS_TR b);
psa_status_t kw_tpm2_handle_exists(kw_tpm2_conn_t *c, uint32_t handle, TSS2_RC *rc);
psa_status_t kw_tpm2_key_get(kw_tpm2_conn_t *c, const kw_tpm2_ref_t *r, kw_tpm2_key_obj_t *k,
                             TSS2_RC *rc);
void kw_tpm2_key_forget(kw_tpm2_conn_t *c, const kw_tpm2_ref_t *r, kw_tpm2_key_obj_t *k);

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

/* tpm2_srk.c ------------------------------------------------------------- */

psa_status_t kw_tpm2_srk_get(kw_tpm2_conn_t *c, const kw_tpm2_ref_t *r, ESYS_TR *tr,
                             kw_tpm2_slot_t **pin, TSS2_RC *rc);
psa_status_t kw_tpm2_parent_get(kw_tpm2_conn_t *c, const kw_tpm2_ref_t *r, uint32_t parent,
                                ESYS_TR *tr, kw_tpm2_slot_t **pin, TSS2_RC *rc);

/* tpm2.c ----------------------------------------------------------------- */

int kw_tpm2_auth_from_env(const char *name, TPM2B_AUTH *a);
void kw_tpm2_key_auth(const kw_tpm2_ref_t *r, TPM2B_AUTH *a, int *have);
void kw_tpm2_parent_auth(const kw_tpm2_ref_t *r, TPM2B_AUTH *a);
psa_status_t kw_tpm2_ref_parse_checked(const uint8_t *ref, size_t ref_len, kw_tpm2_ref_t *r);
psa_status_t kw_tpm2_blob_unmarshal(const kw_tpm2_ref_t *r, TPM2B_PUBLIC *pub, TPM2B_PRIVATE *priv);
psa_status_t kw_tpm2_pub_describe(const TPMT_PUBLIC *p, psa_key_type_t *type, size_t *bits);
void kw_tpm2_put_padded(uint8_t *out, size_t width, const uint8_t *v, size_t v_len);

/* tpm2_sign.c, tpm2_pss.c ------------------------------------------------ */

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

/* tpm2_sign.c / tpm2_keygen.c: the backend entry points ------------------- */

psa_status_t kw_tpm2_sign_hash(const uint8_t *ref, size_t ref_len, psa_key_type_t type, size_t bits,
                               psa_algorithm_t alg, const uint8_t *hash, size_t hash_len,
                               uint8_t *sig, size_t sig_size, size_t *sig_len);
psa_status_t kw_tpm2_generate(const char *target, psa_key_type_t type, size_t bits, uint8_t *ref,
                              size_t ref_size, size_t *ref_len);

#endif
