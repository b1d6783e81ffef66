/*
 * PKCS#11 backend: modules (dlopen by path), tokens, and one session per
 * token, opened and logged in once, reused by every operation; it is
 * re-opened transparently when the token says the session is gone
 * (CKR_SESSION_HANDLE_INVALID, CKR_SESSION_CLOSED, CKR_USER_NOT_LOGGED_IN,
 * CKR_DEVICE_REMOVED).  The PIN comes from the URI's pin-value (generation
 * targets), process memory for the ref, pin-source or $KEYWARD_PKCS11_PIN.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <p11-kit/p11-kit.h>

#include "mbedtls/platform_util.h"
#include "pkcs11_session.h"

pthread_mutex_t p11_lock = PTHREAD_MUTEX_INITIALIZER;
static module_t modules[MAX_MODULES];
static token_t tokens[MAX_TOKENS];

static psa_status_t module_get(P11KitUri *uri, module_t **out)
{
    const char *path = p11_kit_uri_get_module_path(uri);
    CK_RV (*get_list)(CK_FUNCTION_LIST_PTR_PTR);
    CK_C_INITIALIZE_ARGS args;
    module_t *free_slot = NULL;
    CK_RV rv;

    if (path == NULL) {
        path = getenv("KEYWARD_PKCS11_MODULE");
    }
    if (path == NULL || path[0] == '\0') {
        path = "p11-kit-proxy.so";
    }
    for (size_t i = 0; i < MAX_MODULES; i++) {
        if (modules[i].f != NULL && strcmp(modules[i].path, path) == 0) {
            *out = &modules[i];
            return PSA_SUCCESS;
        }
        if (modules[i].f == NULL && free_slot == NULL) {
            free_slot = &modules[i];
        }
    }
    if (free_slot == NULL || strlen(path) >= sizeof(free_slot->path)) {
        keyward_set_error("too many PKCS#11 modules or module path too long");
        return PSA_ERROR_INSUFFICIENT_MEMORY;
    }
    free_slot->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (free_slot->dl == NULL) {
        keyward_set_error("cannot load PKCS#11 module %s: %s", path, dlerror());
        return PSA_ERROR_DOES_NOT_EXIST;
    }
    *(void **)&get_list = dlsym(free_slot->dl, "C_GetFunctionList");
    if (get_list == NULL || get_list(&free_slot->f) != CKR_OK || free_slot->f == NULL) {
        keyward_set_error("%s is not a PKCS#11 module (no C_GetFunctionList)", path);
        dlclose(free_slot->dl);
        free_slot->f = NULL;
        return PSA_ERROR_NOT_SUPPORTED;
    }
    memset(&args, 0, sizeof(args));
    args.flags = CKF_OS_LOCKING_OK;
    rv = free_slot->f->C_Initialize(&args);
    if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        free_slot->f = NULL;
        dlclose(free_slot->dl);
        return p11_fail("C_Initialize", rv);
    }
    strcpy(free_slot->path, path);
    *out = free_slot;
    return PSA_SUCCESS;
}

/* Reads pin-source: a regular file (a "file:" URI or a path) whose first
 * line is the PIN.  Any failure names the path: an unreadable source must
 * not turn into a wrong PIN and a login failure that counts against the
 * token's retry limit. */
