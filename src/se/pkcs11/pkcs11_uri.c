/*
 * PKCS#11 backend: RFC 7512 URIs naming keys, parsed with p11-kit and
 * checked beyond it (no attribute twice, type= only private), and the PIN
 * a URI carries (kept in process memory for the ref, never in it).
 */
#include <string.h>

#include <p11-kit/uri.h>

#include "mbedtls/platform_util.h"
#include "pkcs11_session.h"

void p11_uri_free(parsed_uri_t *u)
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

psa_status_t p11_uri_parse(const uint8_t *ref, size_t ref_len, parsed_uri_t *u)
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
        p11_uri_free(u);
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    status = uri_check_duplicates(u->text);
    if (status == PSA_SUCCESS) {
        status = uri_check_type(u->uri);
    }
    if (status != PSA_SUCCESS) {
        p11_uri_free(u);
    }
    return status;
}

/* Keeps the URI's pin-value, if any, in process memory for ref. */
psa_status_t p11_keep_pin(const parsed_uri_t *u, const uint8_t *ref, size_t ref_len)
{
    const char *pin = p11_kit_uri_get_pin_value(u->uri);

    if (pin == NULL) {
        return PSA_SUCCESS;
    }
    return keyward_secret_put(ref, ref_len, "pin-value", (const uint8_t *)pin, strlen(pin));
}
