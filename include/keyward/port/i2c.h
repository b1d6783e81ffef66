/*
 * The I2C HAL class: the bus as keyward's ATECC608 protocol layer sees it.
 * A board port implements these four functions (src/hal/ has the Linux
 * i2c-dev and the emulator's socket bus; docs/mcu-port.md a UART bridge).
 */
#ifndef KEYWARD_PORT_I2C_H
#define KEYWARD_PORT_I2C_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- The I2C HAL you implement ------------------------------------------------ */

#define KEYWARD_I2C_OK 0
#define KEYWARD_I2C_NAK 1   /* no ACK: the device is asleep, busy or absent */
#define KEYWARD_I2C_ERROR 2 /* the bus itself failed (transport gone, ioctl error) */

typedef struct keyward_i2c_class {
    const char *name;
    /* [in] ctx.  Produce the wake condition: SDA low for at least tWLO (60 us).
     * Does not wait tWHI and does not read the wake reply; the driver does. */
    int (*wake)(void *ctx);
    /* [in] addr 7-bit device address, data/len the bytes after the address
     * byte (the first one is the chip's word address).  KEYWARD_I2C_NAK when
     * the address is not acknowledged. */
    int (*write)(void *ctx, uint8_t addr, const uint8_t *data, size_t len);
    /* [out] data: len bytes read in one transfer.  KEYWARD_I2C_NAK when the
     * address is not acknowledged (that is how a busy chip answers: the
     * driver polls on it, with delay_us between attempts). */
    int (*read)(void *ctx, uint8_t addr, uint8_t *data, size_t len);
    /* Waits at least us microseconds. */
    void (*delay_us)(void *ctx, uint32_t us);
} keyward_i2c_class_t;

#ifdef __cplusplus
}
#endif
#endif
