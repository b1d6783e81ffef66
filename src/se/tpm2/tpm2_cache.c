/*
 * TPM 2.0 backend: the transient-object cache.
 *
 * A TPM without a resource manager (swtpm's socket, /dev/tpm0) has about
 * three transient object slots, shared with every other user of the TPM.
 * keyward keeps at most kw_tpm2_budget() objects loaded per connection
 * (TPM_PT_HR_TRANSIENT_MIN - 1), evicts the least recently used one before
 * loading another, and on a bare TPM treats what it loaded as a cache that
 * any lock holder may flush: a cached handle is used only after its name
 * was checked on the current connection (kw_tpm2_slot_use).  When object
 * memory is full, kw_tpm2_run_op flushes our objects, then everyone else's
 * (kw_tpm2_flush_foreign).  A persistent copy of the standard SRK
 * (KEYWARD_TPM2_SRK, default 0x81000001) is used instead of a transient
 * primary when its name matches, which frees one more slot.
 */
#include <stdlib.h>
#include <string.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>

#include "keyward/port/backend.h"
#include "mbedtls/platform_util.h"
#include "tpm2_cache.h"

unsigned long kw_tpm2_loads; /* TPM2_Load + CreatePrimary count, for tests */

/* ---- the budget and the slots ---------------------------------------------- */

/* How many objects keyward keeps loaded on this connection:
 * KEYWARD_TPM2_MAX_LOADED from the environment (2-8), else what the TPM
 * says it holds at least (TPM_PT_HR_TRANSIENT_MIN) minus one: the command
 * of the lock holder may need a slot for a persistent object or a new
 * key.  At least 2 (a key and its parent), at most KW_TPM2_MAX_SLOTS. */
size_t kw_tpm2_budget(const kw_tpm2_conn_t *c)
{
    const char *v = getenv("KEYWARD_TPM2_MAX_LOADED");
    if (v != NULL && v[0] >= '2' && v[0] <= '8' && v[1] == '\0') {
        return (size_t)(v[0] - '0');
    }
    return c->budget != 0 ? c->budget : KEYWARD_TPM2_MAX_LOADED;
}

void kw_tpm2_budget_ask(kw_tpm2_conn_t *c)
{
    TPMS_CAPABILITY_DATA *cap = NULL;
    TPMI_YES_NO more = 0;
    TSS2_RC rc =
        Esys_GetCapability(c->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                           TPM2_CAP_TPM_PROPERTIES, TPM2_PT_HR_TRANSIENT_MIN, 1, &more, &cap);

    if (rc == TSS2_RC_SUCCESS && cap->data.tpmProperties.count == 1 &&
        cap->data.tpmProperties.tpmProperty[0].property == TPM2_PT_HR_TRANSIENT_MIN) {
        uint32_t n = cap->data.tpmProperties.tpmProperty[0].value;
        c->budget = n < 3 ? 2 : n - 1 > KW_TPM2_MAX_SLOTS ? KW_TPM2_MAX_SLOTS : n - 1;
    }
    Esys_Free(cap);
}

/* Frees a slot.  flush: also flush the object, if it was checked to be ours
 * on this connection (an unchecked handle may name someone else's object
 * by now); else only drop our ESYS_TR. */
void kw_tpm2_slot_forget(kw_tpm2_conn_t *c, kw_tpm2_slot_t *s, int flush)
{
    if (s->kind != SLOT_FREE && c->esys != NULL && s->tr != ESYS_TR_NONE) {
        if (flush) {
            /* Nothing useful to do if this fails: the TPM is gone or the
             * object already is. */
            (void)Esys_FlushContext(c->esys, s->tr);
        } else {
            (void)Esys_TR_Close(c->esys, &s->tr);
        }
    }
    memset(s, 0, sizeof(*s));
    s->tr = ESYS_TR_NONE;
}

/* The name of an ESYS_TR as ESYS holds it (from the TPM's answer, or
 * computed once at load).  Esys_TR_Serialize hands it out with the handle
 * and public area; Esys_TR_GetName instead recomputes it with a fresh
 * OpenSSL digest fetch (~300 us per call here). */
