/*
 * The ATECC608 keyward backend: ECDSA P-256 keys in fixed slots.
 *
 * A signature is one wake, Random, Nonce (pass-through: the digest goes to
 * the message-digest buffer), Sign (external message, from that buffer),
 * idle.  Nonce and Sign must never interleave with another user's commands
 * -- a second Nonce would replace the digest and the first user would sign
 * the second one's -- so the whole sequence runs under the chip's lock, and
 * a retry redoes all of it.
 * The public key of a slot is computed once (GenKey mode 0) and cached.
 *
 * Portable: the platform layer (atecc608_linux.c or atecc608_single.c)
 * supplies the chip and its lock.
 */
#include <string.h>

#include "atecc608_internal.h"
#include "keyward/port/locations.h"

#define TYPE_P256 PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1)
#define PREFIX "atecc608:"
#define PREFIX_LEN 9u

/* ---- KEYREF ------------------------------------------------------------- */

/* A number of at most 4 digits, decimal or hex after "0x"; -1 if not. */
static long number(const uint8_t *v, size_t n)
{
    unsigned base = 10;
    long x = 0;

    if (n > 2 && v[0] == '0' && (v[1] | 0x20) == 'x') {
        base = 16;
        v += 2;
        n -= 2;
    }
    if (n == 0 || n > 4) {
        return -1;
    }
    while (n-- > 0) {
        unsigned c = *v++, d = c - '0';
        if (d > 9) {
            d = (c | 0x20u) - 'a' + 10u; /* a-f (any case); anything else is >= 16 */
            if (base != 16 || d < 10 || d > 15) {
                return -1;
            }
        }
        x = x * (long)base + (long)d;
    }
    return x;
}

psa_status_t kw608_keyref_parse(const uint8_t *ref, size_t len, kw608_keyref_t *kr)
{
    size_t pos = PREFIX_LEN;

    kr->slot = -1;
    kr->bus = NULL;
    kr->bus_len = 0;
    kr->addr = 0;
    if (len < PREFIX_LEN || memcmp(ref, PREFIX, PREFIX_LEN) != 0 || memchr(ref, 0, len) != NULL) {
        goto bad;
    }
    while (pos < len) {
        const uint8_t *k = ref + pos, *v;
        const uint8_t *end = memchr(k, ';', len - pos);
        const uint8_t *eq;
        size_t seg = end != NULL ? (size_t)(end - k) : len - pos;
        size_t klen, vlen;
        long x;

        eq = memchr(k, '=', seg);
        if (eq == NULL || eq == k || (size_t)(eq - k) + 1u == seg) {
            goto bad;
        }
        klen = (size_t)(eq - k);
        v = eq + 1;
        vlen = seg - klen - 1u;
        x = number(v, vlen);
        if (klen == 4 && memcmp(k, "slot", 4) == 0) {
            /* 0..15 in decimal, no leading zero, once */
            if (kr->slot >= 0 || vlen > 2 || x < 0 || x > 15 || (v[0] == '0' && vlen > 1)) {
                goto bad;
            }
            kr->slot = (int)x;
        } else if (klen == 3 && memcmp(k, "bus", 3) == 0 && kr->bus == NULL) {
            kr->bus = (const char *)v;
            kr->bus_len = vlen;
        } else if (klen == 4 && memcmp(k, "addr", 4) == 0 && kr->addr == 0 && x >= 0x08 &&
                   x <= 0x77) {
            kr->addr = (uint8_t)x;
        } else {
            goto bad; /* unknown key, repeated bus/addr, address out of range */
        }
        pos += seg;
        if (end != NULL) {
            pos++; /* the ';' */
            if (pos == len) {
                goto bad; /* trailing ';' */
            }
        }
    }
    return PSA_SUCCESS;
bad:
    keyward_set_error("bad ATECC608 KEYREF: expected atecc608:slot=0..15[;bus=unix:PATH|"
                      "/dev/i2c-N][;addr=0x08..0x77]");
    return PSA_ERROR_INVALID_ARGUMENT;
}

/* ---- sessions ----------------------------------------------------------- */

