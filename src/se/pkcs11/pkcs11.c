/*
 * PKCS#11 backend: any module (dlopen by path), keys named by RFC 7512 URIs
 * parsed and matched with p11-kit.  The ref stored in key buffers is the
 * URI text without pin-value: the PIN is kept in process memory
 * (keyward_secret_put) and resolved at login from there, pin-source or
 * $KEYWARD_PKCS11_PIN.
 *
 * One session per token, opened and logged in once, reused by every
 * operation; it is re-opened transparently when the token says the session
 * is gone (CKR_SESSION_HANDLE_INVALID, CKR_SESSION_CLOSED,
 * CKR_USER_NOT_LOGGED_IN, CKR_DEVICE_REMOVED).  A PKCS#11 session may run one
 * operation at a time, so all token work is serialised by one mutex.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>
#include <p11-kit/p11-kit.h>
#include <p11-kit/uri.h>

#include "core/der.h"
#include "keyward/port/backend.h"
#include "keyward/port/locations.h"
#include "mbedtls/asn1.h"
#include "mbedtls/platform_util.h"
#include "pkcs11_internal.h"

#define MAX_MODULES 4
#define MAX_TOKENS 8
#define MAX_KEYS 32
#define PIN_MAX 256

typedef struct {
    char path[512];
    void *dl;
    CK_FUNCTION_LIST_PTR f;
} module_t;

typedef struct {
    module_t *mod;
    CK_SLOT_ID slot;
    CK_TOKEN_INFO info;
    CK_SESSION_HANDLE session;
    int open;
} token_t;

typedef struct {
    char *ref; /* NUL-terminated copy of the URI */
    token_t *tok;
    CK_OBJECT_HANDLE priv;
    psa_key_type_t type;
    size_t bits;
    uint8_t pub[PSA_EXPORT_PUBLIC_KEY_MAX_SIZE];
    size_t pub_len;
} key_t_;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static module_t modules[MAX_MODULES];
static token_t tokens[MAX_TOKENS];
static key_t_ keys[MAX_KEYS];
static size_t next_key_victim;

psa_status_t keyward_pkcs11_status(CK_RV rv)
{
    switch (rv) {
    case CKR_OK:
        return PSA_SUCCESS;
    case CKR_HOST_MEMORY:
    case CKR_DEVICE_MEMORY:
        return PSA_ERROR_INSUFFICIENT_MEMORY;
    case CKR_SLOT_ID_INVALID:
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_TOKEN_NOT_RECOGNIZED:
    case CKR_DEVICE_REMOVED:
        return PSA_ERROR_COMMUNICATION_FAILURE;
    case CKR_GENERAL_ERROR:
    case CKR_FUNCTION_FAILED:
    case CKR_DEVICE_ERROR:
        return PSA_ERROR_HARDWARE_FAILURE;
    case CKR_PIN_INCORRECT:
    case CKR_PIN_INVALID:
    case CKR_PIN_LEN_RANGE:
    case CKR_PIN_EXPIRED:
    case CKR_PIN_LOCKED:
    case CKR_USER_NOT_LOGGED_IN:
    case CKR_USER_PIN_NOT_INITIALIZED:
    case CKR_KEY_FUNCTION_NOT_PERMITTED:
    case CKR_ATTRIBUTE_SENSITIVE:
    case CKR_KEY_UNEXTRACTABLE:
    case CKR_TOKEN_WRITE_PROTECTED:
    case CKR_ACTION_PROHIBITED:
        return PSA_ERROR_NOT_PERMITTED;
    case CKR_MECHANISM_INVALID:
    case CKR_MECHANISM_PARAM_INVALID:
    case CKR_FUNCTION_NOT_SUPPORTED:
    case CKR_KEY_SIZE_RANGE:
    case CKR_CURVE_NOT_SUPPORTED:
    case CKR_DOMAIN_PARAMS_INVALID:
        return PSA_ERROR_NOT_SUPPORTED;
    case CKR_BUFFER_TOO_SMALL:
        return PSA_ERROR_BUFFER_TOO_SMALL;
    case CKR_ARGUMENTS_BAD:
    case CKR_DATA_INVALID:
    case CKR_DATA_LEN_RANGE:
    case CKR_ATTRIBUTE_TYPE_INVALID:
    case CKR_ATTRIBUTE_VALUE_INVALID:
    case CKR_TEMPLATE_INCOMPLETE:
    case CKR_TEMPLATE_INCONSISTENT:
    case CKR_KEY_TYPE_INCONSISTENT:
    case CKR_KEY_NOT_NEEDED:
        return PSA_ERROR_INVALID_ARGUMENT;
    case CKR_OBJECT_HANDLE_INVALID:
    case CKR_KEY_HANDLE_INVALID:
        return PSA_ERROR_DOES_NOT_EXIST;
    case CKR_SIGNATURE_INVALID:
    case CKR_SIGNATURE_LEN_RANGE:
        return PSA_ERROR_INVALID_SIGNATURE;
    case CKR_RANDOM_NO_RNG:
    case CKR_RANDOM_SEED_NOT_SUPPORTED:
        return PSA_ERROR_INSUFFICIENT_ENTROPY;
    case CKR_SESSION_CLOSED:
    case CKR_SESSION_HANDLE_INVALID:
    case CKR_SESSION_COUNT:
    case CKR_SESSION_READ_ONLY:
    case CKR_OPERATION_ACTIVE:
    case CKR_OPERATION_NOT_INITIALIZED:
    case CKR_CRYPTOKI_NOT_INITIALIZED:
    case CKR_USER_TYPE_INVALID:
    case CKR_USER_ANOTHER_ALREADY_LOGGED_IN:
        return PSA_ERROR_BAD_STATE;
    case CKR_CANCEL:
    case CKR_FUNCTION_CANCELED:
        return PSA_ERROR_COMMUNICATION_FAILURE;
    default:
        /* vendor-defined or newer codes: we cannot tell more */
        return PSA_ERROR_HARDWARE_FAILURE;
    }
}

