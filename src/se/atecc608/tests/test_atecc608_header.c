/*
 * The firmware author's header alone (issue 10, "headers that match the
 * layers"): include/keyward/port/atecc608.h gives the HAL class, the chip and
 * the builtin-key declaration, and nothing of the protocol.
 */
#include "keyward/port/atecc608.h"

#include <stdio.h>

#include "kwcheck.h"

#if defined(KEYWARD_ATECC608_OP_SIGN) || defined(KEYWARD_ATECC608_STATUS_PARSE) || \
    defined(KEYWARD_ATECC608_H_PROTO) || defined(KEYWARD_ATECC608_PROTO_H)
#error "the protocol leaked into the firmware author's header"
#endif

static int my_wake(void *ctx)
{
    (void)ctx;
    return KEYWARD_I2C_NAK;
}
static int my_write(void *ctx, uint8_t addr, const uint8_t *d, size_t n)
{
    (void)ctx;
    (void)addr;
    (void)d;
    (void)n;
    return KEYWARD_I2C_NAK;
}
static int my_read(void *ctx, uint8_t addr, uint8_t *d, size_t n)
{
    (void)ctx;
    (void)addr;
    (void)d;
    (void)n;
    return KEYWARD_I2C_NAK;
}
static void my_delay_us(void *ctx, uint32_t us)
{
    (void)ctx;
    (void)us;
}

static const keyward_i2c_class_t my_i2c = {"test-hal", my_wake, my_write, my_read, my_delay_us};

/* Provided by the protocol layer: checked here to exist with this signature. */
extern void (*const init_fn)(keyward_atecc608_t *, const keyward_i2c_class_t *, void *, uint8_t);
void (*const init_fn)(keyward_atecc608_t *, const keyward_i2c_class_t *, void *,
                      uint8_t) = keyward_atecc608_init;

int main(void)
{
    static keyward_atecc608_t chip;
    psa_key_id_t id = MBEDTLS_PSA_KEY_ID_BUILTIN_MIN + 7;
    psa_status_t st;

    REQUIRE(psa_crypto_init() == PSA_SUCCESS);
    keyward_atecc608_init(&chip, &my_i2c, NULL, KEYWARD_ATECC608_ADDR_DEFAULT);
    /* keyward_atecc608_init binds the HAL */
    REQUIRE(chip.i2c == &my_i2c && chip.addr == 0x60);
    st = KEYWARD_ATECC608_BUILTIN(id, "3");
    REQUIRE_EQ(st, PSA_SUCCESS);
    return kw_test_end("atecc608_header");
}
