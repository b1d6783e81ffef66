/*
 * TPM 2.0 backend, layer 2: the connection state and the object cache kept
 * in it (tpm2_cache.c), and the standard SRK and blob parents, which are
 * cached objects (tpm2_srk.c).  Works on a connection's state; opening and
 * closing connections is the layer above (tpm2_conn.h).
 */
#ifndef KEYWARD_TPM2_CACHE_H
#define KEYWARD_TPM2_CACHE_H

#include "tpm2_base.h"

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
/* tpm2_srk.c ------------------------------------------------------------- */

psa_status_t kw_tpm2_srk_get(kw_tpm2_conn_t *c, const kw_tpm2_ref_t *r, ESYS_TR *tr,
                             kw_tpm2_slot_t **pin, TSS2_RC *rc);
psa_status_t kw_tpm2_parent_get(kw_tpm2_conn_t *c, const kw_tpm2_ref_t *r, uint32_t parent,
                                ESYS_TR *tr, kw_tpm2_slot_t **pin, TSS2_RC *rc);

#endif
