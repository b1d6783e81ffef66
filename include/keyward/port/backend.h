/*
 * The secure-element backend interface.
 *
 * A backend is one const table of operations (BearSSL-style class).  The
 * core (src/core) owns the PSA side: key buffers, policies, builtin keys;
 * a backend only knows its SE.  A key is named towards a backend by its
 * reference ("ref"): opaque bytes chosen by the backend, stored in the PSA
 * key buffer (KEYWARD_REF_MAX bytes at most).  For most backends the ref is
 * the KEYREF text itself ("pkcs11:token=t;object=o", "atecc608:slot=0").
 *
 * Adding an SE = one folder under src/se/ exporting one keyward_backend_t,
 * declared by its own CMakeLists.txt (keyward_backend(): id, locations,
 * schemes, sources, tests; the build checks it against the other backends and
 * generates src/core/backends.c's table).  See docs/porting.md.
 */
#ifndef KEYWARD_BACKEND_H
#define KEYWARD_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include <psa/crypto.h>

#include "keyward/port/backends_build.h" /* KEYWARD_KEY_SCHEMES, KEYWARD_WITH_<NAME> */

#ifdef __cplusplus
extern "C" {
#endif

#ifndef KEYWARD_REF_MAX
#define KEYWARD_REF_MAX 2048u
#endif

typedef struct keyward_backend {
    const char *scheme; /* KEYREF prefix without ':', e.g. "pkcs11" */
    uint8_t id;         /* backend number stored in key buffers, 1..255 */
    uint32_t location;  /* its PSA location (locations.h) */

    /* Turns KEYREF text (with scheme) into the ref stored in key buffers.
     * NULL: the ref is the KEYREF text. */
    psa_status_t (*ref_from_keyref)(const char *keyref, uint8_t *ref, size_t ref_size,
                                    size_t *ref_len);

    /* Checks that the ref names an existing private key on the SE and reports
     * its PSA key-pair type and size in bits. */
    psa_status_t (*describe)(const uint8_t *ref, size_t ref_len, psa_key_type_t *type,
                             size_t *bits);

    /* Signs a hash already computed by the caller.  alg is a PSA signature
     * algorithm already checked against the key's policy by PSA; the backend
     * answers PSA_ERROR_NOT_SUPPORTED for one its SE cannot do.  ECDSA
     * signatures are raw r||s as PSA defines them. */
    psa_status_t (*sign_hash)(const uint8_t *ref, size_t ref_len, psa_key_type_t type, size_t bits,
                              psa_algorithm_t alg, const uint8_t *hash, size_t hash_len,
                              uint8_t *sig, size_t sig_size, size_t *sig_len);

    /* Public key in PSA export format (0x04||X||Y, or DER RSAPublicKey). */
    psa_status_t (*export_public)(const uint8_t *ref, size_t ref_len, psa_key_type_t type,
                                  size_t bits, uint8_t *out, size_t out_size, size_t *out_len);

    /* Optional.  Non-zero when keys named by this KEYREF are fixed slots of
     * the SE (ATECC608 slot, TPM persistent handle): keyward_key_open() then
     * declares them as builtin keys (persistence READ_ONLY) instead of
     * importing them.  NULL: never. */
    int (*keyref_is_builtin)(const char *keyref);

    /* Optional (NULL: PSA_ERROR_NOT_SUPPORTED).  Creates a key pair inside
     * the SE at target (KEYREF text) and returns its ref. */
    psa_status_t (*generate)(const char *target, psa_key_type_t type, size_t bits, uint8_t *ref,
                             size_t ref_size, size_t *ref_len);

    /* 0: keys get keyward_default_policy().  Otherwise the one signature
     * algorithm this SE can do (ATECC608: ECDSA with SHA-256), used as the
     * key's policy so that PSA and TLS see the limit up front. */
    psa_algorithm_t sign_alg;

    /* Optional.  Called by keyward_deinit(): flush loaded objects, close sessions, zeroise cached secrets. */
    void (*shutdown)(void);
    /* Optional (NULL: PSA_ERROR_NOT_SUPPORTED).  Certificates kept in the SE
     * (include/keyward/cert.h).  certref is the reference text with the
     * scheme ("pkcs11:...;type=cert", "tpm2:nv=0x01000010").  cert_read puts
     * the DER certificate in der: PSA_ERROR_DOES_NOT_EXIST when nothing is
     * there, PSA_ERROR_INVALID_ARGUMENT for a malformed or ambiguous
     * reference, PSA_ERROR_DATA_INVALID when what is there is no DER
     * certificate, PSA_ERROR_BUFFER_TOO_SMALL.  cert_write stores der (one
     * DER certificate) there; PSA_ERROR_ALREADY_EXISTS when something is
     * there and overwrite is 0, PSA_ERROR_NOT_PERMITTED for a place that
     * keyward must not write (TCG's EK-certificate NV range). */
    psa_status_t (*cert_read)(const char *certref, uint8_t *der, size_t der_size, size_t *der_len);
    psa_status_t (*cert_write)(const char *certref, const uint8_t *der, size_t der_len,
                               int overwrite);
} keyward_backend_t;

/* Length of the scheme prefix of a KEYREF or CERTREF ("tpm2:" -> 5): a
 * lower-case letter, up to 15 more letters or digits, and ':'; 0 when ref
 * does not start with one.  Whether or not a backend of this build owns it:
 * messages name the scheme of a reference no backend takes (it is never a
 * secret, unlike the rest of the text). */
static inline size_t keyward_ref_scheme_len(const char *ref)
{
    size_t n = 0;

    if (ref == NULL || ref[0] < 'a' || ref[0] > 'z') {
        return 0;
    }
    /* ref is NUL-terminated: the loop stops at the first byte that is no letter or digit, so
     * ref[n] never passes the terminator, whatever the size of the caller's array. */
    /* cppcheck-suppress arrayIndexOutOfBoundsCond ; bounded by the terminator (above) */
    while (n < 16 && ((ref[n] >= 'a' && ref[n] <= 'z') || (ref[n] >= '0' && ref[n] <= '9'))) {
        n++;
    }
    /* cppcheck-suppress arrayIndexOutOfBoundsCond ; bounded by the terminator (above) */
    return ref[n] == ':' ? n + 1 : 0;
}

/* The backends compiled in (src/core/backends.c), NULL-terminated. */
extern const keyward_backend_t *const keyward_backends[];

const keyward_backend_t *keyward_backend_by_location(uint32_t location);
const keyward_backend_t *keyward_backend_by_id(uint8_t id);
/* Backend whose scheme prefixes keyref ("scheme:..."), or NULL. */
const keyward_backend_t *keyward_backend_by_keyref(const char *keyref);

/* ---- Secrets (src/core/secrets.c, src/core/redact.c) ----------------------
 * A ref never holds a PIN or auth value: it may end up in PSA storage.  A
 * backend's ref_from_keyref (and generate) leaves secret KEYREF attributes
 * out of the ref and keeps their values here, in process memory only, keyed
 * by the ref; at use time it resolves the secret from here, then from its
 * other sources (pin-source, the environment).  The core binds the values to
 * the PSA key made from the ref and wipes them on keyward_key_close() or
 * keyward_deinit(). */
#ifndef KEYWARD_SECRET_MAX
#define KEYWARD_SECRET_MAX 256u /* longest secret value, bytes */
#endif

/* Keeps value (may be empty) as secret name ("pin-value", "auth") of ref. */
psa_status_t keyward_secret_put(const uint8_t *ref, size_t ref_len, const char *name,
                                const uint8_t *value, size_t value_len);
/* The newest value of secret name for ref; PSA_ERROR_DOES_NOT_EXIST if none. */
psa_status_t keyward_secret_get(const uint8_t *ref, size_t ref_len, const char *name,
                                uint8_t *value, size_t value_size, size_t *value_len);
/* Wipes the values of ref that no key has been made with yet. */
void keyward_secret_drop(const uint8_t *ref, size_t ref_len);

/* KEYWARD_SECRETS_MAX=0 (the MCU profile) keeps no secrets at all: no
 * store, no secret attributes.  One name for that switch. */
#if defined(KEYWARD_SECRETS_MAX) && KEYWARD_SECRETS_MAX == 0 && !defined(KEYWARD_NO_SECRETS)
#define KEYWARD_NO_SECRETS
#endif

/* Non-zero when the KEYREF attribute name (len bytes) is a secret:
 * pin-value, so-pin, auth, parent-auth, any *auth, *password, *passphrase. */
int keyward_keyref_attr_is_secret(const char *name, size_t len);
/* Non-zero when the KEYREF text carries a secret attribute.
 * KEYWARD_SECRETS_MAX=0 (the MCU profile: no secret store, and backends
 * whose KEYREF parsers refuse any attribute they do not know, see
 * src/core/redact.c) has no secret attributes: always 0, inlined so that
 * the checks built on it fold away. */
#if defined(KEYWARD_NO_SECRETS)
static inline int keyward_keyref_has_secret(const char *keyref)
{
    (void)keyref;
    return 0;
}
#else
int keyward_keyref_has_secret(const char *keyref);
#endif
/* The KEYREF without its secret attributes (NUL-terminated in out). */
psa_status_t keyward_keyref_strip(const char *keyref, char *out, size_t out_size, size_t *out_len);

/* A short human-readable detail of the last failure in this thread,
 * set by backends ("C_Login: CKR_PIN_INCORRECT").  Never contains secrets:
 * the text goes through keyward_keyref_redact() as well.
 * KEYWARD_NO_ERROR_TEXT (MCU builds) compiles the texts out entirely. */
#if defined(KEYWARD_NO_ERROR_TEXT)
static inline void keyward_set_error(const char *fmt, ...)
{
    (void)fmt; /* inlined away with its arguments' texts */
}
#else
void keyward_set_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
#endif

#ifdef __cplusplus
}
#endif
#endif
