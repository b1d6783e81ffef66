/*
 * keyward's key buffer: what the PSA core stores for a keyward key.
 *
 *   offset size
 *   0      2    magic "kw"
 *   2      1    format version (1)
 *   3      1    backend id (keyward_backend_t.id, never 0)
 *   4      2    PSA key type, little endian
 *   6      2    key bits, little endian
 *   8      2    reference length N, little endian, 1..KEYWARD_REF_MAX
 *   10     N    backend reference (opaque to the core)
 *
 * The buffer must be exactly 10+N bytes: no trailing data is accepted.  It
 * never holds key material, only a name for a key inside the SE.
 */
#ifndef KEYWARD_KEYBUF_H
#define KEYWARD_KEYBUF_H

#include <stddef.h>
#include <stdint.h>
#include <psa/crypto.h>

#define KEYWARD_KEYBUF_HEADER 10u
#define KEYWARD_KEYBUF_VERSION 1u

typedef struct {
    uint8_t backend;
    psa_key_type_t type;
    uint16_t bits;
    const uint8_t *ref; /* points into the parsed buffer */
    size_t ref_len;
} keyward_keybuf_t;

/* PSA_ERROR_DATA_CORRUPT for anything malformed, PSA_ERROR_NOT_SUPPORTED for
 * a format version this build does not know. */
psa_status_t keyward_keybuf_parse(const uint8_t *buf, size_t len, keyward_keybuf_t *out);

/* PSA_ERROR_BUFFER_TOO_SMALL if size < 10+ref_len, PSA_ERROR_INVALID_ARGUMENT
 * for an empty/oversized ref or backend 0. */
psa_status_t keyward_keybuf_write(const keyward_keybuf_t *kb, uint8_t *buf, size_t size,
                                  size_t *len);

#endif