int kw_tpm2_tr_name(ESYS_CONTEXT *esys, ESYS_TR tr, TPM2B_NAME *name)
{
    uint8_t *buf = NULL;
    size_t len = 0, off = 0;
    TPM2_HANDLE h = 0;
    int ok = 0;

    memset(name, 0, sizeof(*name));
    if (Esys_TR_Serialize(esys, tr, &buf, &len) == TSS2_RC_SUCCESS) {
        /* IESYS_RESOURCE: handle, name, type, public area. */
        ok = Tss2_MU_TPM2_HANDLE_Unmarshal(buf, len, &off, &h) == TSS2_RC_SUCCESS &&
             Tss2_MU_TPM2B_NAME_Unmarshal(buf, len, &off, name) == TSS2_RC_SUCCESS &&
             name->size > 0;
        free(buf);
    }
    return ok;
}

static int tr_matches(kw_tpm2_conn_t *c, ESYS_TR tr, const TPM2B_NAME *want)
{
    TPM2B_NAME name;
    return kw_tpm2_tr_name(c->esys, tr, &name) && name.size == want->size &&
           memcmp(name.name, want->name, name.size) == 0;
}

psa_status_t kw_tpm2_slot_use(kw_tpm2_conn_t *c, kw_tpm2_slot_t *s, TSS2_RC *rc)
{
    ESYS_TR tr = ESYS_TR_NONE;
    int same;

    s->last_use = ++c->clock;
    if (s->tr != ESYS_TR_NONE) {
        return PSA_SUCCESS;
    }
    /* TPM2_ReadPublic on the handle: ESYS computes the name of what is
     * there now. */
    *rc = Esys_TR_FromTPMPublic(c->esys, s->handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &tr);
    if (*rc != TSS2_RC_SUCCESS) {
        if (kw_tpm2_rc_is_comm(*rc)) {
            return kw_tpm2_fail_rc("TPM2_ReadPublic", *rc);
        }
        memset(s, 0, sizeof(*s)); /* gone: flushed by someone else */
        s->tr = ESYS_TR_NONE;
        *rc = TSS2_RC_SUCCESS;
        return PSA_ERROR_DOES_NOT_EXIST;
    }
    same = tr_matches(c, tr, &s->name);
    if (!same) {
        /* Another object got the handle: not ours to flush. */
        (void)Esys_TR_Close(c->esys, &tr);
        memset(s, 0, sizeof(*s));
        s->tr = ESYS_TR_NONE;
        return PSA_ERROR_DOES_NOT_EXIST;
    }
    s->tr = tr;
    return PSA_SUCCESS;
}

void kw_tpm2_slot_flush(kw_tpm2_conn_t *c, kw_tpm2_slot_t *s)
{
    TSS2_RC rc = TSS2_RC_SUCCESS;

    if (s->kind != SLOT_FREE && kw_tpm2_slot_use(c, s, &rc) == PSA_SUCCESS) {
        kw_tpm2_slot_forget(c, s, 1);
    } else {
        kw_tpm2_slot_forget(c, s, 0);
    }
}

size_t kw_tpm2_slots_used(const kw_tpm2_conn_t *c)
{
    size_t n = 0;
    for (size_t i = 0; i < KW_TPM2_MAX_SLOTS; i++) {
        n += c->slots[i].kind != SLOT_FREE;
    }
    return n;
}

/* Flushes least recently used objects (never `keep`) until `want` more
 * objects fit in the budget; want = KW_TPM2_MAX_SLOTS flushes all but `keep`. */
void kw_tpm2_make_room(kw_tpm2_conn_t *c, const kw_tpm2_slot_t *keep, size_t want)
{
    size_t budget = kw_tpm2_budget(c);

    while (kw_tpm2_slots_used(c) + want > budget) {
        kw_tpm2_slot_t *victim = NULL;
        for (size_t i = 0; i < KW_TPM2_MAX_SLOTS; i++) {
            kw_tpm2_slot_t *s = &c->slots[i];
            if (s->kind != SLOT_FREE && s != keep &&
                (victim == NULL || s->last_use < victim->last_use)) {
                victim = s;
            }
        }
        if (victim == NULL) {
            break;
        }
        kw_tpm2_slot_flush(c, victim);
    }
}