static psa_status_t fail(const char *what, CK_RV rv)
{
    keyward_set_error("%s: %s (CKR 0x%lx)", what, p11_kit_strerror(rv), (unsigned long)rv);
    return keyward_pkcs11_status(rv);
}

static int session_lost(CK_RV rv)
{
    return rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED ||
           rv == CKR_USER_NOT_LOGGED_IN || rv == CKR_DEVICE_REMOVED;
}

/* ---- URIs ---------------------------------------------------------------- */

typedef struct {
    P11KitUri *uri;
    char text[KEYWARD_REF_MAX + 1];
} parsed_uri_t;

static void uri_free(parsed_uri_t *u)
{
    if (u->uri != NULL) {
        /* p11-kit frees its copy of pin-value without wiping it. */
        char *pv = (char *)p11_kit_uri_get_pin_value(u->uri);
        if (pv != NULL) {
            mbedtls_platform_zeroize(pv, strlen(pv));
        }
        p11_kit_uri_free(u->uri);
        u->uri = NULL;
    }
    mbedtls_platform_zeroize(u->text, sizeof(u->text)); /* may hold pin-value */
}

/* RFC 7512 lets no attribute appear twice, and p11-kit silently keeps the
 * last one ("pin-value=0000&pin-value=1234" would log in with 1234).  Names
 * are compared as written, path and query together. */
static psa_status_t uri_check_duplicates(const char *text)
{
    const char *p = strchr(text, ':');
    const char *names[64];
    size_t lens[64], count = 0;

    p = p != NULL ? p + 1 : text;
    while (*p != '\0') {
        size_t n = strcspn(p, ";&?");
        const char *eq = memchr(p, '=', n);
        size_t name_len = eq != NULL ? (size_t)(eq - p) : n;

        if (name_len > 0) {
            for (size_t i = 0; i < count; i++) {
                if (lens[i] == name_len && memcmp(names[i], p, name_len) == 0) {
                    keyward_set_error("PKCS#11 URI: attribute '%.*s' appears twice (RFC 7512)",
                                      (int)name_len, p);
                    return PSA_ERROR_INVALID_ARGUMENT;
                }
            }
            if (count == sizeof(names) / sizeof(names[0])) {
                keyward_set_error("PKCS#11 URI with too many attributes");
                return PSA_ERROR_INVALID_ARGUMENT;
            }
            names[count] = p;
            lens[count++] = name_len;
        }
        p += n;
        if (*p != '\0') {
            p++;
        }
    }
    return PSA_SUCCESS;
}

/* keyward names private keys: type= may only say so. */
static psa_status_t uri_check_type(P11KitUri *uri)
{
    CK_ATTRIBUTE *cls = p11_kit_uri_get_attribute(uri, CKA_CLASS);
    CK_OBJECT_CLASS v = 0;

    if (cls == NULL) {
        return PSA_SUCCESS;
    }
    if (cls->ulValueLen == sizeof(v)) {
        memcpy(&v, cls->pValue, sizeof(v));
    }
    if (cls->ulValueLen != sizeof(v) || v != CKO_PRIVATE_KEY) {
        keyward_set_error("PKCS#11 URI: a key is named with type=private (or no type=); "
                          "other types are not supported");
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    return PSA_SUCCESS;
}

static psa_status_t uri_parse(const uint8_t *ref, size_t ref_len, parsed_uri_t *u)
{
    int r;
    psa_status_t status;

    u->uri = NULL;
    if (ref_len == 0 || ref_len > KEYWARD_REF_MAX || memchr(ref, 0, ref_len) != NULL) {
        keyward_set_error("PKCS#11 URI is empty, too long or contains NUL");
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    memcpy(u->text, ref, ref_len);
    u->text[ref_len] = '\0';
    u->uri = p11_kit_uri_new();
    if (u->uri == NULL) {
        return PSA_ERROR_INSUFFICIENT_MEMORY;
    }
    r = p11_kit_uri_parse(u->text, P11_KIT_URI_FOR_ANY, u->uri);
    if (r != P11_KIT_URI_OK) {
        keyward_set_error("bad PKCS#11 URI: %s", p11_kit_uri_message(r));
        uri_free(u);
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    status = uri_check_duplicates(u->text);
    if (status == PSA_SUCCESS) {
        status = uri_check_type(u->uri);
    }
    if (status != PSA_SUCCESS) {
        uri_free(u);
    }
    return status;
}

/* ---- modules, tokens, sessions ---------------------------------------- */

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
        return fail("C_Initialize", rv);
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
        return errno == ENOENT ? PSA_ERROR_DOES_NOT_EXIST
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

static psa_status_t session_open(token_t *tok, const parsed_uri_t *u)
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
        return fail("C_OpenSession", rv);
    }
    tok->open = 1;
    if (!(tok->info.flags & CKF_LOGIN_REQUIRED)) {
        return PSA_SUCCESS;
    }
    status = get_pin(u, pin, sizeof(pin));
    if (status == PSA_SUCCESS) {
        rv = tok->mod->f->C_Login(tok->session, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin));
        if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
            status = fail("C_Login", rv);
        }
    }
    mbedtls_platform_zeroize(pin, sizeof(pin));
    if (status != PSA_SUCCESS) {
        tok->mod->f->C_CloseSession(tok->session);
        tok->open = 0;
    }
    return status;
}

