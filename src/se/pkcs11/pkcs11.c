/*
 * PKCS#11 backend: any module (dlopen by path), keys named by RFC 7512 URIs
 * parsed and matched with p11-kit.  The ref stored in key buffers is the
 * URI text without pin-value: the PIN is kept in process memory
 * (keyward_secret_put) and resolved at login from there, pin-source or
 * $KEYWARD_PKCS11_PIN.
 *
 * This file: KEYREF -> ref, shutdown, and the ops table.  The layers, each
 * file using only those below it:
 *   pkcs11_rv.c       CK_RV -> PSA status and message
 *   pkcs11_uri.c      URIs and their PIN                  (pkcs11_session.h)
 *   pkcs11_session.c  modules, tokens, sessions, login     (pkcs11_session.h)
 *   pkcs11_key.c      key objects, attributes, key cache   (pkcs11_key.h)
 *   pkcs11_sign.c     sign_hash                            (pkcs11_ops.h)
 *   pkcs11_keygen.c   generate                             (pkcs11_ops.h)
 *   pkcs11_cert.c     certificate objects                  (pkcs11_internal.h)
 */
#include <string.h>

#include "keyward/port/backend.h"
#include "keyward/port/locations.h"
#include "mbedtls/platform_util.h"
#include "pkcs11_key.h"
#include "pkcs11_ops.h"

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

    status = p11_uri_parse((const uint8_t *)keyref, strlen(keyref), &u);
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
        status = p11_keep_pin(&u, ref, len);
    }
    p11_uri_free(&u);
    mbedtls_platform_zeroize(clean, sizeof(clean));
    return status;
}

/* keyward_deinit(): log out, close every session, finalize and unload the
 * modules, forget every cached key. */
static void p11_shutdown(void)
{
    pthread_mutex_lock(&p11_lock);
    p11_tokens_close();
    p11_keys_forget();
    p11_modules_unload();
    pthread_mutex_unlock(&p11_lock);
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
