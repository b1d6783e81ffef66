/*
 * ATECC608 command layer over the I2C HAL: wake, word-address framing,
 * polling, idle/sleep, one function per command.  Portable C: no heap, no
 * globals, no OS; every buffer is on the caller's stack (at most 160 bytes).
 */
#include <string.h>

#include "atecc608_proto.h"

/* Word addresses (the first byte of every write). */
#define WA_RESET 0x00u
#define WA_SLEEP 0x01u
#define WA_IDLE 0x02u
#define WA_COMMAND 0x03u

#define T_WHI_US 1500u      /* wake high time before the chip answers */
#define POLL_FIRST_US 1000u /* first look after sending a command */
#define POLL_EVERY_US 2000u /* then every 2 ms while the chip NAKs */
#define WAKE_TRIES 3

/*
 * Polling budget (ms): how long we keep polling before calling the chip
 * silent.  Microchip publishes the 608's maximum times only under NDA;
 * cryptoauthlib's table gives them for clock divider 0 (GenKey, Sign 115
 * ms, ECDH 75, Verify 105; Write 45 and less for the rest) and the 0x68
 * divider is about 5.8x slower (Sign 665 ms).  Polling ends as soon as the
 * chip answers, so the budget is 6x the divider-0 time of the slowest
 * command of each class: the ECC commands (opcodes 0x40..0x7F: GenKey,
 * Sign, ECDH, Verify, SHA, SelfTest) 690 ms, the others (Read, Write,
 * Nonce, Lock, Random, Info) 270 ms.  Two classes rather than a table: the
 * budget costs nothing on the normal path, and a table costs the MCU build
 * about 80 bytes.
 */
static uint32_t budget_ms(uint8_t opcode)
{
    return (opcode & 0x40u) ? 690u : 270u;
}

void keyward_atecc608_init(keyward_atecc608_t *dev, const keyward_i2c_class_t *i2c, void *i2c_ctx,
                           uint8_t addr)
{
    memset(dev, 0, sizeof(*dev));
    dev->i2c = i2c;
    dev->i2c_ctx = i2c_ctx;
    dev->addr = addr;
    for (size_t i = 0; i < KEYWARD_ATECC608_PUBKEY_CACHE; i++) {
        dev->pub[i].slot = 0xFF;
    }
}

static int bus_rc(int r)
{
    return r == KEYWARD_I2C_OK    ? 0
           : r == KEYWARD_I2C_NAK ? KEYWARD_ATECC608_E_NAK
                                  : KEYWARD_ATECC608_E_BUS;
}

static int word_address(keyward_atecc608_t *dev, uint8_t wa)
{
    return bus_rc(dev->i2c->write(dev->i2c_ctx, dev->addr, &wa, 1));
}

int keyward_atecc608_idle(keyward_atecc608_t *dev)
{
    return word_address(dev, WA_IDLE);
}

int keyward_atecc608_sleep(keyward_atecc608_t *dev)
{
    return word_address(dev, WA_SLEEP);
}

int keyward_atecc608_wake(keyward_atecc608_t *dev)
{
    int rc = KEYWARD_ATECC608_E_WAKE;

    for (int i = 0; i < WAKE_TRIES; i++) {
        uint8_t r[4];
        const uint8_t *p;
        size_t n;
        int b;

        if (dev->i2c->wake(dev->i2c_ctx) == KEYWARD_I2C_ERROR) {
            rc = KEYWARD_ATECC608_E_BUS;
            continue;
        }
        dev->i2c->delay_us(dev->i2c_ctx, T_WHI_US);
        b = dev->i2c->read(dev->i2c_ctx, dev->addr, r, sizeof(r));
        if (b == KEYWARD_I2C_NAK) {
            /* A lost wake pulse: the chip still sleeps.  Pulse again. */
            rc = KEYWARD_ATECC608_E_WAKE;
            continue;
        }
        if (b != KEYWARD_I2C_OK) {
            rc = KEYWARD_ATECC608_E_BUS;
            continue;
        }
        /* The reply is a status packet whose CRC we compute (04 11 -> 33 43). */
        rc = keyward_atecc608_parse(r, sizeof(r), &p, &n);
        if (rc == 0 && p[0] == KEYWARD_ATECC608_STATUS_AFTER_WAKE) {
            return 0;
        }
        if (rc == 0) {
            rc = p[0];
        }
        /* A chip that was already awake ignores the pulse and we read a
         * stale buffer: send it to idle so that the next pulse wakes it. */
        (void)word_address(dev, WA_IDLE);
    }
    return rc == 0 ? KEYWARD_ATECC608_E_WAKE : rc;
}

