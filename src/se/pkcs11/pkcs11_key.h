/*
 * PKCS#11 backend, middle layer: key objects on a token (pkcs11_key.c):
 * finding them by URI, reading their attributes (type, size, public key),
 * and the cache of resolved keys.  Builds on pkcs11_session.h; the sign and
 * generate operations build on it.
 */
#ifndef KEYWARD_PKCS11_KEY_H
#define KEYWARD_PKCS11_KEY_H

#include "pkcs11_session.h"

#define MAX_KEYS 32

typedef struct {
    char *ref; /* NUL-terminated copy of the URI */
    token_t *tok;
    CK_OBJECT_HANDLE priv;
    psa_key_type_t type;
    size_t bits;
    uint8_t pub[PSA_EXPORT_PUBLIC_KEY_MAX_SIZE];
    size_t pub_len;
} key_t_;

/* One attribute of obj into buf (size bytes); its length in *len. */
psa_status_t p11_get_attr(token_t *tok, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE t, uint8_t *buf,
                          size_t size, size_t *len);
/* The one object of class cls the URI's object= / id= name. */
psa_status_t p11_find_object(token_t *tok, P11KitUri *uri, CK_OBJECT_CLASS cls,
                             CK_OBJECT_HANDLE *obj);
/* The DER OID (without tag and length) of the secp-r1 curve of that size;
 * PSA_ERROR_NOT_SUPPORTED for another size. */
psa_status_t p11_curve_for_bits(size_t bits, const char **oid, size_t *oid_len);
/* Resolves ref to a cached key (force: afresh, on a new session).  Called
 * with p11_lock held. */
psa_status_t p11_key_get(const uint8_t *ref, size_t ref_len, int force, key_t_ **out);
/* keyward_deinit(): forget every cached key. */
void p11_keys_forget(void);

#endif
