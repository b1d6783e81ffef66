/*
 * I2C HAL on Linux i2c-dev (/dev/i2c-N), e.g. a Raspberry Pi with the chip
 * on pins 3/5 (/dev/i2c-1).  Needs the kernel's i2c-dev module and an
 * adapter that supports I2C_RDWR (plain I2C, not SMBus-only).
 */
#ifndef KEYWARD_I2C_LINUX_H
#define KEYWARD_I2C_LINUX_H

#include "keyward/port/i2c.h" /* the HAL class; no backend header: the HAL builds without one */

typedef struct {
    int fd; /* -1: closed */
} keyward_i2c_linux_t;

extern const keyward_i2c_class_t keyward_i2c_linux_class;

/* Opens the adapter (e.g. "/dev/i2c-1").  0, or -1 with errno set. */
int keyward_i2c_linux_open(keyward_i2c_linux_t *bus, const char *device);
void keyward_i2c_linux_close(keyward_i2c_linux_t *bus);

#endif