static psa_status_t token_get(const parsed_uri_t *u, token_t **out)
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
            return tokens[i].open ? PSA_SUCCESS : session_open(&tokens[i], u);
        }
        if (tokens[i].mod == NULL && free_slot == NULL) {
            free_slot = &tokens[i];
        }
    }
    rv = mod->f->C_GetSlotList(CK_TRUE, slots, &n);
    if (rv != CKR_OK) {
        return fail("C_GetSlotList", rv);
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
        status = session_open(free_slot, u);
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
 * if the first one was lost.  The URI is parsed here, not by uri_parse:
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
        uri_free(&u);
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    pthread_mutex_lock(&lock);
    status = token_get(&u, &tok);
    for (int attempt = 0; status == PSA_SUCCESS && attempt < 2; attempt++) {
        rv = CKR_OK;
        status = fn(tok->mod->f, tok->session, u.uri, arg, &rv);
        if (status == PSA_SUCCESS || !session_lost(rv) || attempt > 0) {
            break;
        }
        status = session_open(tok, &u);
    }
    pthread_mutex_unlock(&lock);
    uri_free(&u);
    return status;
}

/* ---- objects ------------------------------------------------------------ */

static psa_status_t get_attr(token_t *tok, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE t, uint8_t *buf,
                             size_t size, size_t *len)
{
    CK_ATTRIBUTE a = {t, buf, (CK_ULONG)size};
    CK_RV rv = tok->mod->f->C_GetAttributeValue(tok->session, obj, &a, 1);
    if (rv != CKR_OK) {
        return fail("C_GetAttributeValue", rv);
    }
    *len = a.ulValueLen;
    return PSA_SUCCESS;
}

