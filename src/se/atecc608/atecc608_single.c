/*
 * The ATECC608 platform layer for an MCU with one chip: the application
 * calls keyward_atecc608_attach() with its keyward_atecc608_t (bound to its
 * I2C HAL by keyward_atecc608_init) before using the keys; bus= in KEYREFs
 * is ignored.  Under an RTOS with several tasks signing, define
 * KEYWARD_ATECC608_LOCK(dev)/KEYWARD_ATECC608_UNLOCK(dev) to take a mutex:
 * Nonce and Sign must not interleave.
 */
#include "atecc608_proto.h"
#include "keyward/port/backend.h"

#ifndef KEYWARD_ATECC608_LOCK
#define KEYWARD_ATECC608_LOCK(dev) ((void)(dev))
#define KEYWARD_ATECC608_UNLOCK(dev) ((void)(dev))
#endif

static keyward_atecc608_t *the_chip;

void keyward_atecc608_attach(keyward_atecc608_t *dev)
{
    the_chip = dev;
}

psa_status_t keyward_atecc608_platform_get(const char *bus, size_t bus_len, uint8_t addr,
                                           keyward_atecc608_t **dev)
{
    (void)bus;
    (void)bus_len;
    (void)addr;
    if (the_chip == NULL) {
        return PSA_ERROR_BAD_STATE;
    }
    *dev = the_chip;
    return PSA_SUCCESS;
}

void keyward_atecc608_platform_lock(keyward_atecc608_t *dev)
{
    KEYWARD_ATECC608_LOCK(dev);
}

void keyward_atecc608_platform_unlock(keyward_atecc608_t *dev)
{
    KEYWARD_ATECC608_UNLOCK(dev);
}