int kw608_run(keyward_atecc608_t *dev, int (*fn)(keyward_atecc608_t *dev, void *arg), void *arg)
{
    int rc = KEYWARD_ATECC608_E_WAKE;

    for (int attempt = 0; attempt < KW608_ATTEMPTS; attempt++) {
        rc = keyward_atecc608_wake(dev);
        if (rc == 0) {
            rc = fn(dev, arg);
        }
        if (rc == 0 || !keyward_atecc608_retryable(rc)) {
            /* Idle, not sleep: keeps nothing secret (Sign consumed TempKey)
             * and stops the watchdog; the next wake is shorter. */
            (void)keyward_atecc608_idle(dev);
            return rc;
        }
        (void)keyward_atecc608_sleep(dev);
    }
    return rc;
}

psa_status_t kw608_open(const kw608_keyref_t *kr, keyward_atecc608_t **dev)
{
    psa_status_t status = keyward_atecc608_platform_get(kr->bus, kr->bus_len, kr->addr, dev);
    if (status == PSA_SUCCESS) {
        keyward_atecc608_platform_lock(*dev);
    }
    return status;
}

static psa_status_t chip_error(const char *what, int slot, int rc)
{
#if defined(KEYWARD_NO_ERROR_TEXT)
    (void)what;
    (void)slot;
#else
    keyward_set_error("ATECC608 %s (slot %d): %s", what, slot, keyward_atecc608_rc_name(rc));
#endif
    return keyward_atecc608_to_psa(rc);
}

