/*
 * PKCS#11 backend: the bottom layer every file of the backend shares
 * (pkcs11_rv.c: return values; pkcs11_session.c: running on a token's
 * session) and the certificate operations (pkcs11_cert.c).  Keys,
 * sessions and URIs: pkcs11_session.h, pkcs11_key.h.
 */
#ifndef KEYWARD_PKCS11_INTERNAL_H
#define KEYWARD_PKCS11_INTERNAL_H
#include <p11-kit/pkcs11.h>
#include <p11-kit/uri.h>
#include <psa/crypto.h>
/* pkcs11_rv.c: PKCS#11 return values. */
/* The PSA status nearest to a PKCS#11 return value. */
psa_status_t keyward_pkcs11_status(CK_RV rv);
/* Sets keyward_last_error ("what: message (CKR 0x..)") and maps rv to PSA. */
psa_status_t p11_fail(const char *what, CK_RV rv);
/* The token says the session is gone: re-open it (and retry once). */
int p11_session_lost(CK_RV rv);

/* Work on a token's session (certificate objects, pkcs11_cert.c).  fn sets
 * *rv to the last PKCS#11 return value it saw, so that a lost session is
 * re-opened and fn run once more. */
typedef psa_status_t (*keyward_pkcs11_session_fn)(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE session,
                                                  P11KitUri *uri, void *arg, CK_RV *rv);
/* Parses uri_text (RFC 7512, any type=), opens (and logs in to) the token it
 * names as keys do, and runs fn with the backend's lock held. */
psa_status_t keyward_pkcs11_with_session(const char *uri_text, keyward_pkcs11_session_fn fn,
                                         void *arg);

/* pkcs11_cert.c: certificate objects, the backend's cert_read / cert_write. */
psa_status_t keyward_pkcs11_cert_read(const char *certref, uint8_t *der, size_t der_size,
                                      size_t *der_len);
psa_status_t keyward_pkcs11_cert_write(const char *certref, const uint8_t *der, size_t der_len,
                                       int overwrite);
#endif
