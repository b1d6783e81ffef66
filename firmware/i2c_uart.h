/*
 * The firmware's I2C HAL: the bus transfers travel over a CMSDK UART that
 * QEMU connects to keyward-atecc608-emu's Unix socket
 * (-chardev socket,id=se,path=EMU.sock -serial chardev:se).  The bytes on
 * the UART are the emulator's socket framing (src/hal/i2c_socket_proto.h),
 * so the emulator needs nothing new.  On a real board this file is replaced
 * by one driving the I2C peripheral (docs/mcu-port.md).
 */
#ifndef FW_I2C_UART_H
#define FW_I2C_UART_H

#include <stdint.h>

#include "keyward/port/atecc608.h"

typedef struct {
    uint32_t uart;       /* UART base address */
    uint32_t timeout_ms; /* per reply byte; beyond it the bus is broken */
    uint32_t timeouts;   /* replies that never came (a chip, or a bus, gone) */
    uint32_t drained;    /* timeouts already followed by a drain */
} fw_i2c_uart_t;

extern const keyward_i2c_class_t fw_i2c_uart_class;

#endif