static psa_status_t find_object(token_t *tok, P11KitUri *uri, CK_OBJECT_CLASS cls,
                                CK_OBJECT_HANDLE *obj)
{
    CK_ATTRIBUTE tmpl[3];
    CK_ULONG n = 0, found = 0;
    CK_OBJECT_HANDLE h[2];
    CK_ATTRIBUTE *label = p11_kit_uri_get_attribute(uri, CKA_LABEL);
    CK_ATTRIBUTE *id = p11_kit_uri_get_attribute(uri, CKA_ID);
    CK_RV rv;

    tmpl[n].type = CKA_CLASS;
    tmpl[n].pValue = &cls;
    tmpl[n++].ulValueLen = sizeof(cls);
    if (label != NULL) {
        tmpl[n++] = *label;
    }
    if (id != NULL) {
        tmpl[n++] = *id;
    }
    if (label == NULL && id == NULL) {
        keyward_set_error("PKCS#11 URI names no object (object= or id=)");
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    rv = tok->mod->f->C_FindObjectsInit(tok->session, tmpl, n);
    if (rv != CKR_OK) {
        return fail("C_FindObjectsInit", rv);
    }
    rv = tok->mod->f->C_FindObjects(tok->session, h, 2, &found);
    tok->mod->f->C_FindObjectsFinal(tok->session);
    if (rv != CKR_OK) {
        return fail("C_FindObjects", rv);
    }
    if (found == 0) {
        keyward_set_error("no PKCS#11 %s key matches the URI",
                          cls == CKO_PRIVATE_KEY ? "private" : "public");
        return PSA_ERROR_DOES_NOT_EXIST;
    }
    if (found > 1) {
        keyward_set_error("the PKCS#11 URI matches more than one key");
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    *obj = h[0];
    return PSA_SUCCESS;
}

static const struct {
    const char *oid;
    size_t oid_len;
    size_t bits;
} curves[] = {
    {KEYWARD_OID_SECP256R1, sizeof(KEYWARD_OID_SECP256R1) - 1, 256},
    {KEYWARD_OID_SECP384R1, sizeof(KEYWARD_OID_SECP384R1) - 1, 384},
    {KEYWARD_OID_SECP521R1, sizeof(KEYWARD_OID_SECP521R1) - 1, 521},
};

/* CKA_EC_PARAMS (DER OID of a named curve) -> bits of a secp-r1 curve. */
static psa_status_t curve_bits(const uint8_t *params, size_t len, size_t *bits)
{
    unsigned char *p = (unsigned char *)params;
    size_t oid_len = 0;

    if (mbedtls_asn1_get_tag(&p, params + len, &oid_len, MBEDTLS_ASN1_OID) != 0 ||
        p + oid_len != params + len) {
        keyward_set_error("CKA_EC_PARAMS is not a named-curve OID");
        return PSA_ERROR_NOT_SUPPORTED;
    }
    for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
        if (curves[i].oid_len == oid_len && memcmp(curves[i].oid, p, oid_len) == 0) {
            *bits = curves[i].bits;
            return PSA_SUCCESS;
        }
    }
    keyward_set_error("the key's curve is not P-256, P-384 or P-521");
    return PSA_ERROR_NOT_SUPPORTED;
}

static psa_status_t load_public(key_t_ *k, P11KitUri *uri, CK_KEY_TYPE kt)
{
    token_t *tok = k->tok;
    uint8_t buf[1100], e[16];
    size_t len = 0, e_len = 0;
    CK_OBJECT_HANDLE pub;
    psa_status_t status;

    if (kt == CKK_RSA) {
        status = get_attr(tok, k->priv, CKA_MODULUS, buf, sizeof(buf), &len);
        if (status == PSA_SUCCESS) {
            status = get_attr(tok, k->priv, CKA_PUBLIC_EXPONENT, e, sizeof(e), &e_len);
        }
        if (status != PSA_SUCCESS) {
            return status;
        }
        k->bits = keyward_bitlen(buf, len);
        return keyward_der_rsa_public(buf, len, e, e_len, k->pub, sizeof(k->pub), &k->pub_len);
    }
    /* EC: the point is on the public-key object (CKA_EC_POINT), DER OCTET
     * STRING-wrapped by most modules, raw by some. */
    status = find_object(tok, uri, CKO_PUBLIC_KEY, &pub);
    if (status == PSA_SUCCESS) {
        status = get_attr(tok, pub, CKA_EC_POINT, buf, sizeof(buf), &len);
    }
    if (status != PSA_SUCCESS) {
        keyward_set_error("no public-key object with CKA_EC_POINT for this EC key");
        return status;
    }
    {
        size_t coord = PSA_BITS_TO_BYTES(k->bits);
        unsigned char *p = buf;
        size_t olen = 0;
        if (len == 1 + 2 * coord && buf[0] == 0x04) {
            p = buf;
            olen = len;
        } else if (mbedtls_asn1_get_tag(&p, buf + len, &olen, MBEDTLS_ASN1_OCTET_STRING) != 0 ||
                   p + olen != buf + len) {
            keyward_set_error("malformed CKA_EC_POINT");
            return PSA_ERROR_DATA_INVALID;
        }
        if (olen != 1 + 2 * coord || p[0] != 0x04) {
            keyward_set_error("CKA_EC_POINT is not an uncompressed point of the key's curve");
            return PSA_ERROR_DATA_INVALID;
        }
        memcpy(k->pub, p, olen);
        k->pub_len = olen;
    }
    return PSA_SUCCESS;
}

/* Resolves ref to a cached key: token session, private handle, type, bits,
 * public key.  Called with the lock held. */
static psa_status_t key_get(const uint8_t *ref, size_t ref_len, int force, key_t_ **out)
{
    parsed_uri_t u;
    key_t_ *k = NULL;
    psa_status_t status;
    uint8_t params[64];
    size_t len = 0;
    CK_KEY_TYPE kt = 0;

    for (size_t i = 0; i < MAX_KEYS; i++) {
        if (keys[i].ref != NULL && strlen(keys[i].ref) == ref_len &&
            memcmp(keys[i].ref, ref, ref_len) == 0) {
            k = &keys[i];
            if (!force && k->tok->open) {
                *out = k;
                return PSA_SUCCESS;
            }
            break;
        }
    }
    status = uri_parse(ref, ref_len, &u);
    if (status != PSA_SUCCESS) {
        return status;
    }
    if (k == NULL) {
        for (size_t i = 0; i < MAX_KEYS && k == NULL; i++) {
            if (keys[i].ref == NULL) {
                k = &keys[i];
            }
        }
        if (k == NULL) {
            k = &keys[next_key_victim];
            next_key_victim = (next_key_victim + 1) % MAX_KEYS;
        }
        if (k->ref != NULL) {
            mbedtls_platform_zeroize(k->ref, strlen(k->ref));
            free(k->ref);
        }
        memset(k, 0, sizeof(*k));
        k->ref = strdup(u.text);
        if (k->ref == NULL) {
            status = PSA_ERROR_INSUFFICIENT_MEMORY;
            goto exit;
        }
    }
    if (p11_kit_uri_get_attribute(u.uri, CKA_LABEL) == NULL &&
        p11_kit_uri_get_attribute(u.uri, CKA_ID) == NULL) {
        keyward_set_error("PKCS#11 URI names no object (object= or id=)");
        status = PSA_ERROR_INVALID_ARGUMENT;
        goto exit;
    }
    status = token_get(&u, &k->tok);
    if (status == PSA_SUCCESS && force) {
        status = session_open(k->tok, &u);
    }
    if (status == PSA_SUCCESS) {
        status = find_object(k->tok, u.uri, CKO_PRIVATE_KEY, &k->priv);
    }
    if (status == PSA_SUCCESS) {
        status = get_attr(k->tok, k->priv, CKA_KEY_TYPE, (uint8_t *)&kt, sizeof(kt), &len);
    }
    if (status != PSA_SUCCESS) {
        goto exit;
    }
    if (kt == CKK_EC) {
        k->type = PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1);
        status = get_attr(k->tok, k->priv, CKA_EC_PARAMS, params, sizeof(params), &len);
        if (status == PSA_SUCCESS) {
            status = curve_bits(params, len, &k->bits);
        }
    } else if (kt == CKK_RSA) {
        k->type = PSA_KEY_TYPE_RSA_KEY_PAIR;
    } else {
        keyward_set_error("PKCS#11 key type 0x%lx is neither EC nor RSA", (unsigned long)kt);
        status = PSA_ERROR_NOT_SUPPORTED;
    }
    if (status == PSA_SUCCESS) {
        status = load_public(k, u.uri, kt);
    }
exit:
    if (status != PSA_SUCCESS && k != NULL) {
        if (k->ref != NULL) {
            mbedtls_platform_zeroize(k->ref, strlen(k->ref));
            free(k->ref);
        }
        memset(k, 0, sizeof(*k));
    } else if (status == PSA_SUCCESS) {
        *out = k;
    }
    uri_free(&u);
    return status;
}

