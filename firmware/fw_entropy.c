/*
 * TEMPORARY entropy source (see fw_entropy.h): each poll is one session
 * wake -> Read config word 21 (bytes 84..87, LockConfig at 87) -> Random
 * -> idle, retried like the backend's sessions.  The chip's RNG gives a
 * fixed pattern until the configuration zone is locked, so an unlocked chip
 * is refused rather than trusted.  A Random takes about 23 ms: this seeds
 * the DRBG (and reseeds it), it is not the RNG itself.
 */
#include "fw_entropy.h"

#include <string.h>

#include "mbedtls/entropy.h"
#include "mbedtls/platform_util.h"

#define CFG_WORD_LOCKS 21u /* bytes 84..87 */
#define ATTEMPTS 3

static keyward_atecc608_t *rng_chip;
static int last_error;

void fw_entropy_attach(keyward_atecc608_t *dev)
{
    rng_chip = dev;
}

int fw_entropy_last_error(void)
{
    return last_error;
}

static int one_session(keyward_atecc608_t *dev, uint8_t out[32])
{
    uint8_t locks[4];
    int rc = keyward_atecc608_wake(dev);

    if (rc == 0) {
        rc = keyward_atecc608_read(dev, KEYWARD_ATECC608_ZONE_CONFIG, CFG_WORD_LOCKS, locks,
                                   sizeof(locks));
    }
    if (rc == 0 && locks[3] != 0x00u) {
        rc = FW_ENTROPY_UNLOCKED;
    }
    if (rc == 0) {
        rc = keyward_atecc608_random(dev, out);
    }
    if (rc == 0 || !keyward_atecc608_retryable(rc)) {
        (void)keyward_atecc608_idle(dev);
    } else {
        (void)keyward_atecc608_sleep(dev); /* a fresh wake for the retry */
    }
    return rc;
}

int mbedtls_hardware_poll(void *data, unsigned char *output, size_t len, size_t *olen)
{
    uint8_t buf[32];
    int rc = KEYWARD_ATECC608_E_ARG;

    (void)data;
    *olen = 0;
    if (rng_chip == NULL) {
        last_error = rc;
        return MBEDTLS_ERR_ENTROPY_SOURCE_FAILED;
    }
    keyward_atecc608_platform_lock(rng_chip);
    for (int i = 0; i < ATTEMPTS; i++) {
        rc = one_session(rng_chip, buf);
        if (rc == 0 || rc == FW_ENTROPY_UNLOCKED || !keyward_atecc608_retryable(rc)) {
            break;
        }
    }
    keyward_atecc608_platform_unlock(rng_chip);
    last_error = rc;
    if (rc != 0) {
        mbedtls_platform_zeroize(buf, sizeof(buf));
        return MBEDTLS_ERR_ENTROPY_SOURCE_FAILED;
    }
    *olen = len < sizeof(buf) ? len : sizeof(buf);
    memcpy(output, buf, *olen);
    mbedtls_platform_zeroize(buf, sizeof(buf));
    return 0;
}
