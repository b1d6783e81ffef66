/*
 * TPM 2.0 backend internals: the ref format, KEYREF parsing, the TSS2
 * PRIVATE KEY file format, and a few hooks for tests and benchmarks.
 *
 * The ref (what the PSA key buffer holds for a TPM key) is a small TLV
 * string, never key material in the clear:
 *
 *   "K2" version(1)  then records  tag(1) length(2, big endian) value
 *
 * with tags strictly increasing (so each appears at most once):
 *
 *   0x01 HANDLE       4 bytes  persistent key handle (0x81xxxxxx)
 *   0x02 PARENT       4 bytes  parent: TPM2_RH_OWNER (standard SRK) or 0x81xxxxxx
 *   0x03 EMPTY_AUTH   1 byte   1: the key has no auth value (TSS2 emptyAuth)
 *   0x04 PUBLIC       TPM2B_PUBLIC, marshalled (as in the TSS2 key file)
 *   0x05 PRIVATE      TPM2B_PRIVATE, marshalled (encrypted by the parent)
 *   0x10 TCTI         TCTI configuration text ("swtpm:host=...,port=...")
 *   0x11 AUTH         (retired: refs never carry an auth value; refused)
 *   0x12 PARENT_AUTH  (retired, refused)
 *
 * A ref holds either HANDLE, or PARENT + PUBLIC + PRIVATE.  Auth values
 * never enter a ref (PSA may write it to storage): auth= / parent-auth= of
 * a KEYREF are kept in process memory for the ref (keyward_secret_put,
 * names "auth" and "parent-auth"), and values from the environment
 * (TPM2TOOLS_TCTI, KEYWARD_TPM2_AUTH, ...) are read at use time.
 */
#ifndef KEYWARD_TPM2_INTERNAL_H
#define KEYWARD_TPM2_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <psa/crypto.h>
#include <tss2/tss2_tpm2_types.h>

#define KW_TPM2_REF_VERSION 1u
#define KW_TPM2_TAG_HANDLE 0x01u
#define KW_TPM2_TAG_PARENT 0x02u
#define KW_TPM2_TAG_EMPTY_AUTH 0x03u
#define KW_TPM2_TAG_PUBLIC 0x04u
#define KW_TPM2_TAG_PRIVATE 0x05u
#define KW_TPM2_TAG_TCTI 0x10u
#define KW_TPM2_TAG_AUTH 0x11u
#define KW_TPM2_TAG_PARENT_AUTH 0x12u

#define KW_TPM2_TCTI_MAX 256u
#define KW_TPM2_AUTH_MAX 64u /* sizeof(TPMU_HA): the largest TPM2B_AUTH */
#define KW_TPM2_PATH_MAX 512u

/* The standard storage root key: the primary made under the owner
 * hierarchy from the ECC P-256 template tpm2-openssl uses for parent
 * 0x40000001 (same as the TCG provisioning guidance SRK with empty unique). */
#define KW_TPM2_PARENT_OWNER 0x40000001u
/* Where a persistent copy of that SRK usually lives (TCG guidance). */
#define KW_TPM2_SRK_HANDLE 0x81000001u

/* Options of a KEYREF "tpm2:attr=value;attr=value" (values %XX-decoded). */
typedef struct {
    char file[KW_TPM2_PATH_MAX]; /* file=   TSS2 PRIVATE KEY (PEM or DER) */
    uint32_t handle;             /* handle= persistent key, 0 if none */
    uint32_t parent;             /* parent= for generation, 0 if none */
    char tcti[KW_TPM2_TCTI_MAX]; /* tcti= */
    int has_tcti;
    uint8_t auth[KW_TPM2_AUTH_MAX]; /* auth=  "str:..." (default) or "hex:..." */
    size_t auth_len;
    int has_auth;
    uint8_t parent_auth[KW_TPM2_AUTH_MAX]; /* parent-auth= */
    size_t parent_auth_len;
    int has_parent_auth;
} kw_tpm2_keyref_t;

/* A parsed ref; pointers point into the ref bytes. */
typedef struct {
    uint32_t handle; /* non-zero: persistent key */
    uint32_t parent;
    int empty_auth;
    const uint8_t *pub, *priv;
    size_t pub_len, priv_len;
    const char *tcti; /* not NUL-terminated: tcti_len bytes */
    size_t tcti_len;
    int has_tcti;
    const uint8_t *raw; /* the whole ref: the key of its secrets in process memory */
    size_t raw_len;
} kw_tpm2_ref_t;

/* A TSS2 PRIVATE KEY ("loadable key", OID 2.23.133.10.1.3). */
typedef struct {
    int empty_auth;
    uint32_t parent;
    uint8_t pub[sizeof(TPM2B_PUBLIC)];
    size_t pub_len;
    uint8_t priv[sizeof(TPM2B_PRIVATE)];
    size_t priv_len;
} kw_tpm2_keyfile_t;

