/*
 * The ATECC608's RNG as an entropy source for Mbed TLS (issue 10): on an
 * MCU there is often no other.  It seeds the DRBG, it is not the whole RNG:
 * a Random command takes about 23 ms for 32 bytes.
 *
 *   Mbed TLS 3.6: define MBEDTLS_ENTROPY_HARDWARE_ALT; this file provides
 *                 mbedtls_hardware_poll().
 *   Mbed TLS 4.x: define MBEDTLS_PSA_DRIVER_GET_ENTROPY (and not
 *                 MBEDTLS_PSA_BUILTIN_GET_ENTROPY); this file provides
 *                 mbedtls_platform_get_entropy().
 *
 * Refused while the configuration zone is unlocked: the chip's RNG then
 * gives a fixed pattern (FF FF 00 00 ...), not random bytes.  The check is
 * a Read of the lock byte in the same wake as the Random commands, so a
 * chip swapped or reset between calls cannot slip through.  Each session
 * fills at most CHUNK bytes, well inside the watchdog.
 *
 * Built into MCU images (with atecc608_single.c); not part of the hosted
 * library, where the operating system has an entropy source.
 */
#include <string.h>

#include "atecc608_internal.h"
#include "mbedtls/platform_util.h"

#define CHUNK 32u            /* one Random command per wake (~25 ms): far inside any watchdog */
#define CFG_WORD_LOCKS 0x15u /* config bytes 84..87: ..., LockValue, LockConfig */
#define RC_UNLOCKED 0x100    /* not a chip status: the config zone is unlocked */

typedef struct {
    uint8_t *out;
    size_t len;
} entropy_arg_t;

static int step_entropy(keyward_atecc608_t *dev, void *p)
{
    entropy_arg_t *a = p;
    uint8_t buf[32];
    int rc = keyward_atecc608_read(dev, KEYWARD_ATECC608_ZONE_CONFIG, CFG_WORD_LOCKS, buf, 4);

    if (rc == 0 && buf[3] == 0x55u) {
        rc = RC_UNLOCKED;
    }
    for (size_t off = 0; rc == 0 && off < a->len; off += 32u) {
        size_t n = a->len - off < 32u ? a->len - off : 32u;
        rc = keyward_atecc608_random(dev, buf);
        if (rc == 0) {
            memcpy(a->out + off, buf, n);
        }
    }
    mbedtls_platform_zeroize(buf, sizeof(buf));
    return rc;
}

psa_status_t keyward_atecc608_entropy(uint8_t *out, size_t len)
{
    keyward_atecc608_t *dev = NULL;
    psa_status_t status = keyward_atecc608_platform_get(NULL, 0, 0, &dev);
    int rc = 0;

    if (status != PSA_SUCCESS) {
        return status;
    }
    keyward_atecc608_platform_lock(dev);
    for (size_t off = 0; rc == 0 && off < len; off += CHUNK) {
        entropy_arg_t a;
        a.out = out + off;
        a.len = len - off < CHUNK ? len - off : CHUNK;
        rc = kw608_run(dev, step_entropy, &a);
    }
    keyward_atecc608_platform_unlock(dev);
    if (rc == RC_UNLOCKED) {
        keyward_set_error("ATECC608 entropy: the configuration zone is unlocked (the RNG "
                          "gives a fixed pattern); provision the chip first");
        status = PSA_ERROR_BAD_STATE;
    } else if (rc != 0) {
        keyward_set_error("ATECC608 entropy: Random failed (%d)", rc);
        status = keyward_atecc608_to_psa(rc);
    }
    if (status != PSA_SUCCESS) {
        mbedtls_platform_zeroize(out, len); /* never half-random output */
    }
    return status;
}

#if defined(MBEDTLS_ENTROPY_HARDWARE_ALT)
#include "mbedtls/entropy.h"

/* Declared in Mbed TLS's library/entropy_poll.h, which is not installed. */
int mbedtls_hardware_poll(void *data, unsigned char *output, size_t len, size_t *olen);

int mbedtls_hardware_poll(void *data, unsigned char *output, size_t len, size_t *olen)
{
    (void)data;
    *olen = 0;
    if (keyward_atecc608_entropy(output, len) != PSA_SUCCESS) {
        return MBEDTLS_ERR_ENTROPY_SOURCE_FAILED;
    }
    *olen = len;
    return 0;
}
#endif

#if defined(MBEDTLS_PSA_DRIVER_GET_ENTROPY)
#include "mbedtls/platform.h"

int mbedtls_platform_get_entropy(psa_driver_get_entropy_flags_t flags, size_t *estimate_bits,
                                 unsigned char *output, size_t output_size)
{
    *estimate_bits = 0;
    if (flags != 0) {
        return PSA_ERROR_NOT_SUPPORTED;
    }
    if (keyward_atecc608_entropy(output, output_size) != PSA_SUCCESS) {
        return PSA_ERROR_INSUFFICIENT_ENTROPY;
    }
    /* Full entropy claimed: TF-PSA-Crypto 1.0 accepts nothing less. */
    *estimate_bits = 8u * output_size;
    return 0;
}
#endif
