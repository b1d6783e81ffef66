/*
 * TPM 2.0 backend: connections and the transient-object cache.
 *
 * Transient objects.  A TPM without a resource manager (swtpm's socket,
 * /dev/tpm0) has about three transient object slots, shared with every
 * other user of the TPM.  keyward keeps at most kw_tpm2_budget() objects
 * loaded per connection (TPM_PT_HR_TRANSIENT_MIN - 1), evicts the least
 * recently used one before loading another, flushes everything at exit
 * (keyward_tpm2_release), and answers TPM_RC_OBJECT_MEMORY by flushing its
 * own objects, then everyone else's (under the cross-process lock, below).
 * A persistent copy of the standard SRK (KEYWARD_TPM2_SRK, default
 * 0x81000001) is used instead of a transient primary when its name
 * matches, which frees one more slot.
 *
 * Connections.  One connection state per TCTI configuration.  Behind a
 * resource manager the ESYS context stays open; on a bare TPM each
 * operation takes the cross-process lock, connects, and disconnects again
 * (docs/tpm2.md says why).  On a TCTI I/O error (TPM restarted) the
 * failing operation is retried once on a fresh connection, and fails with
 * PSA_ERROR_COMMUNICATION_FAILURE if the TPM is still away.  ESYS is not
 * thread-safe: one mutex serialises all TPM work in the process.
 */
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "keyward/backend.h"
#include "mbedtls/platform_util.h"
#include "mbedtls/sha256.h"
#include "tpm2_backend.h"

#define MAX_CONNS 2 /* distinct TCTI configurations in use at once */
#define MAX_ATTEMPTS 6

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static kw_tpm2_conn_t conns[MAX_CONNS];
static int atexit_registered;
unsigned long kw_tpm2_loads; /* TPM2_Load + CreatePrimary count, for tests */

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