static psa_status_t read_pin_source(const char *src, char *pin, size_t pin_size)
{
    psa_status_t status = PSA_ERROR_CORRUPTION_DETECTED;
    struct stat st;
    ssize_t n = 0;
    size_t len = 0;
    int fd;

    if (strncmp(src, "file:", 5) == 0) {
        src += 5;
        if (strncmp(src, "//", 2) == 0) {
            src += 2;
        }
    }
    fd = open(src, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        keyward_set_error("cannot read pin-source %s: %s", src, strerror(errno));
        return errno == ENOENT                     ? PSA_ERROR_DOES_NOT_EXIST
               : errno == EACCES || errno == EPERM ? PSA_ERROR_NOT_PERMITTED
                                                   : PSA_ERROR_STORAGE_FAILURE;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        keyward_set_error("cannot read pin-source %s: not a regular file", src);
        status = PSA_ERROR_INVALID_ARGUMENT;
        goto exit;
    }
    while (len + 1 < pin_size && (n = read(fd, pin + len, pin_size - 1 - len)) > 0) {
        len += (size_t)n;
    }
    if (n < 0) {
        keyward_set_error("cannot read pin-source %s: %s", src, strerror(errno));
        status = PSA_ERROR_STORAGE_FAILURE;
        goto exit;
    }
    pin[len] = '\0';
    pin[strcspn(pin, "\r\n")] = '\0';
    status = PSA_SUCCESS;
exit:
    close(fd);
    return status;
}

/* The PIN, from the first of: pin-value in the URI (a generation target;
 * refs never carry it), the value kept in process memory for this ref,
 * pin-source, $KEYWARD_PKCS11_PIN. */
static psa_status_t get_pin(const parsed_uri_t *u, char *pin, size_t pin_size)
{
    const char *v = p11_kit_uri_get_pin_value(u->uri);
    const char *src = p11_kit_uri_get_pin_source(u->uri);
    size_t len = 0;
    psa_status_t status;

    pin[0] = '\0';
    if (v != NULL) {
        if (strlen(v) >= pin_size) {
            return PSA_ERROR_INVALID_ARGUMENT;
        }
        strcpy(pin, v);
        return PSA_SUCCESS;
    }
    status = keyward_secret_get((const uint8_t *)u->text, strlen(u->text), "pin-value",
                                (uint8_t *)pin, pin_size - 1, &len);
    if (status == PSA_SUCCESS) {
        pin[len] = '\0';
        return PSA_SUCCESS;
    }
    if (src != NULL) {
        return read_pin_source(src, pin, pin_size);
    }
    v = getenv("KEYWARD_PKCS11_PIN");
    if (v != NULL && strlen(v) < pin_size) {
        strcpy(pin, v);
    }
    return PSA_SUCCESS;
}

psa_status_t p11_session_open(token_t *tok, const parsed_uri_t *u)
{
    CK_RV rv;
    char pin[PIN_MAX];
    psa_status_t status;

    if (tok->open) {
        tok->mod->f->C_CloseSession(tok->session);
        tok->open = 0;
    }
    rv = tok->mod->f->C_OpenSession(tok->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
                                    &tok->session);
    if (rv != CKR_OK) {
        return p11_fail("C_OpenSession", rv);
    }
    tok->open = 1;
    if (!(tok->info.flags & CKF_LOGIN_REQUIRED)) {
        return PSA_SUCCESS;
    }
    status = get_pin(u, pin, sizeof(pin));
    if (status == PSA_SUCCESS) {
        rv = tok->mod->f->C_Login(tok->session, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin));
        if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
            status = p11_fail("C_Login", rv);
        }
    }
    mbedtls_platform_zeroize(pin, sizeof(pin));
    if (status != PSA_SUCCESS) {
        tok->mod->f->C_CloseSession(tok->session);
        tok->open = 0;
    }
    return status;
}

