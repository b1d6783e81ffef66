/*
 * PKCS#11 backend: certificate objects (CKO_CERTIFICATE, CKC_X_509), named
 * by RFC 7512 URIs with type=cert and object= and/or id=:
 *
 *   pkcs11:token=dev;object=device;type=cert?module-path=...&pin-value=...
 *
 * A URI must match exactly one certificate: several matches are an error,
 * never "the first one", since a device may hold an old and a new
 * certificate under the same label.
 *
 * Objects written here are what pkcs11-tool --write-object --type cert
 * makes: token objects, public (CKA_PRIVATE false), with CKA_SUBJECT,
 * CKA_ISSUER and CKA_SERIAL_NUMBER taken from the certificate, which
 * PKCS#11 requires for X.509 certificates and other tools search on.
 */
#include <string.h>

#include <p11-kit/p11-kit.h>
#include <p11-kit/pkcs11.h>
#include <p11-kit/uri.h>

#include "keyward/port/backend.h"
#include "mbedtls/asn1.h"
#include "mbedtls/platform_util.h"
#include "pkcs11_internal.h"

#define MAX_MATCHES 16

typedef struct {
    uint8_t *der;
    size_t der_size, *der_len;
} read_arg_t;

typedef struct {
    const uint8_t *der;
    size_t der_len;
    int overwrite;
} write_arg_t;

