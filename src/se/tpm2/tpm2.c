/*
 * TPM 2.0 backend on tss2-esys.
 *
 * Keys:
 *   tpm2:handle=0x81xxxxxx   a persistent key (builtin, READ_ONLY in PSA);
 *   tpm2:file=key.pem        a TSS2 PRIVATE KEY (tpm2-openssl, tpm2-tools'
 *                            tpm2_encodeobject): the blob is the ref, loaded
 *                            under its parent when used.
 * Attributes: tcti=, auth=, parent-auth=, parent= (generation); see
 * docs/tpm2.md.
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
 *
 * Authorisation uses password sessions (no session slots used, no
 * parameter encryption: the auth value crosses the TPM bus in the clear,
 * as with tpm2-tools' default).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "core/der.h"
#include "keyward/backend.h"
#include "keyward/locations.h"
#include "mbedtls/platform_util.h"
#include "tpm2_internal.h"

#ifndef KEYWARD_TPM2_MAX_LOADED
#define KEYWARD_TPM2_MAX_LOADED 2
#endif
#define MAX_SLOTS 8   /* upper bound for KEYWARD_TPM2_MAX_LOADED from the environment */
#define MAX_PERSIST 8 /* persistent handles with an ESYS_TR kept open */
#define MAX_CONNS 2   /* distinct TCTI configurations in use at once */
#define MAX_ATTEMPTS 4

typedef enum { SLOT_FREE = 0, SLOT_SRK, SLOT_KEY } slot_kind_t;

typedef struct {
    slot_kind_t kind;
    ESYS_TR tr;
    uint8_t id[32]; /* SHA-256(parent || TPM2B_PUBLIC || TPM2B_PRIVATE) */
    uint64_t last_use;
} slot_t;

typedef struct {
    uint32_t handle; /* 0: free */
    ESYS_TR tr;
    TPM2B_PUBLIC pub;
    uint64_t last_use;
} persist_t;

typedef struct {
    int used;
    char tcti[KW_TPM2_TCTI_MAX]; /* "" = tss2's default */
    TSS2_TCTI_CONTEXT *tcti_ctx;
    ESYS_CONTEXT *esys;
    int srk_checked;
    uint32_t srk_persistent; /* persistent copy of the standard SRK, or 0 */
    slot_t slots[MAX_SLOTS];
    persist_t persist[MAX_PERSIST];
    uint64_t clock, last_use;
} conn_t;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static conn_t conns[MAX_CONNS];
static int atexit_registered;

/* The standard SRK: ECC P-256 storage key, AES-128-CFB, SHA-256 name,
 * noDA, empty unique: what tpm2-openssl creates for parent 0x40000001. */
static const TPM2B_PUBLIC srk_template = {
    .publicArea = {
        .type = TPM2_ALG_ECC,
        .nameAlg = TPM2_ALG_SHA256,
        .objectAttributes = TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_RESTRICTED |
                            TPMA_OBJECT_DECRYPT | TPMA_OBJECT_NODA | TPMA_OBJECT_FIXEDTPM |
                            TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN,
        .parameters.eccDetail = {
            .symmetric = {.algorithm = TPM2_ALG_AES, .keyBits.aes = 128, .mode.aes = TPM2_ALG_CFB},
            .scheme = {.scheme = TPM2_ALG_NULL},
            .curveID = TPM2_ECC_NIST_P256,
            .kdf = {.scheme = TPM2_ALG_NULL},
        },
    },
};

/* ---- errors --------------------------------------------------------------- */

static int rc_is_tpm(TSS2_RC rc)
{
    TSS2_RC layer = rc & TSS2_RC_LAYER_MASK;
    return layer == TSS2_TPM_RC_LAYER || layer == TSS2_RESMGR_TPM_RC_LAYER;
}

/* The TPM response code without handle/session/parameter numbers. */
static TSS2_RC tpm_base(TSS2_RC rc)
{
    if (!rc_is_tpm(rc)) {
        return rc;
    }
    rc &= 0xfff;
    return (rc & TPM2_RC_FMT1) ? (rc & (TPM2_RC_FMT1 | 0x3f)) : rc;
}

/* A TSS-side failure that means the TPM connection is gone or confused. */
static int rc_is_comm(TSS2_RC rc)
{
    if (rc == TSS2_RC_SUCCESS || rc_is_tpm(rc)) {
        return 0;
    }
    switch (rc & 0xffff) {
    case TSS2_BASE_RC_IO_ERROR:
    case TSS2_BASE_RC_NO_CONNECTION:
    case TSS2_BASE_RC_TRY_AGAIN:
    case TSS2_BASE_RC_INSUFFICIENT_RESPONSE:
    case TSS2_BASE_RC_MALFORMED_RESPONSE:
    case TSS2_BASE_RC_BAD_SEQUENCE:
        return 1;
    default:
        return 0;
    }
}

static int rc_is_stale_handle(TSS2_RC rc)
{
    TSS2_RC b = tpm_base(rc);
    return rc_is_tpm(rc) &&
           (b == TPM2_RC_HANDLE || (b >= TPM2_RC_REFERENCE_H0 && b <= TPM2_RC_REFERENCE_H6));
}

static psa_status_t psa_of_rc(TSS2_RC rc)
{
    if (rc == TSS2_RC_SUCCESS) {
        return PSA_SUCCESS;
    }
    if (rc_is_comm(rc)) {
        return PSA_ERROR_COMMUNICATION_FAILURE;
    }
    if (!rc_is_tpm(rc)) {
        switch (rc & 0xffff) {
        case TSS2_BASE_RC_MEMORY:
            return PSA_ERROR_INSUFFICIENT_MEMORY;
        case TSS2_BASE_RC_BAD_VALUE:
        case TSS2_BASE_RC_BAD_SIZE:
        case TSS2_BASE_RC_BAD_REFERENCE:
            return PSA_ERROR_INVALID_ARGUMENT;
        case TSS2_BASE_RC_NOT_SUPPORTED:
        case TSS2_BASE_RC_NOT_IMPLEMENTED:
            return PSA_ERROR_NOT_SUPPORTED;
        case TSS2_BASE_RC_BAD_TR:
            return PSA_ERROR_BAD_STATE;
        default:
            return PSA_ERROR_HARDWARE_FAILURE;
        }
    }
    switch (tpm_base(rc)) {
    case TPM2_RC_AUTH_FAIL:
    case TPM2_RC_BAD_AUTH:
    case TPM2_RC_AUTH_MISSING:
    case TPM2_RC_AUTH_TYPE:
    case TPM2_RC_AUTH_UNAVAILABLE:
    case TPM2_RC_POLICY_FAIL:
    case TPM2_RC_LOCKOUT:
    case TPM2_RC_ATTRIBUTES:
    case TPM2_RC_PP:
        return PSA_ERROR_NOT_PERMITTED;
    case TPM2_RC_SCHEME:
    case TPM2_RC_HASH:
    case TPM2_RC_KEY_SIZE:
    case TPM2_RC_CURVE:
    case TPM2_RC_ASYMMETRIC:
    case TPM2_RC_SYMMETRIC:
    case TPM2_RC_COMMAND_CODE:
        return PSA_ERROR_NOT_SUPPORTED;
    case TPM2_RC_INTEGRITY:
    case TPM2_RC_KEY:
    case TPM2_RC_SIZE:
    case TPM2_RC_VALUE:
    case TPM2_RC_TYPE:
    case TPM2_RC_BINDING:
    case TPM2_RC_ECC_POINT:
    case TPM2_RC_INSUFFICIENT:
        return PSA_ERROR_DATA_INVALID;
    case TPM2_RC_HANDLE:
        return PSA_ERROR_DOES_NOT_EXIST;
    case TPM2_RC_OBJECT_MEMORY:
    case TPM2_RC_SESSION_MEMORY:
    case TPM2_RC_MEMORY:
    case TPM2_RC_OBJECT_HANDLES:
    case TPM2_RC_SESSION_HANDLES:
        return PSA_ERROR_INSUFFICIENT_MEMORY;
    case TPM2_RC_INITIALIZE:
        return PSA_ERROR_BAD_STATE;
    default:
        if (tpm_base(rc) >= TPM2_RC_REFERENCE_H0 && tpm_base(rc) <= TPM2_RC_REFERENCE_H6) {
            return PSA_ERROR_DOES_NOT_EXIST;
        }
        return PSA_ERROR_HARDWARE_FAILURE;
    }
}