int keyward_atecc608_command(keyward_atecc608_t *dev, uint8_t opcode, uint8_t p1, uint16_t p2,
                             const uint8_t *data, size_t dlen, uint8_t *resp, size_t resp_len)
{
    uint8_t buf[160];
    const uint8_t *payload;
    size_t len, plen;
    uint32_t waited_us = 0, budget_us = budget_ms(opcode) * 1000u;
    static const uint8_t reset_wa = WA_RESET;
    int b, rc;

    /* The packet is built here rather than by keyward_atecc608_packet():
     * one place fewer for the MCU image to carry (that function is the same
     * format for callers that only want the bytes, e.g. the tests). */
    len = 7u + dlen;
    if (len > 151u || resp_len + 3u > sizeof(buf) || (dlen > 0 && data == NULL)) {
        return KEYWARD_ATECC608_E_ARG;
    }
    /* The data before the header: gcc -Os otherwise writes the header on
     * both sides of the dlen test (20 bytes more in an MCU image). */
    if (dlen > 0) {
        memcpy(buf + 6, data, dlen);
    }
    buf[0] = WA_COMMAND;
    buf[1] = (uint8_t)len;
    buf[2] = opcode;
    buf[3] = p1;
    buf[4] = (uint8_t)p2;
    buf[5] = (uint8_t)(p2 >> 8);
    plen = keyward_atecc608_crc16(buf + 1, len - 2u);
    buf[len - 1u] = (uint8_t)plen;
    buf[len++] = (uint8_t)(plen >> 8);
    rc = bus_rc(dev->i2c->write(dev->i2c_ctx, dev->addr, buf, len));
    if (rc != 0) {
        return rc;
    }
    /* The chip NAKs its address until the command has executed.  Each
     * receive starts with a reset of the read address (word address 0x00),
     * as cryptoauthlib's calib_execute_receive does: the count byte is then
     * always the reply's first byte, whatever an earlier read left behind.
     * While the chip is busy that write is NAKed: it is the poll. */
    dev->i2c->delay_us(dev->i2c_ctx, POLL_FIRST_US);
    for (;;) {
        b = dev->i2c->write(dev->i2c_ctx, dev->addr, &reset_wa, 1);
        if (b == KEYWARD_I2C_OK) {
            b = dev->i2c->read(dev->i2c_ctx, dev->addr, buf, 1);
        }
        if (b != KEYWARD_I2C_NAK) {
            break;
        }
        if (waited_us >= budget_us) {
            return KEYWARD_ATECC608_E_NAK;
        }
        dev->i2c->delay_us(dev->i2c_ctx, POLL_EVERY_US);
        waited_us += POLL_EVERY_US;
    }
    if (b != KEYWARD_I2C_OK) {
        return KEYWARD_ATECC608_E_BUS;
    }
    len = buf[0];
    if (len < 4u || len > sizeof(buf)) {
        return KEYWARD_ATECC608_E_LENGTH; /* not a packet: a garbled count byte */
    }
    rc = bus_rc(dev->i2c->read(dev->i2c_ctx, dev->addr, buf + 1, len - 1u));
    if (rc != 0) {
        return rc;
    }
    rc = keyward_atecc608_parse(buf, len, &payload, &plen);
    if (rc != 0) {
        return rc;
    }
    if (plen == 1u && resp_len != 1u) {
        /* A status reply: 00 only means success for status-only commands. */
        if (payload[0] != 0u) {
            return payload[0];
        }
        return resp_len == 0u ? 0 : KEYWARD_ATECC608_E_LENGTH;
    }
    if (plen != resp_len) {
        return KEYWARD_ATECC608_E_LENGTH;
    }
    memcpy(resp, payload, plen);
    return 0;
}