/* tpm2_keyref.c, tpm2_keyfile.c, tpm2_ref.c: the formats ------------------ */

/* A persistent handle (0x81xxxxxx), the only kind a KEYREF or ref may name. */
int kw_tpm2_handle_is_persistent(uint32_t h);

/* PSA_ERROR_INVALID_ARGUMENT for anything malformed (unknown attribute,
 * both or neither of file=/handle= when need_key, bad number, too long). */
psa_status_t kw_tpm2_keyref_parse(const char *keyref, int need_key, kw_tpm2_keyref_t *out);

/* %XX-decodes [s, s+n) into out (NUL-terminated, out_size with the NUL); the
 * decoded length in *out_len (a %00 stays in it).  0, or -1 if malformed or too long. */
int kw_tpm2_pct_decode(const char *s, size_t n, char *out, size_t out_size, size_t *out_len);
/* Wipes the auth values. */
void kw_tpm2_keyref_free(kw_tpm2_keyref_t *kr);

/* Reads a TSS2 PRIVATE KEY from PEM or DER bytes (Mbed TLS PEM and ASN.1
 * readers).  PSA_ERROR_INVALID_ARGUMENT when malformed,
 * PSA_ERROR_NOT_SUPPORTED for key kinds keyward cannot load (importable or
 * sealed keys, policy-bound keys, RSA parents). */
psa_status_t kw_tpm2_keyfile_parse(const uint8_t *data, size_t len, kw_tpm2_keyfile_t *kf);
/* Writes it as PEM ("-----BEGIN TSS2 PRIVATE KEY-----"), NUL-terminated. */
psa_status_t kw_tpm2_keyfile_write_pem(const kw_tpm2_keyfile_t *kf, char *out, size_t out_size,
                                       size_t *out_len);

/* Builds a ref: for a key file (kf != NULL) or a persistent handle, plus the
 * KEYREF's explicit tcti.  The KEYREF's auth values stay out of the ref:
 * they are kept in process memory for it (kw_tpm2_ref_secret). */
psa_status_t kw_tpm2_ref_build(const kw_tpm2_keyfile_t *kf, uint32_t handle,
                               const kw_tpm2_keyref_t *kr, uint8_t *ref, size_t ref_size,
                               size_t *ref_len);
/* Parses a ref strictly (PSA_ERROR_DATA_CORRUPT if malformed;
 * PSA_ERROR_INVALID_ARGUMENT, with a reason, for a ref that carries an auth
 * value, as older keyward versions stored). */
psa_status_t kw_tpm2_ref_parse(const uint8_t *ref, size_t ref_len, kw_tpm2_ref_t *out);
/* The key's (KW_TPM2_TAG_AUTH) or parent's (KW_TPM2_TAG_PARENT_AUTH) auth
 * value kept in process memory for this ref: 1 and the value in out
 * (KW_TPM2_AUTH_MAX bytes), or 0 when there is none. */
int kw_tpm2_ref_secret(const kw_tpm2_ref_t *r, unsigned which, uint8_t *out, size_t *out_len);

/* tpm2.c: hooks for tests and benchmarks --------------------------------- */

/* Lists the TPM's transient object handles, through keyward's own
 * connection for tcti (NULL: the default from TPM2TOOLS_TCTI / tss2).  A
 * TPM without a resource manager serves one connection at a time, so a
 * test cannot ask it through a second one while keyward holds it. */
psa_status_t keyward_tpm2_transient_handles(const char *tcti, uint32_t *handles, size_t max,
                                            size_t *count);
/* Flushes every object and session keyward loaded, zeroises the saved
 * session and closes every TPM connection (the backend's shutdown op).
 * Also run at exit.  The next operation reconnects. */
void keyward_tpm2_release(void);
/* How many objects keyward loaded into the TPM (TPM2_Load, and
 * TPM2_CreatePrimary for the SRK) since the process started. */
unsigned long keyward_tpm2_load_count(void);
/* How many authorisation sessions keyward started since the process did. */
unsigned long keyward_tpm2_session_count(void);
/* Test double for a TPM that signs RSA-PSS with the maximum salt length:
 * while twin_keyref is set, every TPM PSS signature is replaced by a
 * max-salt one made with raw RSA on twin_keyref (the same key pair with
 * the decrypt attribute); NULL turns it off.  Either call forgets what
 * keyward learnt about keys' PSS.  _emulated counts the replaced ones. */
void keyward_tpm2_test_pss_max_salt(const char *twin_keyref);
unsigned long keyward_tpm2_test_pss_emulated(void);

/* tpm2_nv.c: certificates in NV indexes ("tpm2:nv=0x01XXXXXX"), the
 * backend's cert_read / cert_write (keyward/port/backend.h). */
psa_status_t kw_tpm2_cert_read(const char *certref, uint8_t *der, size_t der_size, size_t *der_len);
psa_status_t kw_tpm2_cert_write(const char *certref, const uint8_t *der, size_t der_len,
                                int overwrite);

#endif