/* ---- backend operations -------------------------------------------------- */

static psa_status_t p11_describe(const uint8_t *ref, size_t ref_len, psa_key_type_t *type,
                                 size_t *bits)
{
    key_t_ *k = NULL;
    psa_status_t status;

    pthread_mutex_lock(&lock);
    status = key_get(ref, ref_len, 0, &k);
    if (status == PSA_SUCCESS) {
        *type = k->type;
        *bits = k->bits;
    }
    pthread_mutex_unlock(&lock);
    return status;
}

static psa_status_t p11_export_public(const uint8_t *ref, size_t ref_len, psa_key_type_t type,
                                      size_t bits, uint8_t *out, size_t out_size, size_t *out_len)
{
    key_t_ *k = NULL;
    psa_status_t status;

    pthread_mutex_lock(&lock);
    status = key_get(ref, ref_len, 0, &k);
    if (status == PSA_SUCCESS && (k->type != type || k->bits != bits)) {
        keyward_set_error("the PKCS#11 object changed type or size since import");
        status = PSA_ERROR_DATA_INVALID;
    }
    if (status == PSA_SUCCESS) {
        if (out_size < k->pub_len) {
            status = PSA_ERROR_BUFFER_TOO_SMALL;
        } else {
            memcpy(out, k->pub, k->pub_len);
            *out_len = k->pub_len;
        }
    }
    pthread_mutex_unlock(&lock);
    return status;
}

static CK_MECHANISM_TYPE hash_mech(psa_algorithm_t h, CK_RSA_PKCS_MGF_TYPE *mgf)
{
    switch (h) {
    case PSA_ALG_SHA_1: *mgf = CKG_MGF1_SHA1; return CKM_SHA_1;
    case PSA_ALG_SHA_224: *mgf = CKG_MGF1_SHA224; return CKM_SHA224;
    case PSA_ALG_SHA_256: *mgf = CKG_MGF1_SHA256; return CKM_SHA256;
    case PSA_ALG_SHA_384: *mgf = CKG_MGF1_SHA384; return CKM_SHA384;
    case PSA_ALG_SHA_512: *mgf = CKG_MGF1_SHA512; return CKM_SHA512;
    default: return (CK_MECHANISM_TYPE)-1;
    }
}