/* Parses a key ref and opens (locks) its chip; the slot is required. */
static psa_status_t open_slot(const uint8_t *ref, size_t ref_len, kw608_keyref_t *kr,
                              keyward_atecc608_t **dev)
{
    psa_status_t status = kw608_keyref_parse(ref, ref_len, kr);
    if (status != PSA_SUCCESS) {
        return status;
    }
    if (kr->slot < 0) {
        keyward_set_error("ATECC608 KEYREF without slot=");
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    return kw608_open(kr, dev);
}

/* ---- public-key cache ---------------------------------------------------- */

static const uint8_t *cache_get(const keyward_atecc608_t *dev, int slot)
{
    for (size_t i = 0; i < KEYWARD_ATECC608_PUBKEY_CACHE; i++) {
        if (dev->pub[i].slot == (uint8_t)slot) {
            return dev->pub[i].xy;
        }
    }
    return NULL;
}

static void cache_put(keyward_atecc608_t *dev, int slot, const uint8_t xy[64])
{
    size_t victim = dev->pub_next % KEYWARD_ATECC608_PUBKEY_CACHE;

    for (size_t i = 0; i < KEYWARD_ATECC608_PUBKEY_CACHE; i++) {
        if (dev->pub[i].slot == (uint8_t)slot) {
            victim = i;
            break;
        }
    }
    if (victim == dev->pub_next % KEYWARD_ATECC608_PUBKEY_CACHE) {
        dev->pub_next++;
    }
    dev->pub[victim].slot = (uint8_t)slot;
    memcpy(dev->pub[victim].xy, xy, 64);
}

/* ---- steps run inside a session -------------------------------------------- */

typedef struct {
    uint8_t slot;
    uint8_t mode;
    const uint8_t *in;
    uint8_t *out;
} step_arg_t;

static int step_read_keyconfig(keyward_atecc608_t *dev, void *p)
{
    step_arg_t *a = p;
    unsigned off = KEYWARD_ATECC608_CFG_KEYCONFIG + 2u * a->slot;
    /* Read, config zone, 4 bytes; address = byte offset / 4 (block<<3 |
     * word).  The command directly rather than keyward_atecc608_read():
     * that one's argument checks cost an MCU image about 50 bytes. */
    return keyward_atecc608_command(dev, KEYWARD_ATECC608_OP_READ, KEYWARD_ATECC608_ZONE_CONFIG,
                                    (uint16_t)(off / 4u), NULL, 0, a->out, 4);
}

/* The 608's sign sequence as cryptoauthlib's calib_sign runs it: Random
 * (mode 0: "make sure RNG has updated its seed"), Nonce pass-through into
 * the message-digest buffer (0x43), Sign external from it (0xA0).  Sources
 * and the reasons for each step: docs/atecc608.md.  Random's 32 bytes go to
 * the signature buffer, which Sign then overwrites. */
static int step_sign(keyward_atecc608_t *dev, void *p)
{
    step_arg_t *a = p;
    int rc = keyward_atecc608_random(dev, a->out);
    if (rc == 0) {
        rc = keyward_atecc608_nonce_load(dev, 0x40, a->in);
    }
    if (rc == 0) {
        rc = keyward_atecc608_sign(dev, KEYWARD_ATECC608_SIGN_MSGDIGBUF, a->slot, a->out);
    }
    return rc;
}

static int step_genkey(keyward_atecc608_t *dev, void *p)
{
    step_arg_t *a = p;
    return keyward_atecc608_genkey(dev, a->mode, a->slot, a->out);
}

/* ---- backend operations ------------------------------------------------------ */

/* GenKey in mode 0x00 (public key of the stored private key) or 0x04
 * (create a private key), the public key X||Y into xy and the cache.
 * The chip is open (locked) by the caller. */
static psa_status_t genkey_cached(keyward_atecc608_t *dev, int slot, uint8_t mode, uint8_t *xy)
{
    step_arg_t a;
    int rc;

    a.slot = (uint8_t)slot;
    a.mode = mode;
    a.out = xy;
    rc = kw608_run(dev, step_genkey, &a);
    if (rc != 0) {
        return chip_error(mode == 0x00 ? "GenKey (public key)" : "GenKey (create)", slot, rc);
    }
    cache_put(dev, slot, xy);
    return PSA_SUCCESS;
}

static psa_status_t atecc_describe(const uint8_t *ref, size_t ref_len, psa_key_type_t *type,
                                   size_t *bits)
{
    psa_status_t status = PSA_ERROR_CORRUPTION_DETECTED;
    keyward_atecc608_t *dev = NULL;
    kw608_keyref_t kr;
    uint8_t word[4];
    step_arg_t a;
    int rc;

    status = open_slot(ref, ref_len, &kr, &dev);
    if (status != PSA_SUCCESS) {
        return status;
    }
    if ((dev->key_slots & (1u << kr.slot)) == 0) {
        unsigned kc;
        a.slot = (uint8_t)kr.slot;
        a.out = word;
        rc = kw608_run(dev, step_read_keyconfig, &a);
        if (rc != 0) {
            status = chip_error("reading KeyConfig", kr.slot, rc);
            goto exit;
        }
        kc = (unsigned)word[(2u * (unsigned)kr.slot) % 4u] |
             ((unsigned)word[(2u * (unsigned)kr.slot) % 4u + 1u] << 8);
        if ((kc & KEYWARD_ATECC608_KEYCONFIG_PRIVATE) == 0 ||
            KEYWARD_ATECC608_KEYCONFIG_KEYTYPE(kc) != KEYWARD_ATECC608_KEYTYPE_P256) {
            keyward_set_error("ATECC608 slot %d is not a P-256 private-key slot (KeyConfig "
                              "0x%04x); run keyward-tool provision",
                              kr.slot, kc);
            status = PSA_ERROR_DOES_NOT_EXIST;
            goto exit;
        }
        dev->key_slots = (uint16_t)(dev->key_slots | (1u << kr.slot));
    }
    *type = TYPE_P256;
    *bits = 256;
    status = PSA_SUCCESS;
exit:
    keyward_atecc608_platform_unlock(dev);
    return status;
}

static psa_status_t check_p256(psa_key_type_t type, size_t bits)
{
    if (type != TYPE_P256 || bits != 256) {
        keyward_set_error("the ATECC608 holds only ECC P-256 key pairs");
        return PSA_ERROR_NOT_SUPPORTED;
    }
    return PSA_SUCCESS;
}

static psa_status_t atecc_sign_hash(const uint8_t *ref, size_t ref_len, psa_key_type_t type,
                                    size_t bits, psa_algorithm_t alg, const uint8_t *hash,
                                    size_t hash_len, uint8_t *sig, size_t sig_size, size_t *sig_len)
{
    psa_status_t status = check_p256(type, bits);
    keyward_atecc608_t *dev = NULL;
    kw608_keyref_t kr;
    step_arg_t a;
    int rc;

    if (status != PSA_SUCCESS) {
        return status;
    }
    /* The chip signs a 32-byte digest with randomized ECDSA: SHA-256 only,
     * and no deterministic ECDSA (RFC 6979 needs the private key). */
    if (alg != PSA_ALG_ECDSA(PSA_ALG_SHA_256)) {
        keyward_set_error("the ATECC608 signs only ECDSA with SHA-256 (alg 0x%08x)", (unsigned)alg);
        return PSA_ERROR_NOT_SUPPORTED;
    }
    if (hash_len != 32) {
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    if (sig_size < 64) {
        return PSA_ERROR_BUFFER_TOO_SMALL;
    }
    status = open_slot(ref, ref_len, &kr, &dev);
    if (status != PSA_SUCCESS) {
        return status;
    }
    a.slot = (uint8_t)kr.slot;
    a.in = hash;
    a.out = sig;
    rc = kw608_run(dev, step_sign, &a);
    keyward_atecc608_platform_unlock(dev);
    if (rc != 0) {
        return chip_error("Nonce+Sign", kr.slot, rc);
    }
    *sig_len = 64;
    return PSA_SUCCESS;
}

static psa_status_t atecc_export_public(const uint8_t *ref, size_t ref_len, psa_key_type_t type,
                                        size_t bits, uint8_t *out, size_t out_size, size_t *out_len)
{
    psa_status_t status = check_p256(type, bits);
    keyward_atecc608_t *dev = NULL;
    const uint8_t *xy;
    kw608_keyref_t kr;

    if (status != PSA_SUCCESS) {
        return status;
    }
    if (out_size < 65) {
        return PSA_ERROR_BUFFER_TOO_SMALL;
    }
    status = open_slot(ref, ref_len, &kr, &dev);
    if (status != PSA_SUCCESS) {
        return status;
    }
    xy = cache_get(dev, kr.slot);
    if (xy == NULL) {
        status = genkey_cached(dev, kr.slot, 0x00, out + 1);
    } else {
        memcpy(out + 1, xy, 64);
    }
    keyward_atecc608_platform_unlock(dev);
    if (status != PSA_SUCCESS) {
        return status;
    }
    out[0] = 0x04; /* uncompressed point */
    *out_len = 65;
    return PSA_SUCCESS;
}

static int atecc_keyref_is_builtin(const char *keyref)
{
    (void)keyref;
    return 1; /* slots are fixed: every ATECC608 key is a builtin key */
}

static psa_status_t atecc_generate(const char *target, psa_key_type_t type, size_t bits,
                                   uint8_t *ref, size_t ref_size, size_t *ref_len)
{
    psa_status_t status = check_p256(type, bits);
    size_t len = strlen(target);
    keyward_atecc608_t *dev = NULL;
    kw608_keyref_t kr;
    uint8_t xy[64];

    if (status != PSA_SUCCESS) {
        return status;
    }
    if (len > ref_size) {
        return PSA_ERROR_BUFFER_TOO_SMALL;
    }
    status = open_slot((const uint8_t *)target, len, &kr, &dev);
    if (status != PSA_SUCCESS) {
        return status;
    }
    status = genkey_cached(dev, kr.slot, 0x04, xy);
    keyward_atecc608_platform_unlock(dev);
    if (status != PSA_SUCCESS) {
        return status;
    }
    memcpy(ref, target, len);
    *ref_len = len;
    return PSA_SUCCESS;
}

const keyward_backend_t keyward_atecc608_backend = {
    "atecc608",
    2,
    KEYWARD_LOCATION_ATECC608,
    NULL, /* the ref is the KEYREF text */
    atecc_describe,
    atecc_sign_hash,
    atecc_export_public,
    atecc_keyref_is_builtin,
    atecc_generate,
    PSA_ALG_ECDSA(PSA_ALG_SHA_256), /* the chip signs 32-byte digests only */
    NULL,                           /* shutdown: nothing held beyond a call */
    NULL,
    NULL, /* cert_read, cert_write: no certificate storage */
};