static psa_status_t fail_rc(const char *what, TSS2_RC rc)
{
    if (tpm_base(rc) == TPM2_RC_OBJECT_MEMORY) {
        keyward_set_error("%s: the TPM's transient object slots are full (objects left by other "
                          "programs? without a resource manager, flush them with "
                          "'tpm2_flushcontext -t') (0x%x)", what, (unsigned)rc);
    } else {
        keyward_set_error("%s: %s (0x%x)", what, Tss2_RC_Decode(rc), (unsigned)rc);
    }
    return psa_of_rc(rc);
}

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

    if (!sigismember(old, SIGPIPE) && sigpending(&pending) == 0 &&
        sigismember(&pending, SIGPIPE)) {
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

static void slot_forget(conn_t *c, slot_t *s, int flush)
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

static size_t slots_used(const conn_t *c)
{
    size_t n = 0;
    for (size_t i = 0; i < MAX_SLOTS; i++) {
        n += c->slots[i].kind != SLOT_FREE;
    }
    return n;
}

/* Flushes least recently used objects (never `keep`) until `want` more
 * objects fit in the budget; want = MAX_SLOTS flushes all but `keep`. */
static void make_room(conn_t *c, const slot_t *keep, size_t want)
{
    size_t budget = max_loaded();

    while (slots_used(c) + want > budget) {
        slot_t *victim = NULL;
        for (size_t i = 0; i < MAX_SLOTS; i++) {
            slot_t *s = &c->slots[i];
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

static slot_t *slot_new(conn_t *c, slot_kind_t kind, ESYS_TR tr, const uint8_t id[32])
{
    for (size_t i = 0; i < MAX_SLOTS; i++) {
        slot_t *s = &c->slots[i];
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

static void persist_forget(conn_t *c, persist_t *p)
{
    if (p->handle != 0 && c->esys != NULL) {
        (void)Esys_TR_Close(c->esys, &p->tr);
    }
    memset(p, 0, sizeof(*p));
}

/* Closes the connection.  flush: also flush our transient objects (the TPM
 * is still reachable); without it they are only forgotten (the TPM went
 * away, and its restart emptied them). */
static void conn_close(conn_t *c, int flush)
{
    for (size_t i = 0; i < MAX_SLOTS; i++) {
        slot_forget(c, &c->slots[i], flush);
    }
    for (size_t i = 0; i < MAX_PERSIST; i++) {
        persist_forget(c, &c->persist[i]);
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

static psa_status_t conn_open(conn_t *c)
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
        return fail_rc("Esys_Initialize", rc);
    }
    if (!atexit_registered) {
        atexit_registered = atexit(release_at_exit) == 0;
    }
    return PSA_SUCCESS;
}

static psa_status_t conn_get(const char *tcti, conn_t **out)
{
    conn_t *c = NULL;

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

/* ---- auth values ---------------------------------------------------------- */

static int auth_from_env(const char *name, TPM2B_AUTH *a)
{
    const char *v = getenv(name);
    size_t n;

    if (v == NULL) {
        return 0;
    }
    n = strlen(v);
    if (n > sizeof(a->buffer)) {
        n = sizeof(a->buffer); /* the TPM would refuse it anyway */
    }
    a->size = (UINT16)n;
    memcpy(a->buffer, v, n);
    return 1;
}

static void key_auth(const kw_tpm2_ref_t *r, TPM2B_AUTH *a, int *have)
{
    size_t n = 0;

    memset(a, 0, sizeof(*a));
    *have = 1;
    if (kw_tpm2_ref_secret(r, KW_TPM2_TAG_AUTH, a->buffer, &n)) { /* auth= when opened */
        a->size = (UINT16)n;
    } else if (!auth_from_env("KEYWARD_TPM2_AUTH", a)) {
        *have = 0;
    }
}

static void parent_auth(const kw_tpm2_ref_t *r, TPM2B_AUTH *a)
{
    size_t n = 0;

    memset(a, 0, sizeof(*a));
    if (kw_tpm2_ref_secret(r, KW_TPM2_TAG_PARENT_AUTH, a->buffer, &n)) {
        a->size = (UINT16)n;
    } else {
        (void)auth_from_env("KEYWARD_TPM2_PARENT_AUTH", a);
    }
}

/* ---- objects -------------------------------------------------------------- */

/* An open ESYS_TR (and public area) for a persistent handle. */
static psa_status_t persist_get(conn_t *c, uint32_t handle, persist_t **out, TSS2_RC *rc)
{
    persist_t *p = NULL;
    TPM2B_PUBLIC *pub = NULL;

    for (size_t i = 0; i < MAX_PERSIST; i++) {
        if (c->persist[i].handle == handle) {
            c->persist[i].last_use = ++c->clock;
            *out = &c->persist[i];
            return PSA_SUCCESS;
        }
    }
    for (size_t i = 0; i < MAX_PERSIST; i++) {
        persist_t *q = &c->persist[i];
        if (q->handle == 0) {
            p = q;
            break;
        }
        if (p == NULL || q->last_use < p->last_use) {
            p = q;
        }
    }
    persist_forget(c, p);
    *rc = Esys_TR_FromTPMPublic(c->esys, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &p->tr);
    if (*rc != TSS2_RC_SUCCESS) {
        if (tpm_base(*rc) == TPM2_RC_HANDLE) {
            keyward_set_error("no persistent TPM object at 0x%08x", (unsigned)handle);
            return PSA_ERROR_DOES_NOT_EXIST;
        }
        return fail_rc("Esys_TR_FromTPMPublic", *rc);
    }
    *rc = Esys_ReadPublic(c->esys, p->tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, NULL,
                          NULL);
    if (*rc != TSS2_RC_SUCCESS) {
        (void)Esys_TR_Close(c->esys, &p->tr);
        return fail_rc("Esys_ReadPublic", *rc);
    }
    p->pub = *pub;
    Esys_Free(pub);
    p->handle = handle;
    p->last_use = ++c->clock;
    *out = p;
    return PSA_SUCCESS;
}

static int names_equal(conn_t *c, ESYS_TR a, ESYS_TR b)
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
static psa_status_t handle_exists(conn_t *c, uint32_t handle, TSS2_RC *rc)
{
    TPMS_CAPABILITY_DATA *cap = NULL;
    TPMI_YES_NO more = 0;
    int found;

    *rc = Esys_GetCapability(c->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES,
                             handle, 1, &more, &cap);
    if (*rc != TSS2_RC_SUCCESS) {
        return fail_rc("TPM2_GetCapability", *rc);
    }
    found = cap->data.handles.count > 0 && cap->data.handles.handle[0] == handle;
    Esys_Free(cap);
    return found ? PSA_SUCCESS : PSA_ERROR_DOES_NOT_EXIST;
}

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
static psa_status_t srk_get(conn_t *c, const kw_tpm2_ref_t *r, ESYS_TR *tr, slot_t **pin,
                            TSS2_RC *rc)
{
    TPM2B_SENSITIVE_CREATE sens;
    TPM2B_DATA outside;
    TPML_PCR_SELECTION pcrs;
    TPM2B_AUTH owner;
    ESYS_TR prim = ESYS_TR_NONE;
    persist_t *p = NULL;
    psa_status_t status;
    uint32_t srk_handle;

    *pin = NULL;
    if (c->srk_checked && c->srk_persistent != 0) {
        status = persist_get(c, c->srk_persistent, &p, rc);
        if (status == PSA_SUCCESS) {
            *tr = p->tr;
        }
        return status;
    }
    for (size_t i = 0; i < MAX_SLOTS; i++) {
        if (c->slots[i].kind == SLOT_SRK) {
            c->slots[i].last_use = ++c->clock;
            *tr = c->slots[i].tr;
            *pin = &c->slots[i];
            return PSA_SUCCESS;
        }
    }
    memset(&sens, 0, sizeof(sens));
    memset(&outside, 0, sizeof(outside));
    memset(&pcrs, 0, sizeof(pcrs));
    parent_auth(r, &owner);
    *rc = Esys_TR_SetAuth(c->esys, ESYS_TR_RH_OWNER, &owner);
    mbedtls_platform_zeroize(&owner, sizeof(owner));
    if (*rc != TSS2_RC_SUCCESS) {
        return fail_rc("Esys_TR_SetAuth", *rc);
    }
    make_room(c, NULL, 1);
    for (int attempt = 0; attempt < 2; attempt++) {
        *rc = Esys_CreatePrimary(c->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                 ESYS_TR_NONE, &sens, &srk_template, &outside, &pcrs, &prim, NULL,
                                 NULL, NULL, NULL);
        if (tpm_base(*rc) != TPM2_RC_OBJECT_MEMORY) {
            break;
        }
        make_room(c, NULL, MAX_SLOTS);
    }
    if (*rc != TSS2_RC_SUCCESS) {
        return fail_rc("Esys_CreatePrimary (standard SRK under the owner hierarchy)", *rc);
    }
    if (!c->srk_checked && (srk_handle = srk_handle_config()) != 0 &&
        (status = handle_exists(c, srk_handle, rc)) != PSA_ERROR_DOES_NOT_EXIST) {
        TSS2_RC prc = 0;
        if (status != PSA_SUCCESS) {
            (void)Esys_FlushContext(c->esys, prim);
            return status;
        }
        status = persist_get(c, srk_handle, &p, &prc);
        if (status == PSA_SUCCESS && names_equal(c, prim, p->tr)) {
            (void)Esys_FlushContext(c->esys, prim);
            c->srk_checked = 1;
            c->srk_persistent = srk_handle;
            *tr = p->tr;
            return PSA_SUCCESS;
        }
        if (rc_is_comm(prc)) {
            *rc = prc;
            return status;
        }
        if (p != NULL && status == PSA_SUCCESS) {
            persist_forget(c, p); /* some other object: not ours to keep open */
        }
    }
    c->srk_checked = 1;
    *pin = slot_new(c, SLOT_SRK, prim, NULL);
    if (*pin == NULL) {
        (void)Esys_FlushContext(c->esys, prim);
        return PSA_ERROR_INSUFFICIENT_MEMORY;
    }
    *tr = prim;
    return PSA_SUCCESS;
}

/* The parent of a blob key, ready to authorise a load or create. */
static psa_status_t parent_get(conn_t *c, const kw_tpm2_ref_t *r, uint32_t parent, ESYS_TR *tr,
                               slot_t **pin, TSS2_RC *rc)
{
    persist_t *p = NULL;
    TPM2B_AUTH a;
    psa_status_t status;

    *pin = NULL;
    if (parent == KW_TPM2_PARENT_OWNER) {
        status = srk_get(c, r, tr, pin, rc);
    } else {
        status = persist_get(c, parent, &p, rc);
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
        parent_auth(r, &a);
    }
    *rc = Esys_TR_SetAuth(c->esys, *tr, &a);
    mbedtls_platform_zeroize(&a, sizeof(a));
    return *rc == TSS2_RC_SUCCESS ? PSA_SUCCESS : fail_rc("Esys_TR_SetAuth", *rc);
}

/* SHA-256 of (parent, public, private): the cache key of a loaded blob.
 * PSA hashing, the API Mbed TLS 3.6 and 4.x share (sha256.h is private in 4.x). */
static psa_status_t blob_id(const kw_tpm2_ref_t *r, uint8_t id[32])
{
    psa_hash_operation_t op = PSA_HASH_OPERATION_INIT;
    psa_status_t status = PSA_ERROR_CORRUPTION_DETECTED;
    size_t len = 0;
    uint8_t p[4] = {(uint8_t)(r->parent >> 24), (uint8_t)(r->parent >> 16),
                    (uint8_t)(r->parent >> 8), (uint8_t)r->parent};

    status = psa_hash_setup(&op, PSA_ALG_SHA_256);
    if (status == PSA_SUCCESS) {
        status = psa_hash_update(&op, p, sizeof(p));
    }
    if (status == PSA_SUCCESS) {
        status = psa_hash_update(&op, r->pub, r->pub_len);
    }
    if (status == PSA_SUCCESS) {
        status = psa_hash_update(&op, r->priv, r->priv_len);
    }
    if (status == PSA_SUCCESS) {
        status = psa_hash_finish(&op, id, 32, &len);
    }
    psa_hash_abort(&op);
    return status;
}

static psa_status_t blob_unmarshal(const kw_tpm2_ref_t *r, TPM2B_PUBLIC *pub, TPM2B_PRIVATE *priv)
{
    size_t off = 0;

    memset(pub, 0, sizeof(*pub));
    if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(r->pub, r->pub_len, &off, pub) != TSS2_RC_SUCCESS ||
        off != r->pub_len) {
        keyward_set_error("TPM key: malformed public area");
        return PSA_ERROR_DATA_CORRUPT;
    }
    if (priv != NULL) {
        off = 0;
        memset(priv, 0, sizeof(*priv));
        if (Tss2_MU_TPM2B_PRIVATE_Unmarshal(r->priv, r->priv_len, &off, priv) !=
                TSS2_RC_SUCCESS ||
            off != r->priv_len) {
            keyward_set_error("TPM key: malformed private blob");
            return PSA_ERROR_DATA_CORRUPT;
        }
    }
    return PSA_SUCCESS;
}

/* A loaded object for a blob key; *slot_out is its cache slot. */
static psa_status_t blob_load(conn_t *c, const kw_tpm2_ref_t *r, slot_t **slot_out, int *hit,
                              TSS2_RC *rc)
{
    uint8_t id[32];
    TPM2B_PUBLIC pub;
    TPM2B_PRIVATE priv;
    ESYS_TR parent = ESYS_TR_NONE, obj = ESYS_TR_NONE;
    slot_t *pin = NULL;
    psa_status_t status;

    status = blob_id(r, id);
    if (status != PSA_SUCCESS) {
        return status;
    }
    for (size_t i = 0; i < MAX_SLOTS; i++) {
        slot_t *s = &c->slots[i];
        if (s->kind == SLOT_KEY && memcmp(s->id, id, sizeof(id)) == 0) {
            s->last_use = ++c->clock;
            *slot_out = s;
            *hit = 1;
            return PSA_SUCCESS;
        }
    }
    *hit = 0;
    status = blob_unmarshal(r, &pub, &priv);
    if (status != PSA_SUCCESS) {
        return status;
    }
    status = parent_get(c, r, r->parent, &parent, &pin, rc);
    if (status != PSA_SUCCESS) {
        return status;
    }
    make_room(c, pin, 1);
    for (int attempt = 0; attempt < 2; attempt++) {
        *rc = Esys_Load(c->esys, parent, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &priv, &pub,
                        &obj);
        if (tpm_base(*rc) != TPM2_RC_OBJECT_MEMORY) {
            break;
        }
        make_room(c, pin, MAX_SLOTS); /* someone else holds slots: give back all of ours */
    }
    mbedtls_platform_zeroize(&priv, sizeof(priv));
    if (*rc != TSS2_RC_SUCCESS) {
        if (tpm_base(*rc) == TPM2_RC_INTEGRITY || tpm_base(*rc) == TPM2_RC_BINDING) {
            keyward_set_error("TPM2_Load: the key blob does not belong to parent 0x%08x of this "
                              "TPM, or is corrupted: %s (0x%x)",
                              (unsigned)r->parent, Tss2_RC_Decode(*rc), (unsigned)*rc);
            return PSA_ERROR_DATA_INVALID;
        }
        return fail_rc("TPM2_Load", *rc);
    }
    *slot_out = slot_new(c, SLOT_KEY, obj, id);
    if (*slot_out == NULL) {
        (void)Esys_FlushContext(c->esys, obj);
        return PSA_ERROR_INSUFFICIENT_MEMORY;
    }
    return PSA_SUCCESS;
}

/* A usable key object (TR) and its public area. */
typedef struct {
    ESYS_TR tr;
    TPM2B_PUBLIC pub;
    slot_t *slot; /* cache slot for blob keys */
    int was_cached;
} key_obj_t;

static psa_status_t key_get(conn_t *c, const kw_tpm2_ref_t *r, key_obj_t *k, TSS2_RC *rc)
{
    psa_status_t status;

    memset(k, 0, sizeof(*k));
    if (r->handle != 0) {
        persist_t *p = NULL;
        size_t before = 0;
        for (size_t i = 0; i < MAX_PERSIST; i++) {
            before += c->persist[i].handle == r->handle;
        }
        status = persist_get(c, r->handle, &p, rc);
        if (status == PSA_SUCCESS) {
            k->tr = p->tr;
            k->pub = p->pub;
            k->was_cached = before > 0;
        }
        return status;
    }
    status = blob_unmarshal(r, &k->pub, NULL);
    if (status == PSA_SUCCESS) {
        status = blob_load(c, r, &k->slot, &k->was_cached, rc);
        if (status == PSA_SUCCESS) {
            k->tr = k->slot->tr;
        }
    }
    return status;
}

/* Drops a cached object the TPM no longer knows (flushed by someone else). */
static void key_forget(conn_t *c, const kw_tpm2_ref_t *r, key_obj_t *k)
{
    if (k->slot != NULL) {
        slot_forget(c, k->slot, 0);
    } else {
        for (size_t i = 0; i < MAX_PERSIST; i++) {
            if (c->persist[i].handle == r->handle) {
                persist_forget(c, &c->persist[i]);
            }
        }
    }
}

/* ---- the public area ------------------------------------------------------ */

static psa_status_t pub_describe(const TPMT_PUBLIC *p, psa_key_type_t *type, size_t *bits)
{
    if (p->type == TPM2_ALG_ECC) {
        switch (p->parameters.eccDetail.curveID) {
        case TPM2_ECC_NIST_P256:
            *bits = 256;
            break;
        case TPM2_ECC_NIST_P384:
            *bits = 384;
            break;
        case TPM2_ECC_NIST_P521:
            *bits = 521;
            break;
        default:
            keyward_set_error("TPM key on curve 0x%04x: keyward supports NIST P-256/384/521",
                              (unsigned)p->parameters.eccDetail.curveID);
            return PSA_ERROR_NOT_SUPPORTED;
        }
        *type = PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1);
    } else if (p->type == TPM2_ALG_RSA) {
        *bits = p->parameters.rsaDetail.keyBits;
        if (*bits < 1024 || *bits > 4096 || *bits % 8 != 0) {
            keyward_set_error("TPM RSA key of %u bits is not supported", (unsigned)*bits);
            return PSA_ERROR_NOT_SUPPORTED;
        }
        *type = PSA_KEY_TYPE_RSA_KEY_PAIR;
    } else {
        keyward_set_error("TPM object of type 0x%04x is not an ECC or RSA key", (unsigned)p->type);
        return PSA_ERROR_NOT_SUPPORTED;
    }
    if (!(p->objectAttributes & TPMA_OBJECT_SIGN_ENCRYPT)) {
        keyward_set_error("the TPM key is not a signing key (sign attribute clear; a storage or "
                          "decryption key?)");
        return PSA_ERROR_NOT_PERMITTED;
    }
    return PSA_SUCCESS;
}

static void put_padded(uint8_t *out, size_t width, const uint8_t *v, size_t v_len)
{
    memset(out, 0, width - v_len);
    memcpy(out + width - v_len, v, v_len);
}

static psa_status_t pub_export(const TPMT_PUBLIC *p, psa_key_type_t type, size_t bits,
                               uint8_t *out, size_t out_size, size_t *out_len)
{
    psa_key_type_t t = 0;
    size_t b = 0;
    psa_status_t status = pub_describe(p, &t, &b);

    if (status == PSA_ERROR_NOT_PERMITTED) {
        status = PSA_SUCCESS; /* the public half of a non-signing key is still fine */
    }
    if (status != PSA_SUCCESS) {
        return status;
    }
    if (t != type || b != bits) {
        keyward_set_error("the TPM key is not the one imported (type or size changed)");
        return PSA_ERROR_DATA_INVALID;
    }
    if (p->type == TPM2_ALG_ECC) {
        size_t coord = PSA_BITS_TO_BYTES(bits);
        const TPMS_ECC_POINT *q = &p->unique.ecc;
        if (q->x.size > coord || q->y.size > coord || q->x.size == 0 || q->y.size == 0) {
            keyward_set_error("TPM key: malformed ECC point");
            return PSA_ERROR_DATA_INVALID;
        }
        if (out_size < 1 + 2 * coord) {
            return PSA_ERROR_BUFFER_TOO_SMALL;
        }
        out[0] = 0x04;
        put_padded(out + 1, coord, q->x.buffer, q->x.size);
        put_padded(out + 1 + coord, coord, q->y.buffer, q->y.size);
        *out_len = 1 + 2 * coord;
        return PSA_SUCCESS;
    } else {
        uint32_t e = p->parameters.rsaDetail.exponent ? p->parameters.rsaDetail.exponent : 65537;
        uint8_t eb[4] = {(uint8_t)(e >> 24), (uint8_t)(e >> 16), (uint8_t)(e >> 8), (uint8_t)e};
        size_t skip = 0;
        while (skip < 3 && eb[skip] == 0) {
            skip++;
        }
        if (p->unique.rsa.size != bits / 8) {
            keyward_set_error("TPM key: modulus size does not match keyBits");
            return PSA_ERROR_DATA_INVALID;
        }
        return keyward_der_rsa_public(p->unique.rsa.buffer, p->unique.rsa.size, eb + skip,
                                      4 - skip, out, out_size, out_len);
    }
}

/* ---- running an operation ------------------------------------------------ */

typedef psa_status_t (*op_fn_t)(conn_t *c, const kw_tpm2_ref_t *r, void *arg, TSS2_RC *rc);

/* Runs fn on the connection for r's TCTI, reconnecting on I/O errors,
 * starting an uninitialised TPM, retrying transient TPM conditions and
 * stale cached handles.  fn sets *rc to the TSS2 code behind a failure
 * (0 for failures of its own). */
static psa_status_t run_op(const kw_tpm2_ref_t *r, op_fn_t fn, void *arg)
{
    psa_status_t status = PSA_ERROR_CORRUPTION_DETECTED;
    char tcti[KW_TPM2_TCTI_MAX];
    sigset_t old;
    int reconnected = 0, flushed_all = 0;

    resolve_tcti(r, tcti);
    pthread_mutex_lock(&lock);
    sigpipe_block(&old);
    for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        conn_t *c = NULL;
        TSS2_RC rc = TSS2_RC_SUCCESS, b;

        status = conn_get(tcti, &c);
        if (status != PSA_SUCCESS) {
            break;
        }
        status = fn(c, r, arg, &rc);
        if (status == PSA_SUCCESS || rc == TSS2_RC_SUCCESS) {
            break;
        }
        if (rc_is_comm(rc)) {
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
        b = tpm_base(rc);
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
        if (rc_is_stale_handle(rc) && status == PSA_ERROR_BAD_STATE) {
            continue; /* fn dropped a cached handle the TPM forgot: load again */
        }
        if (b == TPM2_RC_OBJECT_MEMORY && slots_used(c) > 0 && !flushed_all) {
            /* A persistent object in a command also takes a slot while the
             * command runs; give the TPM back everything we hold, once. */
            make_room(c, NULL, MAX_SLOTS);
            flushed_all = 1;
            continue;
        }
        break;
    }
    sigpipe_restore(&old);
    pthread_mutex_unlock(&lock);
    return status;
}

static psa_status_t ref_parse(const uint8_t *ref, size_t ref_len, kw_tpm2_ref_t *r)
{
    psa_status_t status = kw_tpm2_ref_parse(ref, ref_len, r);
    if (status != PSA_SUCCESS && status != PSA_ERROR_INVALID_ARGUMENT) {
        keyward_set_error("malformed TPM key reference");
    }
    return status;
}

/* ---- describe ------------------------------------------------------------- */

typedef struct {
    psa_key_type_t type;
    size_t bits;
} describe_arg_t;

static psa_status_t describe_op(conn_t *c, const kw_tpm2_ref_t *r, void *arg, TSS2_RC *rc)
{
    describe_arg_t *d = arg;
    key_obj_t k;
    psa_status_t status = key_get(c, r, &k, rc);

    if (status != PSA_SUCCESS) {
        return status;
    }
    return pub_describe(&k.pub.publicArea, &d->type, &d->bits);
}

static psa_status_t tpm2_describe(const uint8_t *ref, size_t ref_len, psa_key_type_t *type,
                                  size_t *bits)
{
    kw_tpm2_ref_t r;
    describe_arg_t d = {0, 0};
    TPM2B_PUBLIC pub;
    psa_status_t status = ref_parse(ref, ref_len, &r);

    if (status != PSA_SUCCESS) {
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    /* Cheap checks first: a blob's public area says what it is. */
    if (r.handle == 0) {
        status = blob_unmarshal(&r, &pub, NULL);
        if (status == PSA_SUCCESS) {
            status = pub_describe(&pub.publicArea, &d.type, &d.bits);
        }
        if (status != PSA_SUCCESS) {
            return status == PSA_ERROR_DATA_CORRUPT ? PSA_ERROR_INVALID_ARGUMENT : status;
        }
    }
    /* Then make the TPM load it: proves the blob belongs to this TPM and
     * parent (and leaves it in the cache for the first signature). */
    status = run_op(&r, describe_op, &d);
    if (status == PSA_ERROR_DATA_INVALID || status == PSA_ERROR_DATA_CORRUPT) {
        status = PSA_ERROR_INVALID_ARGUMENT; /* import-time: the data is bad */
    }
    if (status == PSA_SUCCESS) {
        *type = d.type;
        *bits = d.bits;
    }
    return status;
}

/* ---- export_public -------------------------------------------------------- */

typedef struct {
    psa_key_type_t type;
    size_t bits;
    uint8_t *out;
    size_t out_size, *out_len;
} export_arg_t;

static psa_status_t export_op(conn_t *c, const kw_tpm2_ref_t *r, void *arg, TSS2_RC *rc)
{
    export_arg_t *e = arg;
    persist_t *p = NULL;
    psa_status_t status = persist_get(c, r->handle, &p, rc);

    if (status != PSA_SUCCESS) {
        return status;
    }
    return pub_export(&p->pub.publicArea, e->type, e->bits, e->out, e->out_size, e->out_len);
}

static psa_status_t tpm2_export_public(const uint8_t *ref, size_t ref_len, psa_key_type_t type,
                                       size_t bits, uint8_t *out, size_t out_size,
                                       size_t *out_len)
{
    kw_tpm2_ref_t r;
    TPM2B_PUBLIC pub;
    export_arg_t e = {type, bits, out, out_size, out_len};
    psa_status_t status = ref_parse(ref, ref_len, &r);

    if (status != PSA_SUCCESS) {
        return status;
    }
    if (r.handle == 0) {
        /* The blob carries its public area: no TPM needed. */
        status = blob_unmarshal(&r, &pub, NULL);
        return status != PSA_SUCCESS
                   ? status
                   : pub_export(&pub.publicArea, type, bits, out, out_size, out_len);
    }
    return run_op(&r, export_op, &e);
}

/* ---- sign ----------------------------------------------------------------- */

typedef struct {
    psa_key_type_t type;
    size_t bits;
    TPMI_ALG_SIG_SCHEME scheme;
    TPMI_ALG_HASH hash;
    const uint8_t *digest;
    size_t digest_len;
    uint8_t *sig;
    size_t sig_size, *sig_len;
} sign_arg_t;

static TPMI_ALG_HASH tpm_hash_of(psa_algorithm_t h)
{
    switch (h) {
    case PSA_ALG_SHA_1:
        return TPM2_ALG_SHA1;
    case PSA_ALG_SHA_256:
        return TPM2_ALG_SHA256;
    case PSA_ALG_SHA_384:
        return TPM2_ALG_SHA384;
    case PSA_ALG_SHA_512:
        return TPM2_ALG_SHA512;
    default:
        return TPM2_ALG_NULL;
    }
}

static const char *scheme_name(TPMI_ALG_SIG_SCHEME s)
{
    switch (s) {
    case TPM2_ALG_ECDSA:
        return "ECDSA";
    case TPM2_ALG_RSASSA:
        return "RSASSA (PKCS#1 v1.5)";
    case TPM2_ALG_RSAPSS:
        return "RSAPSS";
    default:
        return "another scheme";
    }
}

/* What the key's public area allows, checked before the TPM is asked, so
 * the application gets a clear reason. */
static psa_status_t check_key_allows(const TPMT_PUBLIC *p, const sign_arg_t *s)
{
    const TPMT_ASYM_SCHEME *ks;

    if (p->objectAttributes & TPMA_OBJECT_RESTRICTED) {
        keyward_set_error("the TPM key is restricted (an attestation key): it signs only digests "
                          "the TPM computed itself, not TLS/PSA hashes");
        return PSA_ERROR_NOT_PERMITTED;
    }
    if (!(p->objectAttributes & TPMA_OBJECT_USERWITHAUTH)) {
        keyward_set_error("the TPM key requires a policy session (userWithAuth clear); keyward "
                          "authorises with the key's auth value only");
        return PSA_ERROR_NOT_PERMITTED;
    }
    ks = (const TPMT_ASYM_SCHEME *)(p->type == TPM2_ALG_ECC
                                        ? (const void *)&p->parameters.eccDetail.scheme
                                        : (const void *)&p->parameters.rsaDetail.scheme);
    if (ks->scheme != TPM2_ALG_NULL &&
        (ks->scheme != s->scheme || ks->details.anySig.hashAlg != s->hash)) {
        keyward_set_error("the TPM key's scheme is fixed to %s with hash 0x%04x; it cannot sign "
                          "with %s and hash 0x%04x",
                          scheme_name(ks->scheme), (unsigned)ks->details.anySig.hashAlg,
                          scheme_name(s->scheme), (unsigned)s->hash);
        return PSA_ERROR_NOT_PERMITTED;
    }
    return PSA_SUCCESS;
}

static psa_status_t sign_op(conn_t *c, const kw_tpm2_ref_t *r, void *arg, TSS2_RC *rc)
{
    sign_arg_t *s = arg;
    key_obj_t k;
    psa_key_type_t t = 0;
    size_t b = 0;
    TPM2B_AUTH auth;
    TPM2B_DIGEST digest;
    TPMT_SIG_SCHEME scheme;
    TPMT_TK_HASHCHECK ticket;
    TPMT_SIGNATURE *sig = NULL;
    psa_status_t status = key_get(c, r, &k, rc);
    int have_auth = 0;

    if (status != PSA_SUCCESS) {
        return status;
    }
    status = pub_describe(&k.pub.publicArea, &t, &b);
    if (status != PSA_SUCCESS) {
        return status;
    }
    if (t != s->type || b != s->bits) {
        keyward_set_error("the TPM key is not the one imported (type or size changed)");
        return PSA_ERROR_DATA_INVALID;
    }
    status = check_key_allows(&k.pub.publicArea, s);
    if (status != PSA_SUCCESS) {
        return status;
    }
    /* Without an auth value, try the empty one even if the key file says
     * emptyAuth FALSE: tpm2_encodeobject writes FALSE for keys that have
     * none. */
    key_auth(r, &auth, &have_auth);
    *rc = Esys_TR_SetAuth(c->esys, k.tr, &auth);
    mbedtls_platform_zeroize(&auth, sizeof(auth));
    if (*rc != TSS2_RC_SUCCESS) {
        return fail_rc("Esys_TR_SetAuth", *rc);
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
    *rc = Esys_Sign(c->esys, k.tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &digest, &scheme,
                    &ticket, &sig);
    if (*rc != TSS2_RC_SUCCESS) {
        if (rc_is_stale_handle(*rc) && k.was_cached) {
            key_forget(c, r, &k);
            return PSA_ERROR_BAD_STATE; /* run_op loads it again */
        }
        status = fail_rc("TPM2_Sign", *rc);
        if (tpm_base(*rc) == TPM2_RC_AUTH_FAIL || tpm_base(*rc) == TPM2_RC_BAD_AUTH) {
            keyward_set_error(have_auth ? "TPM2_Sign: wrong auth value for the key (0x%x)"
                                        : "TPM2_Sign: the key has an auth value: give it with "
                                          "auth= in the KEYREF or KEYWARD_TPM2_AUTH (0x%x)",
                              (unsigned)*rc);
        }
        return status;
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
            put_padded(s->sig, n, v->buffer, v->size);
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
            put_padded(s->sig, coord, R->buffer, R->size);
            put_padded(s->sig + coord, coord, S->buffer, S->size);
            *s->sig_len = 2 * coord;
            status = PSA_SUCCESS;
        }
    }
    Esys_Free(sig);
    return status;
}

static psa_status_t tpm2_sign_hash(const uint8_t *ref, size_t ref_len, psa_key_type_t type,
                                   size_t bits, psa_algorithm_t alg, const uint8_t *hash,
                                   size_t hash_len, uint8_t *sig, size_t sig_size, size_t *sig_len)
{
    kw_tpm2_ref_t r;
    sign_arg_t s;
    psa_algorithm_t h = PSA_ALG_SIGN_GET_HASH(alg);
    psa_status_t status = ref_parse(ref, ref_len, &r);

    if (status != PSA_SUCCESS) {
        return status;
    }
    memset(&s, 0, sizeof(s));
    s.type = type;
    s.bits = bits;
    s.hash = tpm_hash_of(h);
    if (PSA_KEY_TYPE_IS_ECC(type) && PSA_ALG_IS_RANDOMIZED_ECDSA(alg)) {
        s.scheme = TPM2_ALG_ECDSA;
    } else if (type == PSA_KEY_TYPE_RSA_KEY_PAIR && PSA_ALG_IS_RSA_PKCS1V15_SIGN(alg) &&
               alg != PSA_ALG_RSA_PKCS1V15_SIGN_RAW) {
        s.scheme = TPM2_ALG_RSASSA;
    } else if (type == PSA_KEY_TYPE_RSA_KEY_PAIR && PSA_ALG_IS_RSA_PSS(alg)) {
        /* TPM 2.0 (and libtpms) use salt length = hash length, as
         * PSA_ALG_RSA_PSS and TLS 1.3 require. */
        s.scheme = TPM2_ALG_RSAPSS;
    } else {
        keyward_set_error("the TPM cannot sign with algorithm 0x%08x for this key (ECDSA, "
                          "RSA PKCS#1 v1.5 with a hash, RSA-PSS only)", (unsigned)alg);
        return PSA_ERROR_NOT_SUPPORTED;
    }
    if (s.hash == TPM2_ALG_NULL || hash_len != PSA_HASH_LENGTH(h) ||
        hash_len > sizeof(((TPM2B_DIGEST *)0)->buffer)) {
        keyward_set_error("the TPM signs SHA-1/256/384/512 digests only");
        return hash_len != PSA_HASH_LENGTH(h) ? PSA_ERROR_INVALID_ARGUMENT
                                              : PSA_ERROR_NOT_SUPPORTED;
    }
    s.digest = hash;
    s.digest_len = hash_len;
    s.sig = sig;
    s.sig_size = sig_size;
    s.sig_len = sig_len;
    return run_op(&r, sign_op, &s);
}

/* ---- generate ------------------------------------------------------------- */

typedef struct {
    TPM2B_PUBLIC tmpl;
    TPM2B_SENSITIVE_CREATE sens;
    uint32_t parent;
    TPM2B_PRIVATE *priv_out;
    TPM2B_PUBLIC *pub_out;
} gen_arg_t;

static psa_status_t gen_op(conn_t *c, const kw_tpm2_ref_t *r, void *arg, TSS2_RC *rc)
{
    gen_arg_t *g = arg;
    ESYS_TR parent = ESYS_TR_NONE;
    slot_t *pin = NULL;
    TPM2B_DATA outside;
    TPML_PCR_SELECTION pcrs;
    TPM2B_PRIVATE *priv = NULL;
    TPM2B_PUBLIC *pub = NULL;
    psa_status_t status = parent_get(c, r, g->parent, &parent, &pin, rc);

    if (status != PSA_SUCCESS) {
        return status;
    }
    memset(&outside, 0, sizeof(outside));
    memset(&pcrs, 0, sizeof(pcrs));
    /* TPM2_Create needs no object slot of its own, but libtpms briefly
     * uses one; keep the budget. */
    make_room(c, pin, 1);
    *rc = Esys_Create(c->esys, parent, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &g->sens,
                      &g->tmpl, &outside, &pcrs, &priv, &pub, NULL, NULL, NULL);
    if (*rc != TSS2_RC_SUCCESS) {
        return fail_rc("TPM2_Create", *rc);
    }
    *g->priv_out = *priv;
    *g->pub_out = *pub;
    Esys_Free(priv);
    Esys_Free(pub);
    return PSA_SUCCESS;
}

static psa_status_t write_key_file(int fd, const kw_tpm2_keyfile_t *kf)
{
    char pem[4 * (sizeof(kf->pub) + sizeof(kf->priv)) / 3 + 256];
    size_t len = 0, done = 0;
    psa_status_t status = kw_tpm2_keyfile_write_pem(kf, pem, sizeof(pem), &len);

    while (status == PSA_SUCCESS && done < len) {
        ssize_t n = write(fd, pem + done, len - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            keyward_set_error("cannot write the TSS2 key file: %s", strerror(errno));
            status = PSA_ERROR_STORAGE_FAILURE;
            break;
        }
        done += (size_t)n;
    }
    if (status == PSA_SUCCESS && fsync(fd) != 0) {
        status = PSA_ERROR_STORAGE_FAILURE;
    }
    return status;
}

static psa_status_t tpm2_generate(const char *target, psa_key_type_t type, size_t bits,
                                  uint8_t *ref, size_t ref_size, size_t *ref_len)
{
    psa_status_t status = PSA_ERROR_CORRUPTION_DETECTED;
    kw_tpm2_keyref_t kr;
    kw_tpm2_keyfile_t kf;
    gen_arg_t g;
    TPM2B_PRIVATE priv;
    TPM2B_PUBLIC pub;
    uint8_t tref[512];
    size_t tref_len = 0, off = 0;
    kw_tpm2_ref_t r;
    TPM2B_AUTH env_auth;
    int fd = -1;
    TPMT_PUBLIC *t;

    status = kw_tpm2_keyref_parse(target, 0, &kr);
    if (status != PSA_SUCCESS) {
        return status;
    }
    memset(&g, 0, sizeof(g));
    memset(&kf, 0, sizeof(kf));
    if (kr.handle != 0) {
        keyward_set_error("keyward generates TPM keys as blobs (tpm2:file=PATH or tpm2:); make "
                          "one persistent with tpm2_evictcontrol");
        status = PSA_ERROR_NOT_SUPPORTED;
        goto exit;
    }
    t = &g.tmpl.publicArea;
    t->nameAlg = TPM2_ALG_SHA256;
    t->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                          TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                          TPMA_OBJECT_SIGN_ENCRYPT;
    if (type == PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1) &&
        (bits == 256 || bits == 384 || bits == 521)) {
        t->type = TPM2_ALG_ECC;
        t->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
        t->parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
        t->parameters.eccDetail.curveID = bits == 256   ? TPM2_ECC_NIST_P256
                                          : bits == 384 ? TPM2_ECC_NIST_P384
                                                        : TPM2_ECC_NIST_P521;
        t->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    } else if (type == PSA_KEY_TYPE_RSA_KEY_PAIR && (bits == 2048 || bits == 3072 || bits == 4096)) {
        t->type = TPM2_ALG_RSA;
        t->parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
        t->parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL; /* any: PKCS#1 v1.5 and PSS */
        t->parameters.rsaDetail.keyBits = (TPMI_RSA_KEY_BITS)bits;
        t->parameters.rsaDetail.exponent = 0;
    } else {
        keyward_set_error("the TPM backend generates ECC P-256/384/521 and RSA 2048/3072/4096");
        status = PSA_ERROR_NOT_SUPPORTED;
        goto exit;
    }
    memset(&env_auth, 0, sizeof(env_auth));
    if (kr.has_auth) {
        g.sens.sensitive.userAuth.size = (UINT16)kr.auth_len;
        memcpy(g.sens.sensitive.userAuth.buffer, kr.auth, kr.auth_len);
    } else if (auth_from_env("KEYWARD_TPM2_AUTH", &env_auth)) {
        g.sens.sensitive.userAuth = env_auth;
    }
    if (g.sens.sensitive.userAuth.size == 0) {
        /* No secret to guess: dictionary-attack counting would only let a
         * failing caller lock the TPM out. */
        t->objectAttributes |= TPMA_OBJECT_NODA;
    }
    g.parent = kr.parent != 0 ? kr.parent : KW_TPM2_PARENT_OWNER;
    g.priv_out = &priv;
    g.pub_out = &pub;

    if (kr.file[0] != '\0') {
        fd = open(kr.file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) {
            keyward_set_error("cannot create %s: %s%s", kr.file, strerror(errno),
                              errno == EEXIST ? " (keyward never overwrites a key file)" : "");
            status = errno == EEXIST ? PSA_ERROR_ALREADY_EXISTS : PSA_ERROR_STORAGE_FAILURE;
            goto exit;
        }
    }
    /* run_op wants a ref for the TCTI and parent auth: a minimal one. */
    status = kw_tpm2_ref_build(NULL, KW_TPM2_SRK_HANDLE, &kr, tref, sizeof(tref), &tref_len);
    if (status == PSA_SUCCESS) {
        status = kw_tpm2_ref_parse(tref, tref_len, &r);
    }
    if (status == PSA_SUCCESS) {
        status = run_op(&r, gen_op, &g);
    }
    if (status != PSA_SUCCESS) {
        goto exit;
    }
    kf.parent = g.parent;
    kf.empty_auth = g.sens.sensitive.userAuth.size == 0;
    if (Tss2_MU_TPM2B_PUBLIC_Marshal(&pub, kf.pub, sizeof(kf.pub), &off) != TSS2_RC_SUCCESS) {
        status = PSA_ERROR_HARDWARE_FAILURE;
        goto exit;
    }
    kf.pub_len = off;
    off = 0;
    if (Tss2_MU_TPM2B_PRIVATE_Marshal(&priv, kf.priv, sizeof(kf.priv), &off) != TSS2_RC_SUCCESS) {
        status = PSA_ERROR_HARDWARE_FAILURE;
        goto exit;
    }
    kf.priv_len = off;
    if (fd >= 0) {
        status = write_key_file(fd, &kf);
        if (status != PSA_SUCCESS) {
            goto exit;
        }
    }
    status = kw_tpm2_ref_build(&kf, 0, &kr, ref, ref_size, ref_len);
exit:
    if (fd >= 0) {
        close(fd);
        if (status != PSA_SUCCESS) {
            unlink(kr.file);
        }
    }
    mbedtls_platform_zeroize(&g, sizeof(g));
    mbedtls_platform_zeroize(&env_auth, sizeof(env_auth));
    mbedtls_platform_zeroize(tref, sizeof(tref));
    kw_tpm2_keyref_free(&kr);
    return status;
}

/* ---- KEYREF -> ref -------------------------------------------------------- */

#define KEY_FILE_MAX 16384

static psa_status_t tpm2_ref_from_keyref(const char *keyref, uint8_t *ref, size_t ref_size,
                                         size_t *ref_len)
{
    psa_status_t status = PSA_ERROR_CORRUPTION_DETECTED;
    kw_tpm2_keyref_t kr;
    kw_tpm2_keyfile_t kf;
    uint8_t *data = NULL;
    size_t len = 0;
    FILE *fp = NULL;

    status = kw_tpm2_keyref_parse(keyref, 1, &kr);
    if (status != PSA_SUCCESS) {
        return status;
    }
    if (kr.parent != 0) {
        keyward_set_error("parent= is for generation; a key file names its own parent");
        status = PSA_ERROR_INVALID_ARGUMENT;
        goto exit;
    }
    if (kr.handle != 0) {
        status = kw_tpm2_ref_build(NULL, kr.handle, &kr, ref, ref_size, ref_len);
        goto exit;
    }
    fp = fopen(kr.file, "rb");
    if (fp == NULL) {
        keyward_set_error("cannot open TPM key file %s: %s", kr.file, strerror(errno));
        status = errno == ENOENT ? PSA_ERROR_DOES_NOT_EXIST : PSA_ERROR_STORAGE_FAILURE;
        goto exit;
    }
    data = malloc(KEY_FILE_MAX);
    if (data == NULL) {
        status = PSA_ERROR_INSUFFICIENT_MEMORY;
        goto exit;
    }
    len = fread(data, 1, KEY_FILE_MAX, fp);
    if (ferror(fp) || len == 0 || len == KEY_FILE_MAX) {
        keyward_set_error("TPM key file %s is empty, unreadable or too large", kr.file);
        status = PSA_ERROR_INVALID_ARGUMENT;
        goto exit;
    }
    status = kw_tpm2_keyfile_parse(data, len, &kf);
    if (status == PSA_SUCCESS) {
        status = kw_tpm2_ref_build(&kf, 0, &kr, ref, ref_size, ref_len);
    }
exit:
    if (fp != NULL) {
        fclose(fp);
    }
    free(data);
    kw_tpm2_keyref_free(&kr);
    return status;
}

static int tpm2_keyref_is_builtin(const char *keyref)
{
    kw_tpm2_keyref_t kr;
    int builtin = 0;

    if (kw_tpm2_keyref_parse(keyref, 1, &kr) == PSA_SUCCESS) {
        builtin = kr.handle != 0;
        kw_tpm2_keyref_free(&kr);
    }
    return builtin;
}

/* ---- test hook ------------------------------------------------------------ */

static psa_status_t handles_op(conn_t *c, const kw_tpm2_ref_t *r, void *arg, TSS2_RC *rc)
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
                                            into the sign bit (UBSan) */,
                             TPM2_MAX_CAP_HANDLES, &more, &cap);
    if (*rc != TSS2_RC_SUCCESS) {
        return fail_rc("TPM2_GetCapability", *rc);
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
    return run_op(&r, handles_op, &a);
}

const keyward_backend_t keyward_tpm2_backend = {
    .scheme = "tpm2",
    .id = 3,
    .location = KEYWARD_LOCATION_TPM2,
    .ref_from_keyref = tpm2_ref_from_keyref,
    .describe = tpm2_describe,
    .sign_hash = tpm2_sign_hash,
    .export_public = tpm2_export_public,
    .keyref_is_builtin = tpm2_keyref_is_builtin,
    .generate = tpm2_generate,
    .cert_read = kw_tpm2_cert_read,
    .cert_write = kw_tpm2_cert_write,
};