kw_tpm2_slot_t *kw_tpm2_slot_new(kw_tpm2_conn_t *c, kw_tpm2_slot_kind_t kind, ESYS_TR tr,
                                 const uint8_t id[32])
{
    for (size_t i = 0; i < KW_TPM2_MAX_SLOTS; i++) {
        kw_tpm2_slot_t *s = &c->slots[i];
        if (s->kind == SLOT_FREE) {
            s->kind = kind;
            s->tr = tr;
            if (Esys_TR_GetTpmHandle(c->esys, tr, &s->handle) != TSS2_RC_SUCCESS ||
                !kw_tpm2_tr_name(c->esys, tr, &s->name)) {
                memset(s, 0, sizeof(*s));
                s->tr = ESYS_TR_NONE;
                return NULL;
            }
            if (id != NULL) {
                memcpy(s->id, id, 32);
            }
            s->last_use = ++c->clock;
            return s;
        }
    }
    return NULL;
}

void kw_tpm2_persist_forget(kw_tpm2_conn_t *c, kw_tpm2_persist_t *p)
{
    if (p->handle != 0 && c->esys != NULL && p->tr != ESYS_TR_NONE) {
        (void)Esys_TR_Close(c->esys, &p->tr);
    }
    memset(p, 0, sizeof(*p));
    p->tr = ESYS_TR_NONE;
}

/* ---- objects -------------------------------------------------------------- */

/* An open ESYS_TR (and public area) for a persistent handle. */
psa_status_t kw_tpm2_persist_get(kw_tpm2_conn_t *c, uint32_t handle, kw_tpm2_persist_t **out,
                                 TSS2_RC *rc)
{
    kw_tpm2_persist_t *p = NULL;
    TPM2B_PUBLIC *pub = NULL;

    for (size_t i = 0; i < KW_TPM2_MAX_PERSIST; i++) {
        kw_tpm2_persist_t *q = &c->persist[i];
        ESYS_TR tr = ESYS_TR_NONE;
        int same;
        if (q->handle != handle) {
            continue;
        }
        q->last_use = ++c->clock;
        if (q->tr != ESYS_TR_NONE) {
            *out = q;
            return PSA_SUCCESS;
        }
        /* A new connection: the object at the handle may have been
         * replaced (evicted, made again) meanwhile; its name says. */
        *rc = Esys_TR_FromTPMPublic(c->esys, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &tr);
        if (*rc != TSS2_RC_SUCCESS) {
            kw_tpm2_persist_forget(c, q);
            if (kw_tpm2_rc_base(*rc) == TPM2_RC_HANDLE) {
                keyward_set_error("no persistent TPM object at 0x%08x", (unsigned)handle);
                return PSA_ERROR_DOES_NOT_EXIST;
            }
            return kw_tpm2_fail_rc("Esys_TR_FromTPMPublic", *rc);
        }
        same = tr_matches(c, tr, &q->name);
        if (same) {
            q->tr = tr;
            *out = q;
            return PSA_SUCCESS;
        }
        (void)Esys_TR_Close(c->esys, &tr);
        if (handle == c->srk_persistent) {
            c->srk_checked = 0; /* compare it with the standard SRK again */
            c->srk_persistent = 0;
        }
        kw_tpm2_persist_forget(c, q);
        break;
    }
    for (size_t i = 0; i < KW_TPM2_MAX_PERSIST; i++) {
        kw_tpm2_persist_t *q = &c->persist[i];
        if (q->handle == 0) {
            p = q;
            break;
        }
        if (p == NULL || q->last_use < p->last_use) {
            p = q;
        }
    }
    kw_tpm2_persist_forget(c, p);
    *rc = Esys_TR_FromTPMPublic(c->esys, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &p->tr);
    if (*rc != TSS2_RC_SUCCESS) {
        if (kw_tpm2_rc_base(*rc) == TPM2_RC_HANDLE) {
            keyward_set_error("no persistent TPM object at 0x%08x", (unsigned)handle);
            return PSA_ERROR_DOES_NOT_EXIST;
        }
        return kw_tpm2_fail_rc("Esys_TR_FromTPMPublic", *rc);
    }
    *rc =
        Esys_ReadPublic(c->esys, p->tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, NULL, NULL);
    if (*rc != TSS2_RC_SUCCESS) {
        (void)Esys_TR_Close(c->esys, &p->tr);
        return kw_tpm2_fail_rc("Esys_ReadPublic", *rc);
    }
    p->pub = *pub;
    Esys_Free(pub);
    (void)kw_tpm2_tr_name(c->esys, p->tr, &p->name);
    p->handle = handle;
    p->last_use = ++c->clock;
    *out = p;
    return PSA_SUCCESS;
}