static psa_status_t p11_sign_hash(const uint8_t *ref, size_t ref_len, psa_key_type_t type,
                                  size_t bits, psa_algorithm_t alg, const uint8_t *hash,
                                  size_t hash_len, uint8_t *sig, size_t sig_size, size_t *sig_len)
{
    psa_status_t status = PSA_ERROR_CORRUPTION_DETECTED;
    CK_MECHANISM mech = {0, NULL, 0};
    CK_RSA_PKCS_PSS_PARAMS pss;
    uint8_t input[128];
    size_t in_len = 0;
    key_t_ *k = NULL;
    CK_ULONG out_len;
    CK_RV rv = CKR_OK;
    psa_algorithm_t h = PSA_ALG_SIGN_GET_HASH(alg);

    if (PSA_KEY_TYPE_IS_ECC(type) && PSA_ALG_IS_RANDOMIZED_ECDSA(alg)) {
        mech.mechanism = CKM_ECDSA;
        if (hash_len > sizeof(input)) {
            return PSA_ERROR_INVALID_ARGUMENT;
        }
        memcpy(input, hash, hash_len);
        in_len = hash_len;
    } else if (PSA_KEY_TYPE_IS_RSA(type) && alg == PSA_ALG_RSA_PKCS1V15_SIGN_RAW) {
        mech.mechanism = CKM_RSA_PKCS;
        if (hash_len > sizeof(input)) {
            return PSA_ERROR_INVALID_ARGUMENT;
        }
        memcpy(input, hash, hash_len);
        in_len = hash_len;
    } else if (PSA_KEY_TYPE_IS_RSA(type) && PSA_ALG_IS_RSA_PKCS1V15_SIGN(alg)) {
        mech.mechanism = CKM_RSA_PKCS;
        status = keyward_der_digest_info(h, hash, hash_len, input, sizeof(input), &in_len);
        if (status != PSA_SUCCESS) {
            return status;
        }
    } else if (PSA_KEY_TYPE_IS_RSA(type) && PSA_ALG_IS_RSA_PSS(alg)) {
        pss.hashAlg = hash_mech(h, &pss.mgf);
        if (pss.hashAlg == (CK_MECHANISM_TYPE)-1) {
            return PSA_ERROR_NOT_SUPPORTED;
        }
        if (hash_len != PSA_HASH_LENGTH(h) || hash_len > sizeof(input)) {
            return PSA_ERROR_INVALID_ARGUMENT;
        }
        pss.sLen = hash_len; /* what PSA and TLS 1.3 require */
        mech.mechanism = CKM_RSA_PKCS_PSS;
        mech.pParameter = &pss;
        mech.ulParameterLen = sizeof(pss);
        memcpy(input, hash, hash_len);
        in_len = hash_len;
    } else {
        keyward_set_error("PKCS#11 backend: algorithm 0x%08x not supported for this key",
                          (unsigned)alg);
        return PSA_ERROR_NOT_SUPPORTED;
    }

    pthread_mutex_lock(&lock);
    for (int attempt = 0; attempt < 2; attempt++) {
        status = key_get(ref, ref_len, attempt > 0, &k);
        if (status != PSA_SUCCESS) {
            break;
        }
        if (k->type != type || k->bits != bits) {
            status = PSA_ERROR_DATA_INVALID;
            break;
        }
        out_len = (CK_ULONG)sig_size;
        rv = k->tok->mod->f->C_SignInit(k->tok->session, &mech, k->priv);
        if (rv == CKR_OK) {
            rv = k->tok->mod->f->C_Sign(k->tok->session, input, in_len, sig, &out_len);
        }
        if (rv == CKR_OK) {
            *sig_len = out_len;
            status = PSA_SUCCESS;
            break;
        }
        status = fail("C_Sign", rv);
        /* A lost session or a stale handle is worth exactly one retry. */
        if (!session_lost(rv) && rv != CKR_OBJECT_HANDLE_INVALID && rv != CKR_KEY_HANDLE_INVALID) {
            break;
        }
    }
    pthread_mutex_unlock(&lock);
    mbedtls_platform_zeroize(input, sizeof(input));
    return status;
}

/* ---- generation ---------------------------------------------------------- */

/* Keeps the URI's pin-value, if any, in process memory for ref. */
static psa_status_t keep_pin(const parsed_uri_t *u, const uint8_t *ref, size_t ref_len)
{
    const char *pin = p11_kit_uri_get_pin_value(u->uri);

    if (pin == NULL) {
        return PSA_SUCCESS;
    }
    return keyward_secret_put(ref, ref_len, "pin-value", (const uint8_t *)pin, strlen(pin));
}