/* The URI must say type=cert and name the object (object= and/or id=). */
static psa_status_t check_uri(P11KitUri *uri)
{
    CK_ATTRIBUTE *cls = p11_kit_uri_get_attribute(uri, CKA_CLASS);
    CK_OBJECT_CLASS v = 0;

    if (cls != NULL && cls->ulValueLen == sizeof(v)) {
        memcpy(&v, cls->pValue, sizeof(v));
    }
    if (cls == NULL || v != CKO_CERTIFICATE) {
        keyward_set_error("a PKCS#11 certificate is named with type=cert in its URI");
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    if (p11_kit_uri_get_attribute(uri, CKA_LABEL) == NULL &&
        p11_kit_uri_get_attribute(uri, CKA_ID) == NULL) {
        keyward_set_error("PKCS#11 certificate URI names no object (object= or id=)");
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    return PSA_SUCCESS;
}

/* check_uri before any token is touched: a key URI given as a certificate
 * must say so, not fail on a token or PIN. */
static psa_status_t precheck(const char *certref)
{
    P11KitUri *uri = p11_kit_uri_new();
    psa_status_t status;
    int r;

    if (uri == NULL) {
        return PSA_ERROR_INSUFFICIENT_MEMORY;
    }
    r = p11_kit_uri_parse(certref, P11_KIT_URI_FOR_ANY, uri);
    if (r != P11_KIT_URI_OK) {
        keyward_set_error("bad PKCS#11 URI: %s", p11_kit_uri_message(r));
        status = PSA_ERROR_INVALID_ARGUMENT;
    } else {
        status = check_uri(uri);
    }
    {
        /* p11-kit frees its copy of pin-value without wiping it. */
        char *pv = (char *)p11_kit_uri_get_pin_value(uri);
        if (pv != NULL) {
            mbedtls_platform_zeroize(pv, strlen(pv));
        }
    }
    p11_kit_uri_free(uri);
    return status;
}

/* The certificate objects the URI matches (by class, label and id). */
static psa_status_t find_certs(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, P11KitUri *uri,
                               CK_OBJECT_HANDLE *h, CK_ULONG max, CK_ULONG *found, CK_RV *rv)
{
    CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
    CK_ATTRIBUTE tmpl[3];
    CK_ULONG n = 0;
    CK_ATTRIBUTE *label = p11_kit_uri_get_attribute(uri, CKA_LABEL);
    CK_ATTRIBUTE *id = p11_kit_uri_get_attribute(uri, CKA_ID);

    tmpl[n++] = (CK_ATTRIBUTE){CKA_CLASS, &cls, sizeof(cls)};
    if (label != NULL) {
        tmpl[n++] = *label;
    }
    if (id != NULL) {
        tmpl[n++] = *id;
    }
    *found = 0;
    *rv = f->C_FindObjectsInit(s, tmpl, n);
    if (*rv != CKR_OK) {
        return p11_fail("C_FindObjectsInit", *rv);
    }
    *rv = f->C_FindObjects(s, h, max, found);
    f->C_FindObjectsFinal(s);
    if (*rv != CKR_OK) {
        return p11_fail("C_FindObjects", *rv);
    }
    return PSA_SUCCESS;
}

/* ---- read ------------------------------------------------------------------ */

static psa_status_t read_op(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, P11KitUri *uri, void *arg,
                            CK_RV *rv)
{
    read_arg_t *a = arg;
    CK_OBJECT_HANDLE h[2];
    CK_ULONG found = 0;
    CK_CERTIFICATE_TYPE ct = (CK_CERTIFICATE_TYPE)-1;
    CK_ATTRIBUTE attr = {CKA_CERTIFICATE_TYPE, &ct, sizeof(ct)};
    psa_status_t status = check_uri(uri);

    if (status == PSA_SUCCESS) {
        status = find_certs(f, s, uri, h, 2, &found, rv);
    }
    if (status != PSA_SUCCESS) {
        return status;
    }
    if (found == 0) {
        keyward_set_error("no PKCS#11 certificate object matches the URI");
        return PSA_ERROR_DOES_NOT_EXIST;
    }
    if (found > 1) {
        keyward_set_error("the PKCS#11 URI matches several certificate objects: name one (a "
                          "unique object= or id=)");
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    *rv = f->C_GetAttributeValue(s, h[0], &attr, 1);
    if (*rv != CKR_OK) {
        return p11_fail("C_GetAttributeValue(CKA_CERTIFICATE_TYPE)", *rv);
    }
    if (ct != CKC_X_509) {
        keyward_set_error("the PKCS#11 certificate object is not X.509 (type 0x%lx)",
                          (unsigned long)ct);
        return PSA_ERROR_NOT_SUPPORTED;
    }
    /* Size first, so that a too-small buffer gets a clear message. */
    attr = (CK_ATTRIBUTE){CKA_VALUE, NULL, 0};
    *rv = f->C_GetAttributeValue(s, h[0], &attr, 1);
    if (*rv != CKR_OK) {
        return p11_fail("C_GetAttributeValue(CKA_VALUE)", *rv);
    }
    if (attr.ulValueLen == 0 || attr.ulValueLen == CK_UNAVAILABLE_INFORMATION) {
        keyward_set_error("the PKCS#11 certificate object has no value");
        return PSA_ERROR_DATA_INVALID;
    }
    if (attr.ulValueLen > a->der_size) {
        keyward_set_error("the PKCS#11 certificate is %lu bytes, more than %lu",
                          (unsigned long)attr.ulValueLen, (unsigned long)a->der_size);
        return PSA_ERROR_BUFFER_TOO_SMALL;
    }
    attr.pValue = a->der;
    attr.ulValueLen = a->der_size;
    *rv = f->C_GetAttributeValue(s, h[0], &attr, 1);
    if (*rv != CKR_OK) {
        return p11_fail("C_GetAttributeValue(CKA_VALUE)", *rv);
    }
    *a->der_len = attr.ulValueLen;
    return PSA_SUCCESS;
}

psa_status_t keyward_pkcs11_cert_read(const char *certref, uint8_t *der, size_t der_size,
                                      size_t *der_len)
{
    read_arg_t a = {der, der_size, der_len};
    psa_status_t status = precheck(certref);
    return status != PSA_SUCCESS ? status : keyward_pkcs11_with_session(certref, read_op, &a);
}

/* ---- write ----------------------------------------------------------------- */

/* The whole DER element (tag, length, contents) at *p with tag; moves *p past it. */
static int der_element(unsigned char **p, const unsigned char *end, int tag, CK_ATTRIBUTE *out,
                       CK_ATTRIBUTE_TYPE type)
{
    unsigned char *start = *p;
    size_t len = 0;

    if (mbedtls_asn1_get_tag(p, end, &len, tag) != 0) {
        return -1;
    }
    *p += len;
    *out = (CK_ATTRIBUTE){type, start, (CK_ULONG)(*p - start)};
    return 0;
}

/* Issuer, serial number and subject of an X.509 certificate (RFC 5280 4.1):
 * Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version OPTIONAL,
 * serialNumber, signature, issuer, validity, subject, ... }, ... } */
static psa_status_t cert_names(const uint8_t *der, size_t der_len, CK_ATTRIBUTE *issuer,
                               CK_ATTRIBUTE *serial, CK_ATTRIBUTE *subject)
{
    unsigned char *p = (unsigned char *)der, *end = p + der_len;
    const int seq = MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE;
    CK_ATTRIBUTE skip;
    size_t len = 0;

    if (mbedtls_asn1_get_tag(&p, end, &len, seq) != 0 || p + len != end ||
        mbedtls_asn1_get_tag(&p, end, &len, seq) != 0) {
        goto bad;
    }
    end = p + len; /* the TBSCertificate */
    if (p < end && *p == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 0) &&
        der_element(&p, end, *p, &skip, 0) != 0) {
        goto bad;
    }
    if (der_element(&p, end, MBEDTLS_ASN1_INTEGER, serial, CKA_SERIAL_NUMBER) != 0 ||
        der_element(&p, end, seq, &skip, 0) != 0 ||
        der_element(&p, end, seq, issuer, CKA_ISSUER) != 0 ||
        der_element(&p, end, seq, &skip, 0) != 0 ||
        der_element(&p, end, seq, subject, CKA_SUBJECT) != 0) {
        goto bad;
    }
    return PSA_SUCCESS;
bad:
    keyward_set_error("not a DER X.509 certificate");
    return PSA_ERROR_INVALID_ARGUMENT;
}

static psa_status_t write_op(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, P11KitUri *uri, void *arg,
                             CK_RV *rv)
{
    write_arg_t *a = arg;
    CK_OBJECT_HANDLE h[MAX_MATCHES], created;
    CK_ULONG found = 0, n = 0;
    CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
    CK_CERTIFICATE_TYPE ct = CKC_X_509;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ATTRIBUTE tmpl[11], issuer, serial, subject;
    CK_ATTRIBUTE *label = p11_kit_uri_get_attribute(uri, CKA_LABEL);
    CK_ATTRIBUTE *id = p11_kit_uri_get_attribute(uri, CKA_ID);
    psa_status_t status = check_uri(uri);

    if (status == PSA_SUCCESS) {
        status = cert_names(a->der, a->der_len, &issuer, &serial, &subject);
    }
    if (status == PSA_SUCCESS) {
        status = find_certs(f, s, uri, h, MAX_MATCHES, &found, rv);
    }
    if (status != PSA_SUCCESS) {
        return status;
    }
    if (found > 0 && !a->overwrite) {
        keyward_set_error("%lu PKCS#11 certificate object(s) already match the URI; --force "
                          "replaces them",
                          (unsigned long)found);
        return PSA_ERROR_ALREADY_EXISTS;
    }
    tmpl[n++] = (CK_ATTRIBUTE){CKA_CLASS, &cls, sizeof(cls)};
    tmpl[n++] = (CK_ATTRIBUTE){CKA_CERTIFICATE_TYPE, &ct, sizeof(ct)};
    tmpl[n++] = (CK_ATTRIBUTE){CKA_TOKEN, &yes, sizeof(yes)};
    tmpl[n++] = (CK_ATTRIBUTE){CKA_PRIVATE, &no, sizeof(no)};
    tmpl[n++] = subject;
    tmpl[n++] = issuer;
    tmpl[n++] = serial;
    tmpl[n++] = (CK_ATTRIBUTE){CKA_VALUE, (void *)a->der, (CK_ULONG)a->der_len};
    if (label != NULL) {
        tmpl[n++] = *label;
    }
    if (id != NULL) {
        tmpl[n++] = *id;
    }
    *rv = f->C_CreateObject(s, tmpl, n, &created);
    if (*rv != CKR_OK) {
        return p11_fail("C_CreateObject (certificate)", *rv);
    }
    /* The old ones go only once the new one is in: a failure leaves the
     * token with a certificate. */
    for (CK_ULONG i = 0; i < found; i++) {
        *rv = f->C_DestroyObject(s, h[i]);
        if (*rv != CKR_OK) {
            return p11_fail("C_DestroyObject (the replaced certificate)", *rv);
        }
    }
    return PSA_SUCCESS;
}

psa_status_t keyward_pkcs11_cert_write(const char *certref, const uint8_t *der, size_t der_len,
                                       int overwrite)
{
    write_arg_t a = {der, der_len, overwrite};
    psa_status_t status = precheck(certref);
    return status != PSA_SUCCESS ? status : keyward_pkcs11_with_session(certref, write_op, &a);
}
