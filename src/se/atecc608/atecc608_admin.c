/*
 * ATECC608 administration (include/keyward/port/atecc608_admin.h): the
 * configuration zone, the locks and the chip's identity, over the internal
 * command layer, for keyward-tool and the firmware.  Each call is one
 * kw608_run session, so a tool gets the backend's retry rules.
 */
#include <string.h>

#include "atecc608_internal.h"
#include "keyward/port/atecc608_admin.h"

psa_status_t keyward_atecc608_admin_open(const char *keyref, keyward_atecc608_t **dev)
{
    kw608_keyref_t kr;
    psa_status_t status = PSA_ERROR_CORRUPTION_DETECTED;

    if (keyref == NULL || dev == NULL) {
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    status = kw608_keyref_parse((const uint8_t *)keyref, strlen(keyref), &kr);
    if (status == PSA_SUCCESS) {
        status = kw608_open(&kr, dev);
    }
    return status;
}

void keyward_atecc608_admin_close(keyward_atecc608_t *dev)
{
    if (dev != NULL) {
        keyward_atecc608_platform_unlock(dev);
    }
}

typedef struct {
    uint16_t addr;
    uint8_t mode;
    uint16_t crc;
    const uint8_t *in;
    uint8_t *out;
    uint8_t *revision;
    size_t len;
} admin_arg_t;

static int step_read_config(keyward_atecc608_t *dev, void *p)
{
    admin_arg_t *a = p;
    int rc = keyward_atecc608_info(dev, a->revision);

    for (uint16_t block = 0; rc == 0 && block < 4; block++) {
        rc = keyward_atecc608_read(dev, KEYWARD_ATECC608_ZONE_CONFIG, (uint16_t)(block << 3),
                                   a->out + 32u * block, 32);
    }
    return rc;
}

int keyward_atecc608_admin_read_config(keyward_atecc608_t *dev,
                                       uint8_t config[KEYWARD_ATECC608_CONFIG_SIZE],
                                       uint8_t revision[4])
{
    admin_arg_t a = {.out = config, .revision = revision};

    return kw608_run(dev, step_read_config, &a);
}

static int step_write(keyward_atecc608_t *dev, void *p)
{
    admin_arg_t *a = p;

    return keyward_atecc608_write(dev, KEYWARD_ATECC608_ZONE_CONFIG, a->addr, a->in, a->len);
}

int keyward_atecc608_admin_write_config(keyward_atecc608_t *dev, uint16_t addr, const uint8_t *in,
                                        size_t len)
{
    admin_arg_t a = {.addr = addr, .in = in, .len = len};

    return kw608_run(dev, step_write, &a);
}

static int step_lock(keyward_atecc608_t *dev, void *p)
{
    admin_arg_t *a = p;

    return keyward_atecc608_lock(dev, a->mode, a->crc);
}

int keyward_atecc608_admin_lock(keyward_atecc608_t *dev, uint8_t mode, uint16_t crc)
{
    admin_arg_t a = {.mode = mode, .crc = crc};

    return kw608_run(dev, step_lock, &a);
}

/* Not kw608_run: a firmware reports how many wakes it took (a flaky bus
 * shows there first), which kw608_run does not count.  Same rules: sleep
 * and wake again after a retryable failure, idle after the last command. */
int keyward_atecc608_admin_identify(keyward_atecc608_t *dev, keyward_atecc608_ident_t *id)
{
    int rc = KEYWARD_ATECC608_E_WAKE;

    id->attempts = 0;
    for (int attempt = 0; attempt < KW608_ATTEMPTS; attempt++) {
        id->attempts = attempt + 1;
        rc = keyward_atecc608_wake(dev);
        if (rc == 0) {
            rc = keyward_atecc608_info(dev, id->revision);
        }
        if (rc == 0) {
            rc = keyward_atecc608_read(dev, KEYWARD_ATECC608_ZONE_CONFIG, 0, id->config0, 32);
        }
        if (rc == 0) {
            /* Block 2, word 5: bytes 84..87, the lock bytes. */
            rc = keyward_atecc608_read(dev, KEYWARD_ATECC608_ZONE_CONFIG, 21, id->locks, 4);
        }
        if (rc == 0 || !keyward_atecc608_retryable(rc)) {
            (void)keyward_atecc608_idle(dev);
            return rc;
        }
        (void)keyward_atecc608_sleep(dev);
    }
    return rc;
}