/* The target URI with ";id=%xx..." inserted before any query. */
static psa_status_t ref_with_id(const char *target, const uint8_t *id, size_t id_len,
                                uint8_t *ref, size_t ref_size, size_t *ref_len)
{
    const char *q = strchr(target, '?');
    size_t path_len = q ? (size_t)(q - target) : strlen(target);
    size_t need = strlen(target) + 4 + 3 * id_len;
    char *o = (char *)ref;

    if (need > ref_size) {
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    memcpy(o, target, path_len);
    o += path_len;
    memcpy(o, ";id=", 4);
    o += 4;
    for (size_t i = 0; i < id_len; i++) {
        static const char hex[] = "0123456789abcdef";
        *o++ = '%';
        *o++ = hex[id[i] >> 4];
        *o++ = hex[id[i] & 15];
    }
    if (q != NULL) {
        memcpy(o, q, strlen(q));
        o += strlen(q);
    }
    *ref_len = (size_t)(o - (char *)ref);
    return PSA_SUCCESS;
}

static psa_status_t p11_generate(const char *target, psa_key_type_t type, size_t bits,
                                 uint8_t *ref, size_t ref_size, size_t *ref_len)
{
    psa_status_t status = PSA_ERROR_CORRUPTION_DETECTED;
    parsed_uri_t u;
    token_t *tok = NULL;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ULONG mod_bits = bits;
    uint8_t e[] = {0x01, 0x00, 0x01};
    uint8_t id_buf[8];
    CK_ATTRIBUTE *label, *id;
    CK_ATTRIBUTE pub_t[12], priv_t[14];
    char clean[KEYWARD_REF_MAX + 1];
    size_t clean_len = 0;
    CK_ULONG np = 0, nv = 0;
    CK_MECHANISM mech = {0, NULL, 0};
    CK_OBJECT_HANDLE hpub, hpriv, existing;
    const char *curve_oid = NULL;
    size_t curve_len = 0;
    int have_id;
    CK_RV rv;

    status = uri_parse((const uint8_t *)target, strlen(target), &u);
    if (status != PSA_SUCCESS) {
        return status;
    }
    label = p11_kit_uri_get_attribute(u.uri, CKA_LABEL);
    id = p11_kit_uri_get_attribute(u.uri, CKA_ID);
    if (label == NULL) {
        keyward_set_error("key generation needs object=LABEL in the PKCS#11 URI");
        status = PSA_ERROR_INVALID_ARGUMENT;
        goto exit;
    }
    if (type == PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1)) {
        for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
            if (curves[i].bits == bits) {
                curve_oid = curves[i].oid;
                curve_len = curves[i].oid_len;
            }
        }
        if (curve_oid == NULL) {
            status = PSA_ERROR_NOT_SUPPORTED;
            goto exit;
        }
    } else if (type != PSA_KEY_TYPE_RSA_KEY_PAIR || bits < 2048 || bits > 4096 || bits % 8 != 0) {
        status = PSA_ERROR_NOT_SUPPORTED;
        goto exit;
    }

    pthread_mutex_lock(&lock);
    status = token_get(&u, &tok);
    if (status != PSA_SUCCESS) {
        goto unlock;
    }
    status = find_object(tok, u.uri, CKO_PRIVATE_KEY, &existing);
    if (status == PSA_SUCCESS) {
        keyward_set_error("a private key with this label/id already exists on the token");
        status = PSA_ERROR_ALREADY_EXISTS;
        goto unlock;
    }
    if (status != PSA_ERROR_DOES_NOT_EXIST) {
        goto unlock;
    }
    have_id = id != NULL && id->ulValueLen > 0;
    if (!have_id) {
        status = psa_generate_random(id_buf, sizeof(id_buf));
        if (status != PSA_SUCCESS) {
            goto unlock;
        }
    }
    {
        CK_ATTRIBUTE id_attr = have_id ? *id : (CK_ATTRIBUTE){CKA_ID, id_buf, sizeof(id_buf)};
        uint8_t ec_params[16];
        pub_t[np++] = (CK_ATTRIBUTE){CKA_TOKEN, &yes, sizeof(yes)};
        pub_t[np++] = (CK_ATTRIBUTE){CKA_VERIFY, &yes, sizeof(yes)};
        /* Sign-only (verify-only) keys: left to the token, SoftHSM2 and
         * tpm2-pkcs11 allow encrypt/wrap and decrypt/unwrap, so a TLS
         * client key would also serve as a decryption oracle. */
        pub_t[np++] = (CK_ATTRIBUTE){CKA_ENCRYPT, &no, sizeof(no)};
        pub_t[np++] = (CK_ATTRIBUTE){CKA_WRAP, &no, sizeof(no)};
        pub_t[np++] = (CK_ATTRIBUTE){CKA_DERIVE, &no, sizeof(no)};
        pub_t[np++] = *label;
        pub_t[np++] = id_attr;
        priv_t[nv++] = (CK_ATTRIBUTE){CKA_TOKEN, &yes, sizeof(yes)};
        priv_t[nv++] = (CK_ATTRIBUTE){CKA_PRIVATE, &yes, sizeof(yes)};
        priv_t[nv++] = (CK_ATTRIBUTE){CKA_SIGN, &yes, sizeof(yes)};
        priv_t[nv++] = (CK_ATTRIBUTE){CKA_SENSITIVE, &yes, sizeof(yes)};
        priv_t[nv++] = (CK_ATTRIBUTE){CKA_EXTRACTABLE, &no, sizeof(no)};
        priv_t[nv++] = (CK_ATTRIBUTE){CKA_DECRYPT, &no, sizeof(no)};
        priv_t[nv++] = (CK_ATTRIBUTE){CKA_UNWRAP, &no, sizeof(no)};
        priv_t[nv++] = (CK_ATTRIBUTE){CKA_DERIVE, &no, sizeof(no)};
        priv_t[nv++] = *label;
        priv_t[nv++] = id_attr;
        if (curve_oid != NULL) {
            ec_params[0] = MBEDTLS_ASN1_OID;
            ec_params[1] = (uint8_t)curve_len;
            memcpy(ec_params + 2, curve_oid, curve_len);
            pub_t[np++] = (CK_ATTRIBUTE){CKA_EC_PARAMS, ec_params, curve_len + 2};
            mech.mechanism = CKM_EC_KEY_PAIR_GEN;
        } else {
            pub_t[np++] = (CK_ATTRIBUTE){CKA_MODULUS_BITS, &mod_bits, sizeof(mod_bits)};
            pub_t[np++] = (CK_ATTRIBUTE){CKA_PUBLIC_EXPONENT, e, sizeof(e)};
            mech.mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
        }
        rv = tok->mod->f->C_GenerateKeyPair(tok->session, &mech, pub_t, np, priv_t, nv, &hpub,
                                            &hpriv);
        if (session_lost(rv)) {
            status = session_open(tok, &u);
            if (status != PSA_SUCCESS) {
                goto unlock;
            }
            rv = tok->mod->f->C_GenerateKeyPair(tok->session, &mech, pub_t, np, priv_t, nv, &hpub,
                                                &hpriv);
        }
        if (rv != CKR_OK) {
            status = fail("C_GenerateKeyPair", rv);
            goto unlock;
        }
        /* The new key's ref: the target without its PIN (kept in process
         * memory for this ref, as keyward_key_open does). */
        status = keyward_keyref_strip(u.text, clean, sizeof(clean), &clean_len);
        if (status == PSA_SUCCESS && have_id) {
            if (clean_len > ref_size) {
                status = PSA_ERROR_INVALID_ARGUMENT;
            } else {
                memcpy(ref, clean, clean_len);
                *ref_len = clean_len;
            }
        } else if (status == PSA_SUCCESS) {
            status = ref_with_id(clean, id_buf, sizeof(id_buf), ref, ref_size, ref_len);
        }
        if (status == PSA_SUCCESS) {
            status = keep_pin(&u, ref, *ref_len);
        }
    }
