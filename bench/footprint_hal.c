/*
 * A representative MCU I2C HAL for bench/footprint.sh's "HAL" line: the four
 * functions of keyward_i2c_class_t over a board support package's blocking
 * transfers (declared here; a real port calls its vendor driver).  Not part
 * of keyward's share: the application writes its own.
 */
#include "keyward/port/atecc608.h"

/* 0 acknowledged, 1 address not acknowledged, negative: bus error. */
extern int bsp_i2c_write(uint8_t addr, const uint8_t *data, size_t len);
extern int bsp_i2c_read(uint8_t addr, uint8_t *data, size_t len);
extern void bsp_delay_us(uint32_t us);

static int result(int r)
{
    return r == 0 ? KEYWARD_I2C_OK : r == 1 ? KEYWARD_I2C_NAK : KEYWARD_I2C_ERROR;
}

static int hal_wake(void *ctx)
{
    /* At 100 kHz a write to address 0 holds SDA low long enough; 0x01 is
     * not a general-call command (docs/atecc608.md).  Its NAK is expected. */
    static const uint8_t second = 0x01;
    (void)ctx;
    return bsp_i2c_write(0x00, &second, 1) < 0 ? KEYWARD_I2C_ERROR : KEYWARD_I2C_OK;
}

static int hal_write(void *ctx, uint8_t addr, const uint8_t *data, size_t len)
{
    (void)ctx;
    return result(bsp_i2c_write(addr, data, len));
}

static int hal_read(void *ctx, uint8_t addr, uint8_t *data, size_t len)
{
    (void)ctx;
    return result(bsp_i2c_read(addr, data, len));
}

static void hal_delay_us(void *ctx, uint32_t us)
{
    (void)ctx;
    bsp_delay_us(us);
}

const keyward_i2c_class_t board_i2c = {"board-i2c", hal_wake, hal_write, hal_read, hal_delay_us};