int keyward_atecc608_info(keyward_atecc608_t *dev, uint8_t revision[4])
{
    return keyward_atecc608_command(dev, KEYWARD_ATECC608_OP_INFO, 0x00, 0, NULL, 0, revision, 4);
}

int keyward_atecc608_read(keyward_atecc608_t *dev, uint8_t zone, uint16_t addr, uint8_t *buf,
                          size_t len)
{
    if ((len != 4u && len != 32u) || zone > KEYWARD_ATECC608_ZONE_DATA) {
        return KEYWARD_ATECC608_E_ARG;
    }
    return keyward_atecc608_command(dev, KEYWARD_ATECC608_OP_READ,
                                    (uint8_t)(zone | (len == 32u ? 0x80u : 0u)), addr, NULL, 0, buf,
                                    len);
}

int keyward_atecc608_write(keyward_atecc608_t *dev, uint8_t zone, uint16_t addr, const uint8_t *buf,
                           size_t len)
{
    if ((len != 4u && len != 32u) || zone > KEYWARD_ATECC608_ZONE_DATA) {
        return KEYWARD_ATECC608_E_ARG;
    }
    return keyward_atecc608_command(dev, KEYWARD_ATECC608_OP_WRITE,
                                    (uint8_t)(zone | (len == 32u ? 0x80u : 0u)), addr, buf, len,
                                    NULL, 0);
}

int keyward_atecc608_lock(keyward_atecc608_t *dev, uint8_t mode, uint16_t crc)
{
    return keyward_atecc608_command(dev, KEYWARD_ATECC608_OP_LOCK, mode, crc, NULL, 0, NULL, 0);
}

int keyward_atecc608_random(keyward_atecc608_t *dev, uint8_t out[32])
{
    /* Mode 0 (update the seed), no data: count 7, as cryptoauthlib sends it
     * (RANDOM_COUNT = the minimum packet); docs/atecc608.md. */
    return keyward_atecc608_command(dev, KEYWARD_ATECC608_OP_RANDOM, 0x00, 0, NULL, 0, out, 32);
}

int keyward_atecc608_nonce_load(keyward_atecc608_t *dev, uint8_t target, const uint8_t in[32])
{
    if (target != 0x00u && target != 0x40u) {
        return KEYWARD_ATECC608_E_ARG;
    }
    /* Pass-through (mode 3): no RNG, the 32 bytes become TempKey/MsgDigBuf. */
    return keyward_atecc608_command(dev, KEYWARD_ATECC608_OP_NONCE, (uint8_t)(0x03u | target), 0,
                                    in, 32, NULL, 0);
}

int keyward_atecc608_sign(keyward_atecc608_t *dev, uint8_t mode, uint8_t slot, uint8_t sig[64])
{
    if (slot > 15u) {
        return KEYWARD_ATECC608_E_ARG;
    }
    return keyward_atecc608_command(dev, KEYWARD_ATECC608_OP_SIGN, mode, slot, NULL, 0, sig, 64);
}

int keyward_atecc608_genkey(keyward_atecc608_t *dev, uint8_t mode, uint8_t slot, uint8_t pub[64])
{
    if (slot > 15u || (mode != 0x00u && mode != 0x04u)) {
        return KEYWARD_ATECC608_E_ARG;
    }
    return keyward_atecc608_command(dev, KEYWARD_ATECC608_OP_GENKEY, mode, slot, NULL, 0, pub, 64);
}
