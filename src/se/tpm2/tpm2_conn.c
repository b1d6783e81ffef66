/*
 * TPM 2.0 backend: connections and the transient-object cache.
 *
 * Transient objects.  A TPM without a resource manager (swtpm's socket,
 * /dev/tpm0) has about three transient object slots, shared with every
 * other user of the TPM.  keyward keeps at most KEYWARD_TPM2_MAX_LOADED
 * (default 2: the SRK and one key) objects loaded per connection, evicts
 * the least recently used one before loading another, flushes everything
 * at exit (keyward_tpm2_release), and answers TPM_RC_OBJECT_MEMORY by
 * flushing its own objects and retrying once.  A persistent copy of the
 * standard SRK (KEYWARD_TPM2_SRK, default 0x81000001) is used instead of
 * a transient primary when its name matches, which frees one more slot.
 *
 * Connections.  One ESYS context per TCTI configuration, re-opened when
 * the TCTI reports an I/O error (TPM restarted): the failing operation is
 * retried once on a fresh connection, and fails with
 * PSA_ERROR_COMMUNICATION_FAILURE if the TPM is still away.  ESYS is not
 * thread-safe: one mutex serialises all TPM work.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "keyward/backend.h"
#include "mbedtls/platform_util.h"
#include "mbedtls/sha256.h"
#include "tpm2_backend.h"

#define MAX_CONNS 2 /* distinct TCTI configurations in use at once */
#define MAX_ATTEMPTS 4

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static kw_tpm2_conn_t conns[MAX_CONNS];
static int atexit_registered;

/* ---- SIGPIPE ---------------------------------------------------------------
 * A socket TCTI writing to a TPM simulator that died would raise SIGPIPE and
 * kill the application: keep it blocked while talking to the TPM and
 * discard one raised meanwhile, so the failure comes back as an error. */

static void sigpipe_block(sigset_t *old)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &s, old);
}