static void budget_ask(kw_tpm2_conn_t *c)
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
static void slot_forget(kw_tpm2_conn_t *c, kw_tpm2_slot_t *s, int flush)
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
        slot_forget(c, s, 1);
    } else {
        slot_forget(c, s, 0);
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

/* ---- the cross-process lock ----------------------------------------------
 * Without a resource manager the TPM's object slots are shared by every
 * process, and a simulator socket or /dev/tpm0 serves one connection at a
 * time.  So each operation runs under flock() on a lock file named after
 * the TCTI configuration, on a connection opened after taking the lock and
 * closed before dropping it.  Loaded objects stay in the TPM between
 * operations (a cache); since any lock holder may flush them, a cached
 * handle is used again only after TPM2_ReadPublic showed the same name
 * (kw_tpm2_slot_use).  flock() locks die with their process: a client
 * killed at any moment leaves no lock behind. */

static int tcti_has_resource_manager(const char *tcti)
{
    /* tpm2-abrmd, and the kernel's /dev/tpmrmN.  tss2's default search may
     * pick either or a bare TPM: lock to be safe. */
    return strncmp(tcti, "tabrmd", 6) == 0 || strncmp(tcti, "device:/dev/tpmrm", 17) == 0;
}

/* KEYWARD_TPM2_LOCK_DIR (default /tmp) + "/keyward-tpm2-" + the TCTI
 * configuration with every character other than [A-Za-z0-9.-] as '_' +
 * ".lock", e.g. /tmp/keyward-tpm2-swtpm_host_127.0.0.1_port_2321.lock.
 * Other programs sharing the TPM take the same lock (flock(1)). */
static void lock_path(const char *tcti, char *out, size_t size)
{
    const char *dir = getenv("KEYWARD_TPM2_LOCK_DIR");
    const char *t = tcti[0] != '\0' ? tcti : "default";
    char name[128];
    size_t n = 0;

    for (; *t != '\0' && n < sizeof(name) - 1; t++) {
        name[n++] = (isalnum((unsigned char)*t) || *t == '.' || *t == '-') ? *t : '_';
    }
    name[n] = '\0';
    (void)snprintf(out, size, "%s/keyward-tpm2-%s.lock",
                   dir != NULL && dir[0] != '\0' ? dir : "/tmp", name);
}

static psa_status_t lock_acquire(kw_tpm2_conn_t *c)
{
    char path[KW_TPM2_PATH_MAX];

    lock_path(c->tcti, path, sizeof(path));
    /* Open an existing file read-only (flock needs no write access, and
     * fs.protected_regular refuses O_CREAT on another user's file in a
     * sticky directory); create it only when it is missing. */
    while (c->lock_fd < 0) {
        c->lock_fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (c->lock_fd < 0 && errno == ENOENT) {
            c->lock_fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
            if (c->lock_fd < 0 && errno == EEXIST) {
                continue;
            }
        }
        if (c->lock_fd < 0) {
            keyward_set_error("cannot open the TPM lock file %s: %s", path, strerror(errno));
            return PSA_ERROR_GENERIC_ERROR;
        }
    }
    while (flock(c->lock_fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            keyward_set_error("cannot lock %s: %s", path, strerror(errno));
            return PSA_ERROR_GENERIC_ERROR;
        }
    }
    return PSA_SUCCESS;
}

/* KEYWARD_TPM2_LOCK=process: take the lock at the first operation and keep
 * it, with the connection and the cache (no name checks), until
 * keyward_tpm2_release(), keyward_deinit() or exit.  For a device where one
 * application owns the TPM: other keyward processes wait meanwhile. */
static int lock_per_process(void)
{
    const char *v = getenv("KEYWARD_TPM2_LOCK");
    return v != NULL && strcmp(v, "process") == 0;
}

static void lock_release(kw_tpm2_conn_t *c)
{
    if (c->lock_fd >= 0) {
        (void)flock(c->lock_fd, LOCK_UN);
    }
}

/* ---- connections ---------------------------------------------------------- */

/* Drops the ESYS context but keeps the cache: the objects stay loaded, and
 * their handles must be checked again on the next connection. */
static void conn_disconnect(kw_tpm2_conn_t *c)
{
    kw_tpm2_session_park(c);
    for (size_t i = 0; i < KW_TPM2_MAX_SLOTS; i++) {
        c->slots[i].tr = ESYS_TR_NONE;
    }
    for (size_t i = 0; i < KW_TPM2_MAX_PERSIST; i++) {
        c->persist[i].tr = ESYS_TR_NONE;
    }
    if (c->esys != NULL) {
        Esys_Finalize(&c->esys);
    }
    if (c->tcti_ctx != NULL) {
        Tss2_TctiLdr_Finalize(&c->tcti_ctx);
    }
    c->esys = NULL;
    c->tcti_ctx = NULL;
}

/* Closes the connection.  flush: also flush our transient objects (the TPM
 * is still reachable); without it they are only forgotten (the TPM went
 * away, and its restart emptied them). */
static void conn_close(kw_tpm2_conn_t *c, int flush)
{
    kw_tpm2_session_close(c, flush);
    for (size_t i = 0; i < KW_TPM2_MAX_SLOTS; i++) {
        if (flush && c->esys != NULL) {
            kw_tpm2_slot_flush(c, &c->slots[i]);
        } else {
            slot_forget(c, &c->slots[i], 0);
        }
    }
    for (size_t i = 0; i < KW_TPM2_MAX_PERSIST; i++) {
        kw_tpm2_persist_forget(c, &c->persist[i]);
    }
    conn_disconnect(c);
    c->srk_checked = 0;
    c->srk_persistent = 0;
}

static psa_status_t conn_connect(kw_tpm2_conn_t *c);
static void tcti_lib_drop(kw_tpm2_conn_t *c);

static void release_locked(void)
{
    sigset_t old;
    sigpipe_block(&old);
    for (size_t i = 0; i < MAX_CONNS; i++) {
        kw_tpm2_conn_t *c = &conns[i];
        if (c->used) {
            if (kw_tpm2_slots_used(c) == 0 && c->session == ESYS_TR_NONE && !c->session_saved) {
                conn_close(c, 0);
            } else if (c->rm) {
                conn_close(c, 1);
            } else if (lock_acquire(c) == PSA_SUCCESS) {
                conn_close(c, conn_connect(c) == PSA_SUCCESS);
                lock_release(c);
            } else {
                conn_close(c, 0);
            }
            if (c->lock_fd >= 0) {
                close(c->lock_fd);
            }
            tcti_lib_drop(c);
        }
        memset(c, 0, sizeof(*c));
    }
    kw_tpm2_pss_reset();
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
    return PSA_SUCCESS;
}

static psa_status_t conn_connect(kw_tpm2_conn_t *c)
{
    if (c->esys == NULL) {
        psa_status_t status = conn_open(c);
        if (status != PSA_SUCCESS) {
            return status;
        }
    }
    if (c->budget == 0) {
        budget_ask(c);
    }
    return PSA_SUCCESS;
}

/* Keeps the TCTI's library loaded while the connection state lives: tss2's
 * loader opens and closes it with every connection, and without a
 * resource manager keyward connects for every operation (~70 us saved per
 * operation with swtpm).  Only an optimisation: failure is harmless. */
static void tcti_lib_hold(kw_tpm2_conn_t *c)
{
    char lib[96];
    size_t n = strcspn(c->tcti, ":");

    if (n == 0 || n > 32 || memchr(c->tcti, '/', n) != NULL) {
        return;
    }
    (void)snprintf(lib, sizeof(lib), "libtss2-tcti-%.*s.so.0", (int)n, c->tcti);
    c->tcti_lib = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
}

static void tcti_lib_drop(kw_tpm2_conn_t *c)
{
    if (c->tcti_lib != NULL) {
        (void)dlclose(c->tcti_lib);
        c->tcti_lib = NULL;
    }
}

/* The connection state for a TCTI configuration (not yet connected). */
static kw_tpm2_conn_t *conn_get(const char *tcti)
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
            if (c->rm) {
                conn_close(c, 1);
            } else if (c->held) {
                conn_close(c, 1); /* still connected, under our lock */
                lock_release(c);
            } else {
                conn_close(c, 0); /* unlocked: its objects are a cache anyone may flush */
            }
            if (c->lock_fd >= 0) {
                close(c->lock_fd);
            }
            tcti_lib_drop(c);
        }
        memset(c, 0, sizeof(*c));
        c->used = 1;
        c->lock_fd = -1;
        c->session = ESYS_TR_NONE;
        c->rm = tcti_has_resource_manager(tcti);
        for (size_t i = 0; i < KW_TPM2_MAX_SLOTS; i++) {
            c->slots[i].tr = ESYS_TR_NONE;
        }
        for (size_t i = 0; i < KW_TPM2_MAX_PERSIST; i++) {
            c->persist[i].tr = ESYS_TR_NONE;
        }
        strcpy(c->tcti, tcti);
        tcti_lib_hold(c);
    }
    c->last_use = ++c->clock;
    return c;
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
    ESYS_TR parent = ESYS_TR_NONE, obj = ESYS_TR_NONE, session = ESYS_TR_NONE;
    kw_tpm2_slot_t *pin = NULL;
    psa_status_t status;

    blob_id(r, id);
    for (size_t i = 0; i < KW_TPM2_MAX_SLOTS; i++) {
        kw_tpm2_slot_t *s = &c->slots[i];
        if (s->kind == SLOT_KEY && memcmp(s->id, id, sizeof(id)) == 0) {
            status = kw_tpm2_slot_use(c, s, rc);
            if (status == PSA_SUCCESS) {
                *slot_out = s;
                *hit = 1;
                return PSA_SUCCESS;
            }
            if (status != PSA_ERROR_DOES_NOT_EXIST) {
                return status;
            }
            break; /* flushed by someone else: load it again */
        }
    }
    *hit = 0;
    status = kw_tpm2_blob_unmarshal(r, &pub, &priv);
    if (status != PSA_SUCCESS) {
        return status;
    }
    status = kw_tpm2_parent_get(c, r, r->parent, &parent, &pin, rc);
    if (status == PSA_SUCCESS) {
        status =
            kw_tpm2_session_get(c, r, kw_tpm2_parent_has_secret(r, r->parent), 0, &session, rc);
    }
    if (status != PSA_SUCCESS) {
        return status;
    }
    /* With a transient SRK as parent, the key may take the slot left free
     * for the lock holder while it loads; the SRK then gives it back below,
     * so that two keys fit where the SRK and one key did. */
    kw_tpm2_make_room(c, pin, pin != NULL ? 0 : 1);
    for (int attempt = 0; attempt < 2; attempt++) {
        *rc = Esys_Load(c->esys, parent, session, ESYS_TR_NONE, ESYS_TR_NONE, &priv, &pub, &obj);
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
    kw_tpm2_loads++;
    if (pin != NULL && kw_tpm2_slots_used(c) > kw_tpm2_budget(c)) {
        kw_tpm2_slot_flush(c, pin);
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

/* Under the lock, with object memory full: flushes every transient object
 * that is not one of ours.  Without a resource manager every process holds
 * objects only as a cache (checked by name before use), so nobody holds
 * them legitimately: they are either other processes' caches, which those
 * reload, or objects of killed processes.  Returns how many it flushed. */
static size_t flush_foreign(kw_tpm2_conn_t *c)
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

/* Runs fn on the connection for r's TCTI: without a resource manager under
 * the cross-process lock, on a connection opened for it.  Reconnects on
 * I/O errors, starts an uninitialised TPM, retries transient TPM
 * conditions and stale cached handles, and makes room when object memory
 * is full.  fn sets *rc to the TSS2 code behind a failure (0 for failures
 * of its own). */
psa_status_t kw_tpm2_run_op(const kw_tpm2_ref_t *r, kw_tpm2_op_fn_t fn, void *arg)
{
    psa_status_t status = PSA_ERROR_CORRUPTION_DETECTED;
    char tcti[KW_TPM2_TCTI_MAX];
    sigset_t old;
    int reconnected = 0, flushed_all = 0, flushed_foreign = 0, flushed_sessions = 0;
    kw_tpm2_conn_t *c;

    resolve_tcti(r, tcti);
    pthread_mutex_lock(&lock);
    sigpipe_block(&old);
    c = conn_get(tcti);
    if (!c->rm && !c->held) {
        status = lock_acquire(c);
        if (status != PSA_SUCCESS) {
            goto exit;
        }
        c->held = lock_per_process();
    }
    for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        TSS2_RC rc = TSS2_RC_SUCCESS, b;

        status = conn_connect(c);
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
        if (b == TPM2_RC_OBJECT_MEMORY && kw_tpm2_slots_used(c) > 0 && !flushed_all) {
            /* A persistent object in a command also takes a slot while the
             * command runs; give the TPM back everything we hold, once. */
            kw_tpm2_make_room(c, NULL, KW_TPM2_MAX_SLOTS);
            flushed_all = 1;
            continue;
        }
        if ((b == TPM2_RC_SESSION_MEMORY || b == TPM2_RC_SESSION_HANDLES) && !c->rm &&
            !flushed_sessions) {
            /* Sessions left by killed processes (loaded, or saved). */
            flushed_sessions = 1;
            if (kw_tpm2_flush_foreign_sessions(c) > 0) {
                continue;
            }
        }
        if (b == TPM2_RC_OBJECT_MEMORY && !c->rm && !flushed_foreign) {
            flushed_foreign = 1;
            if (flush_foreign(c) > 0) {
                continue;
            }
        }
        break;
    }
    if (!c->rm && !c->held) {
        conn_disconnect(c);
        lock_release(c);
    }
    if (!atexit_registered) {
        /* Registered after ESYS first used OpenSSL, so that it runs before
         * OpenSSL's own exit handler: flushing checks names, which ESYS
         * computes with OpenSSL. */
        atexit_registered = atexit(release_at_exit) == 0;
    }
exit:
    sigpipe_restore(&old);
    pthread_mutex_unlock(&lock);
    return status;
}

unsigned long keyward_tpm2_load_count(void)
{
    return kw_tpm2_loads;
}

unsigned long keyward_tpm2_session_count(void)
{
    return kw_tpm2_sessions_started;
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