psa_status_t p11_token_get(const parsed_uri_t *u, token_t **out)
{
    P11KitUri *uri = u->uri;
    module_t *mod = NULL;
    CK_SLOT_ID slots[64];
    CK_ULONG n = 64;
    token_t *free_slot = NULL;
    psa_status_t status = module_get(uri, &mod);
    CK_RV rv;

    if (status != PSA_SUCCESS) {
        return status;
    }
    /* Known token of this module that matches? */
    for (size_t i = 0; i < MAX_TOKENS; i++) {
        if (tokens[i].mod == mod && p11_kit_uri_match_token_info(uri, &tokens[i].info)) {
            *out = &tokens[i];
            return tokens[i].open ? PSA_SUCCESS : p11_session_open(&tokens[i], u);
        }
        if (tokens[i].mod == NULL && free_slot == NULL) {
            free_slot = &tokens[i];
        }
    }
    rv = mod->f->C_GetSlotList(CK_TRUE, slots, &n);
    if (rv != CKR_OK) {
        return p11_fail("C_GetSlotList", rv);
    }
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO info;
        if (mod->f->C_GetTokenInfo(slots[i], &info) != CKR_OK ||
            !(info.flags & CKF_TOKEN_INITIALIZED) || !p11_kit_uri_match_token_info(uri, &info)) {
            continue;
        }
        if (free_slot == NULL) {
            keyward_set_error("too many PKCS#11 tokens in use");
            return PSA_ERROR_INSUFFICIENT_MEMORY;
        }
        free_slot->slot = slots[i];
        free_slot->info = info;
        free_slot->open = 0;
        free_slot->mod = mod;
        status = p11_session_open(free_slot, u);
        if (status != PSA_SUCCESS) {
            free_slot->mod = NULL; /* keep only tokens we could open */
            return status;
        }
        *out = free_slot;
        return PSA_SUCCESS;
    }
    keyward_set_error("no PKCS#11 token matches the URI");
    return PSA_ERROR_DOES_NOT_EXIST;
}

/* For the certificate side (pkcs11_cert.c): fn on the logged-in session of
 * the token the URI names, with the lock held; once more on a fresh session
 * if the first one was lost.  The URI is parsed here, not by p11_uri_parse:
 * certificates are named with type=cert. */
psa_status_t keyward_pkcs11_with_session(const char *uri_text, keyward_pkcs11_session_fn fn,
                                         void *arg)
{
    psa_status_t status = PSA_ERROR_CORRUPTION_DETECTED;
    parsed_uri_t u = {NULL, {0}};
    token_t *tok = NULL;
    CK_RV rv = CKR_OK;
    int r;

    if (strlen(uri_text) > KEYWARD_REF_MAX) {
        keyward_set_error("PKCS#11 URI too long");
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    strcpy(u.text, uri_text);
    u.uri = p11_kit_uri_new();
    if (u.uri == NULL) {
        return PSA_ERROR_INSUFFICIENT_MEMORY;
    }
    r = p11_kit_uri_parse(u.text, P11_KIT_URI_FOR_ANY, u.uri);
    if (r != P11_KIT_URI_OK) {
        keyward_set_error("bad PKCS#11 URI: %s", p11_kit_uri_message(r));
        p11_uri_free(&u);
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    pthread_mutex_lock(&p11_lock);
    status = p11_token_get(&u, &tok);
    for (int attempt = 0; status == PSA_SUCCESS && attempt < 2; attempt++) {
        rv = CKR_OK;
        status = fn(tok->mod->f, tok->session, u.uri, arg, &rv);
        if (status == PSA_SUCCESS || !p11_session_lost(rv) || attempt > 0) {
            break;
        }
        status = p11_session_open(tok, &u);
    }
    pthread_mutex_unlock(&p11_lock);
    p11_uri_free(&u);
    return status;
}

void p11_tokens_close(void)
{
    for (size_t i = 0; i < MAX_TOKENS; i++) {
        if (tokens[i].mod != NULL && tokens[i].open) {
            tokens[i].mod->f->C_Logout(tokens[i].session);
            tokens[i].mod->f->C_CloseSession(tokens[i].session);
        }
    }
    mbedtls_platform_zeroize(tokens, sizeof(tokens));
}

void p11_modules_unload(void)
{
    for (size_t i = 0; i < MAX_MODULES; i++) {
        if (modules[i].f != NULL) {
            modules[i].f->C_Finalize(NULL);
            dlclose(modules[i].dl);
        }
    }
    memset(modules, 0, sizeof(modules));
}