int kw_tpm2_names_equal(kw_tpm2_conn_t *c, ESYS_TR a, ESYS_TR b)
{
    TPM2B_NAME na;
    return kw_tpm2_tr_name(c->esys, a, &na) && tr_matches(c, b, &na);
}

/* Asks whether a handle exists without provoking a failing command (which
 * tss2 would log as an error). */
psa_status_t kw_tpm2_handle_exists(kw_tpm2_conn_t *c, uint32_t handle, TSS2_RC *rc)
{
    TPMS_CAPABILITY_DATA *cap = NULL;
    TPMI_YES_NO more = 0;
    int found;

    *rc = Esys_GetCapability(c->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES,
                             handle, 1, &more, &cap);
    if (*rc != TSS2_RC_SUCCESS) {
        return kw_tpm2_fail_rc("TPM2_GetCapability", *rc);
    }
    found = cap->data.handles.count > 0 && cap->data.handles.handle[0] == handle;
    Esys_Free(cap);
    return found ? PSA_SUCCESS : PSA_ERROR_DOES_NOT_EXIST;
}

/* Under the lock, with object memory full: flushes every transient object
 * that is not one of ours.  Without a resource manager every process holds
 * objects only as a cache (checked by name before use), so nobody holds
 * them legitimately: they are either other processes' caches, which those
 * reload, or objects of killed processes.  Returns how many it flushed. */
size_t kw_tpm2_flush_foreign(kw_tpm2_conn_t *c)
{
    TPMS_CAPABILITY_DATA *cap = NULL;
    TPMI_YES_NO more = 0;
    TSS2_RC rc = TSS2_RC_SUCCESS;
    size_t n = 0;

    for (size_t i = 0; i < KW_TPM2_MAX_SLOTS; i++) {
        if (c->slots[i].kind != SLOT_FREE) {
            (void)kw_tpm2_slot_use(c, &c->slots[i], &rc); /* ours, or forgotten */
        }
    }
    rc = Esys_GetCapability(c->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES,
                            0x80000000u /* TPM2_TRANSIENT_FIRST */, TPM2_MAX_CAP_HANDLES, &more,
                            &cap);
    if (rc != TSS2_RC_SUCCESS) {
        return 0;
    }
    for (size_t i = 0; i < cap->data.handles.count; i++) {
        TPM2_HANDLE h = cap->data.handles.handle[i];
        ESYS_TR tr = ESYS_TR_NONE;
        int ours = 0;
        for (size_t k = 0; k < KW_TPM2_MAX_SLOTS; k++) {
            ours |= c->slots[k].kind != SLOT_FREE && c->slots[k].handle == h;
        }
        if (!ours && Esys_TR_FromTPMPublic(c->esys, h, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                           &tr) == TSS2_RC_SUCCESS) {
            n += Esys_FlushContext(c->esys, tr) == TSS2_RC_SUCCESS;
        }
    }
    Esys_Free(cap);
    return n;
}