unlock:
    pthread_mutex_unlock(&lock);
exit:
    uri_free(&u);
    mbedtls_platform_zeroize(clean, sizeof(clean));
    return status;
}

/* KEYREF -> ref: the URI text without pin-value, whose value is kept in
 * process memory for the ref.  Parsing the whole URI first rejects
 * malformed ones, duplicates and type= other than private. */
static psa_status_t p11_ref_from_keyref(const char *keyref, uint8_t *ref, size_t ref_size,
                                        size_t *ref_len)
{
    psa_status_t status = PSA_ERROR_CORRUPTION_DETECTED;
    parsed_uri_t u;
    char clean[KEYWARD_REF_MAX + 1];
    size_t len = 0;

    status = uri_parse((const uint8_t *)keyref, strlen(keyref), &u);
    if (status != PSA_SUCCESS) {
        return status;
    }
    status = keyward_keyref_strip(keyref, clean, sizeof(clean), &len);
    if (status == PSA_SUCCESS && (len == 0 || len > ref_size)) {
        keyward_set_error("PKCS#11 URI longer than %u bytes", (unsigned)ref_size);
        status = PSA_ERROR_INVALID_ARGUMENT;
    }
    if (status == PSA_SUCCESS) {
        memcpy(ref, clean, len);
        *ref_len = len;
        status = keep_pin(&u, ref, len);
    }
    uri_free(&u);
    mbedtls_platform_zeroize(clean, sizeof(clean));
    return status;
}

/* keyward_deinit(): log out, close every session, finalize and unload the
 * modules, forget every cached key. */
static void p11_shutdown(void)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < MAX_TOKENS; i++) {
        if (tokens[i].mod != NULL && tokens[i].open) {
            tokens[i].mod->f->C_Logout(tokens[i].session);
            tokens[i].mod->f->C_CloseSession(tokens[i].session);
        }
    }
    mbedtls_platform_zeroize(tokens, sizeof(tokens));
    for (size_t i = 0; i < MAX_KEYS; i++) {
        if (keys[i].ref != NULL) {
            mbedtls_platform_zeroize(keys[i].ref, strlen(keys[i].ref));
            free(keys[i].ref);
        }
    }
    mbedtls_platform_zeroize(keys, sizeof(keys));
    next_key_victim = 0;
    for (size_t i = 0; i < MAX_MODULES; i++) {
        if (modules[i].f != NULL) {
            modules[i].f->C_Finalize(NULL);
            dlclose(modules[i].dl);
        }
    }
    memset(modules, 0, sizeof(modules));
    pthread_mutex_unlock(&lock);
}

const keyward_backend_t keyward_pkcs11_backend = {
    .scheme = "pkcs11",
    .id = 1,
    .location = KEYWARD_LOCATION_PKCS11,
    .ref_from_keyref = p11_ref_from_keyref,
    .describe = p11_describe,
    .sign_hash = p11_sign_hash,
    .export_public = p11_export_public,
    .generate = p11_generate,
    .shutdown = p11_shutdown,
    .cert_read = keyward_pkcs11_cert_read,
    .cert_write = keyward_pkcs11_cert_write,
};
