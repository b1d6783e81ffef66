/*
 * TPM 2.0 backend: connections, the cross-process lock, and running an
 * operation (kw_tpm2_run_op).
 *
 * The object cache is in tpm2_cache.c.
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
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "keyward/port/backend.h"
#include "mbedtls/platform_util.h"
#include "tpm2_conn.h"

#define MAX_CONNS 2 /* distinct TCTI configurations in use at once */
#define MAX_ATTEMPTS 6

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static kw_tpm2_conn_t conns[MAX_CONNS];
static int atexit_registered;
/* What an upper layer forgets with the connections (kw_tpm2_on_release). */
static void (*release_hook)(void);

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
            kw_tpm2_slot_forget(c, &c->slots[i], 0);
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
    if (release_hook != NULL) {
        release_hook();
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
        kw_tpm2_budget_ask(c);
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

/* ---- running an operation ------------------------------------------------ */

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
            if (kw_tpm2_flush_foreign(c) > 0) {
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

void kw_tpm2_on_release(void (*fn)(void))
{
    release_hook = fn;
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