static void sigpipe_restore(const sigset_t *old)
{
    sigset_t pending, s;
    struct timespec zero = {0, 0};

    if (!sigismember(old, SIGPIPE) && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE)) {
        sigemptyset(&s);
        sigaddset(&s, SIGPIPE);
        while (sigtimedwait(&s, NULL, &zero) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

/* ---- connections and the object cache ------------------------------------- */

static size_t max_loaded(void)
{
    const char *v = getenv("KEYWARD_TPM2_MAX_LOADED");
    if (v != NULL && v[0] >= '2' && v[0] <= '8' && v[1] == '\0') {
        return (size_t)(v[0] - '0');
    }
    return KEYWARD_TPM2_MAX_LOADED;
}

static void slot_forget(kw_tpm2_conn_t *c, kw_tpm2_slot_t *s, int flush)
{
    if (s->kind != SLOT_FREE && c->esys != NULL) {
        if (flush) {
            /* Nothing useful to do if this fails: the TPM is gone or the
             * object already is. */
            (void)Esys_FlushContext(c->esys, s->tr);
        } else {
            (void)Esys_TR_Close(c->esys, &s->tr);
        }
    }
    memset(s, 0, sizeof(*s));
}

static size_t slots_used(const kw_tpm2_conn_t *c)
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
    size_t budget = max_loaded();

    while (slots_used(c) + want > budget) {
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
        slot_forget(c, victim, 1);
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
    if (p->handle != 0 && c->esys != NULL) {
        (void)Esys_TR_Close(c->esys, &p->tr);
    }
    memset(p, 0, sizeof(*p));
}

/* Closes the connection.  flush: also flush our transient objects (the TPM
 * is still reachable); without it they are only forgotten (the TPM went
 * away, and its restart emptied them). */
static void conn_close(kw_tpm2_conn_t *c, int flush)
{
    for (size_t i = 0; i < KW_TPM2_MAX_SLOTS; i++) {
        slot_forget(c, &c->slots[i], flush);
    }
    for (size_t i = 0; i < KW_TPM2_MAX_PERSIST; i++) {
        kw_tpm2_persist_forget(c, &c->persist[i]);
    }
    if (c->esys != NULL) {
        Esys_Finalize(&c->esys);
    }
    if (c->tcti_ctx != NULL) {
        Tss2_TctiLdr_Finalize(&c->tcti_ctx);
    }
    c->esys = NULL;
    c->tcti_ctx = NULL;
    c->srk_checked = 0;
    c->srk_persistent = 0;
}

static void release_locked(void)
{
    sigset_t old;
    sigpipe_block(&old);
    for (size_t i = 0; i < MAX_CONNS; i++) {
        if (conns[i].used) {
            conn_close(&conns[i], 1);
        }
        memset(&conns[i], 0, sizeof(conns[i]));
    }
    sigpipe_restore(&old);
}

void keyward_tpm2_release(void)
{
    pthread_mutex_lock(&lock);
    release_locked();
    pthread_mutex_unlock(&lock);
}

static void release_at_exit(void)
{
    /* Another thread may be inside a TPM call: then leave things be. */
    if (pthread_mutex_trylock(&lock) == 0) {
        release_locked();
        pthread_mutex_unlock(&lock);
    }
}

/* The TCTI configuration for a ref: tcti= from the KEYREF, else
 * TPM2TOOLS_TCTI, else "" (tss2's default search). */
static void resolve_tcti(const kw_tpm2_ref_t *r, char out[KW_TPM2_TCTI_MAX])
{
    const char *env = getenv("TPM2TOOLS_TCTI");

    out[0] = '\0';
    if (r != NULL && r->has_tcti) {
        memcpy(out, r->tcti, r->tcti_len);
        out[r->tcti_len] = '\0';
    } else if (env != NULL && strlen(env) < KW_TPM2_TCTI_MAX) {
        strcpy(out, env);
    }
}

static psa_status_t conn_open(kw_tpm2_conn_t *c)
{
    TSS2_RC rc = Tss2_TctiLdr_Initialize(c->tcti[0] != '\0' ? c->tcti : NULL, &c->tcti_ctx);

    if (rc != TSS2_RC_SUCCESS) {
        c->tcti_ctx = NULL;
        keyward_set_error("cannot open the TPM (TCTI '%s'): %s (0x%x)",
                          c->tcti[0] ? c->tcti : "default", Tss2_RC_Decode(rc), (unsigned)rc);
        return PSA_ERROR_COMMUNICATION_FAILURE;
    }
    rc = Esys_Initialize(&c->esys, c->tcti_ctx, NULL);
    if (rc != TSS2_RC_SUCCESS) {
        c->esys = NULL;
        Tss2_TctiLdr_Finalize(&c->tcti_ctx);
        c->tcti_ctx = NULL;
        return kw_tpm2_fail_rc("Esys_Initialize", rc);
    }
    if (!atexit_registered) {
        atexit_registered = atexit(release_at_exit) == 0;
    }
    return PSA_SUCCESS;
}

static psa_status_t conn_get(const char *tcti, kw_tpm2_conn_t **out)
{
    kw_tpm2_conn_t *c = NULL;

    for (size_t i = 0; i < MAX_CONNS; i++) {
        if (conns[i].used && strcmp(conns[i].tcti, tcti) == 0) {
            c = &conns[i];
            break;
        }
    }
    if (c == NULL) {
        for (size_t i = 0; i < MAX_CONNS; i++) {
            if (!conns[i].used) {
                c = &conns[i];
                break;
            }
            if (c == NULL || conns[i].last_use < c->last_use) {
                c = &conns[i]; /* least recently used, if all are taken */
            }
        }
        if (c->used) {
            conn_close(c, 1);
        }
        memset(c, 0, sizeof(*c));
        c->used = 1;
        strcpy(c->tcti, tcti);
    }
    c->last_use = ++c->clock;
    if (c->esys == NULL) {
        psa_status_t status = conn_open(c);
        if (status != PSA_SUCCESS) {
            return status;
        }
    }
    *out = c;
    return PSA_SUCCESS;
}

/* ---- objects -------------------------------------------------------------- */

/* An open ESYS_TR (and public area) for a persistent handle. */
psa_status_t kw_tpm2_persist_get(kw_tpm2_conn_t *c, uint32_t handle, kw_tpm2_persist_t **out,
                                 TSS2_RC *rc)
{
    kw_tpm2_persist_t *p = NULL;
    TPM2B_PUBLIC *pub = NULL;

    for (size_t i = 0; i < KW_TPM2_MAX_PERSIST; i++) {
        if (c->persist[i].handle == handle) {
            c->persist[i].last_use = ++c->clock;
            *out = &c->persist[i];
            return PSA_SUCCESS;
        }
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
    p->handle = handle;
    p->last_use = ++c->clock;
    *out = p;
    return PSA_SUCCESS;
}

int kw_tpm2_names_equal(kw_tpm2_conn_t *c, ESYS_TR a, ESYS_TR b)
{
    TPM2B_NAME *na = NULL, *nb = NULL;
    int eq = 0;

    if (Esys_TR_GetName(c->esys, a, &na) == TSS2_RC_SUCCESS &&
        Esys_TR_GetName(c->esys, b, &nb) == TSS2_RC_SUCCESS) {
        eq = na->size == nb->size && memcmp(na->name, nb->name, na->size) == 0;
    }
    Esys_Free(na);
    Esys_Free(nb);
    return eq;
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

static void blob_id(const kw_tpm2_ref_t *r, uint8_t id[32])
{
    mbedtls_sha256_context ctx;
    uint8_t p[4] = {(uint8_t)(r->parent >> 24), (uint8_t)(r->parent >> 16),
                    (uint8_t)(r->parent >> 8), (uint8_t)r->parent};

    mbedtls_sha256_init(&ctx);
    (void)mbedtls_sha256_starts(&ctx, 0);
    (void)mbedtls_sha256_update(&ctx, p, sizeof(p));
    (void)mbedtls_sha256_update(&ctx, r->pub, r->pub_len);
    (void)mbedtls_sha256_update(&ctx, r->priv, r->priv_len);
    (void)mbedtls_sha256_finish(&ctx, id);
    mbedtls_sha256_free(&ctx);
}

/* A loaded object for a blob key; *slot_out is its cache slot. */
static psa_status_t blob_load(kw_tpm2_conn_t *c, const kw_tpm2_ref_t *r, kw_tpm2_slot_t **slot_out,
                              int *hit, TSS2_RC *rc)
{
    uint8_t id[32];
    TPM2B_PUBLIC pub;
    TPM2B_PRIVATE priv;
    ESYS_TR parent = ESYS_TR_NONE, obj = ESYS_TR_NONE;
    kw_tpm2_slot_t *pin = NULL;
    psa_status_t status;

    blob_id(r, id);
    for (size_t i = 0; i < KW_TPM2_MAX_SLOTS; i++) {
        kw_tpm2_slot_t *s = &c->slots[i];
        if (s->kind == SLOT_KEY && memcmp(s->id, id, sizeof(id)) == 0) {
            s->last_use = ++c->clock;
            *slot_out = s;
            *hit = 1;
            return PSA_SUCCESS;
        }
    }
    *hit = 0;
    status = kw_tpm2_blob_unmarshal(r, &pub, &priv);
    if (status != PSA_SUCCESS) {
        return status;
    }
    status = kw_tpm2_parent_get(c, r, r->parent, &parent, &pin, rc);
    if (status != PSA_SUCCESS) {
        return status;
    }
    kw_tpm2_make_room(c, pin, 1);
    for (int attempt = 0; attempt < 2; attempt++) {
        *rc = Esys_Load(c->esys, parent, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &priv, &pub,
                        &obj);
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
        slot_forget(c, k->slot, 0);
    } else {
        for (size_t i = 0; i < KW_TPM2_MAX_PERSIST; i++) {
            if (c->persist[i].handle == r->handle) {
                kw_tpm2_persist_forget(c, &c->persist[i]);
            }
        }
    }
}

/* ---- running an operation ------------------------------------------------ */

/* Runs fn on the connection for r's TCTI, reconnecting on I/O errors,
 * starting an uninitialised TPM, retrying transient TPM conditions and
 * stale cached handles.  fn sets *rc to the TSS2 code behind a failure
 * (0 for failures of its own). */
psa_status_t kw_tpm2_run_op(const kw_tpm2_ref_t *r, kw_tpm2_op_fn_t fn, void *arg)
{
    psa_status_t status = PSA_ERROR_CORRUPTION_DETECTED;
    char tcti[KW_TPM2_TCTI_MAX];
    sigset_t old;
    int reconnected = 0, flushed_all = 0;

    resolve_tcti(r, tcti);
    pthread_mutex_lock(&lock);
    sigpipe_block(&old);
    for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        kw_tpm2_conn_t *c = NULL;
        TSS2_RC rc = TSS2_RC_SUCCESS, b;

        status = conn_get(tcti, &c);
        if (status != PSA_SUCCESS) {
            break;
        }
        status = fn(c, r, arg, &rc);
        if (status == PSA_SUCCESS || rc == TSS2_RC_SUCCESS) {
            break;
        }
        if (kw_tpm2_rc_is_comm(rc)) {
            /* The TPM went away (or restarted): drop everything we knew. */
            conn_close(c, 0);
            keyward_set_error("lost the TPM connection (TCTI '%s'): %s (0x%x)",
                              tcti[0] ? tcti : "default", Tss2_RC_Decode(rc), (unsigned)rc);
            status = PSA_ERROR_COMMUNICATION_FAILURE;
            if (reconnected++) {
                break;
            }
            continue;
        }
        b = kw_tpm2_rc_base(rc);
        if (b == TPM2_RC_INITIALIZE) {
            (void)Esys_Startup(c->esys, TPM2_SU_CLEAR);
            continue;
        }
        if (b == TPM2_RC_RETRY || b == TPM2_RC_YIELDED || b == TPM2_RC_TESTING ||
            b == TPM2_RC_NV_RATE) {
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
            continue;
        }
        if (kw_tpm2_rc_is_stale_handle(rc) && status == PSA_ERROR_BAD_STATE) {
            continue; /* fn dropped a cached handle the TPM forgot: load again */
        }
        if (b == TPM2_RC_OBJECT_MEMORY && slots_used(c) > 0 && !flushed_all) {
            /* A persistent object in a command also takes a slot while the
             * command runs; give the TPM back everything we hold, once. */
            kw_tpm2_make_room(c, NULL, KW_TPM2_MAX_SLOTS);
            flushed_all = 1;
            continue;
        }
        break;
    }
    sigpipe_restore(&old);
    pthread_mutex_unlock(&lock);
    return status;
}

/* ---- test hook ------------------------------------------------------------ */

static psa_status_t handles_op(kw_tpm2_conn_t *c, const kw_tpm2_ref_t *r, void *arg, TSS2_RC *rc)
{
    struct {
        uint32_t *h;
        size_t max, *count;
    } *a = arg;
    TPMS_CAPABILITY_DATA *cap = NULL;
    TPMI_YES_NO more = 0;

    (void)r;
    *rc = Esys_GetCapability(c->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES,
                             0x80000000u /* TPM2_TRANSIENT_FIRST: its macro shifts an int
                                            into the sign bit (UBSan) */
                             ,
                             TPM2_MAX_CAP_HANDLES, &more, &cap);
    if (*rc != TSS2_RC_SUCCESS) {
        return kw_tpm2_fail_rc("TPM2_GetCapability", *rc);
    }
    *a->count = cap->data.handles.count;
    for (size_t i = 0; i < cap->data.handles.count && i < a->max; i++) {
        a->h[i] = cap->data.handles.handle[i];
    }
    Esys_Free(cap);
    return PSA_SUCCESS;
}

psa_status_t keyward_tpm2_transient_handles(const char *tcti, uint32_t *handles, size_t max,
                                            size_t *count)
{
    kw_tpm2_ref_t r;
    struct {
        uint32_t *h;
        size_t max, *count;
    } a = {handles, max, count};

    memset(&r, 0, sizeof(r));
    if (tcti != NULL) {
        r.tcti = tcti;
        r.tcti_len = strlen(tcti);
        r.has_tcti = r.tcti_len < KW_TPM2_TCTI_MAX;
    }
    return kw_tpm2_run_op(&r, handles_op, &a);
}
