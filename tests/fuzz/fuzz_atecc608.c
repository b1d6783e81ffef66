/*
 * Fuzz target: what the ATECC608 driver parses — the chip's replies as the
 * command layer reads them off the bus (src/se/atecc608/atecc608_chip.c:
 * wake reply, polling, count byte, status replies, payload lengths) and the
 * packet checks under it (atecc608_proto.c: count, CRC, status codes), plus
 * atecc608: KEYREFs (kw608_keyref_parse).
 *
 * Input layout: byte 0 picks a command (info, read, random, sign, genkey,
 * nonce, write, lock); the rest is the bus script.  A scripted I2C HAL
 * answers every read from the script: one control byte (NAK, bus error,
 * the bytes as they are, or the bytes with their CRC made right, so that
 * the fuzzer gets past the checksum to the checks behind it), then the
 * bytes.  The whole input is also checked as a raw reply packet and as
 * KEYREF text.
 */
#include "fuzz_main.h"
#include "keyward/port/atecc608.h"
#include "se/atecc608/atecc608_internal.h"

typedef struct {
    const uint8_t *p, *end;
    uint8_t count; /* count byte of the reply being read (the 1-byte read) */
} script_t;

static int s_wake(void *ctx)
{
    (void)ctx;
    return KEYWARD_I2C_OK;
}

static int s_write(void *ctx, uint8_t addr, const uint8_t *data, size_t len)
{
    script_t *s = ctx;
    uint8_t again[160];
    (void)addr;

    /* A command: the command layer frames it itself; the packet builder
     * (keyward_atecc608_packet) must make the same bytes of it. */
    if (len > 1 &&
        (len < 8 || data[0] != 0x03 || data[1] != len - 1 ||
         keyward_atecc608_packet(again, sizeof(again), data[2], data[3],
                                 (uint16_t)(data[4] | data[5] << 8), data + 6, len - 8) != len ||
         memcmp(again, data, len) != 0)) {
        abort();
    }
    return s->p < s->end ? KEYWARD_I2C_OK : KEYWARD_I2C_ERROR;
}

static void fix_crc(uint8_t *pkt, size_t len)
{
    uint16_t crc = keyward_atecc608_crc16(pkt, len - 2u);
    pkt[len - 2u] = (uint8_t)crc;
    pkt[len - 1u] = (uint8_t)(crc >> 8);
}

static int s_read(void *ctx, uint8_t addr, uint8_t *data, size_t len)
{
    script_t *s = ctx;
    uint8_t ctl;
    (void)addr;

    if (s->p >= s->end) {
        return KEYWARD_I2C_ERROR; /* the script is over: the bus is gone */
    }
    ctl = *s->p++;
    if (ctl % 8 == 0) {
        return KEYWARD_I2C_NAK;
    }
    if (ctl % 8 == 1) {
        return KEYWARD_I2C_ERROR;
    }
    for (size_t i = 0; i < len; i++) {
        data[i] = s->p < s->end ? *s->p++ : 0;
    }
    if (len == 1) {
        s->count = data[0];
    } else if (ctl % 8 == 7 && len >= 3) {
        if (len == 4 && s->count == 0) { /* the wake reply: one transfer */
            fix_crc(data, len);
        } else { /* the rest of a reply whose count byte came first */
            uint8_t pkt[256];
            pkt[0] = s->count;
            memcpy(pkt + 1, data, len);
            fix_crc(pkt, len + 1u);
            memcpy(data, pkt + 1, len);
        }
    }
    return KEYWARD_I2C_OK;
}

static void s_delay(void *ctx, uint32_t us)
{
    (void)ctx;
    (void)us;
}

static const keyward_i2c_class_t script_i2c = {"fuzz-script", s_wake, s_write, s_read, s_delay};

static int run_command(keyward_atecc608_t *dev, uint8_t which)
{
    uint8_t buf[64] = {0};

    switch (which % 8) {
    case 0:
        return keyward_atecc608_info(dev, buf);
    case 1:
        return keyward_atecc608_read(dev, KEYWARD_ATECC608_ZONE_CONFIG, 0, buf,
                                     which & 0x80u ? 32u : 4u);
    case 2:
        return keyward_atecc608_random(dev, buf);
    case 3:
        return keyward_atecc608_sign(dev, 0x80, (uint8_t)(which >> 3), buf); /* 0..31 */
    case 4:
        return keyward_atecc608_genkey(dev, which & 0x10u ? 0x04 : 0x00, 0, buf);
    case 5:
        return keyward_atecc608_nonce_load(dev, which & 0x10u ? 0x40 : 0x00, buf);
    case 6:
        return keyward_atecc608_write(dev, KEYWARD_ATECC608_ZONE_DATA, 8, buf, 32);
    default:
        return keyward_atecc608_lock(dev, 0x80, 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *payload = NULL;
    size_t plen = 0;
    kw608_keyref_t kr;
    keyward_atecc608_t dev;
    script_t s = {data + (size > 0), data + size, 0};
    uint8_t cmd[160];
    int rc;

    if (keyward_atecc608_parse(data, size, &payload, &plen) == 0) {
        /* accepted: the payload is the packet between its count byte and
         * its CRC, and the CRC holds */
        if (size < 4 || payload != data + 1 || plen != size - 3 ||
            keyward_atecc608_crc16(data, size - 2) !=
                (uint16_t)(data[size - 2] | (data[size - 1] << 8))) {
            abort();
        }
        /* what a command builder makes of the payload parses back */
        if (plen >= 4 &&
            keyward_atecc608_packet(cmd, sizeof(cmd), payload[0], payload[1],
                                    (uint16_t)(payload[2] | payload[3] << 8), payload + 4,
                                    plen - 4) != 0 &&
            keyward_atecc608_parse(cmd + 1, cmd[1], &payload, &plen) != 0) {
            abort();
        }
    }
    if (kw608_keyref_parse(data, size, &kr) == PSA_SUCCESS) {
        if (kr.slot > 15 ||
            (kr.bus != NULL && ((const uint8_t *)kr.bus < data ||
                                (const uint8_t *)kr.bus + kr.bus_len > data + size))) {
            abort();
        }
    }
    if (size == 0) {
        return 0;
    }
    keyward_atecc608_init(&dev, &script_i2c, &s, KEYWARD_ATECC608_ADDR_DEFAULT);
    rc = keyward_atecc608_wake(&dev);
    if (rc == 0) {
        rc = run_command(&dev, data[0]);
    }
    /* Every outcome maps to a PSA status and has a name. */
    if ((keyward_atecc608_to_psa(rc) == PSA_SUCCESS) != (rc == 0) ||
        keyward_atecc608_rc_name(rc) == NULL) {
        abort();
    }
    (void)keyward_atecc608_retryable(rc);
    return 0;
}

static void kw_fuzz_seeds(void (*add)(const uint8_t *, size_t))
{
    static const char *const keyrefs[] = {
        "atecc608:slot=0",
        "atecc608:slot=15;bus=unix:/tmp/emu.sock",
        "atecc608:slot=3;bus=/dev/i2c-1;addr=0x60",
        "atecc608:addr=0X1f;slot=9",
    };
    /* wake OK (control 7: CRC fixed), then per command: a NAK poll, the
     * count byte, and the rest with its CRC fixed. */
    static const uint8_t wake_ok[] = {7, 4, 0x11, 0, 0};
    uint8_t in[128];
    size_t n;
    uint16_t crc;

    for (size_t i = 0; i < sizeof(keyrefs) / sizeof(keyrefs[0]); i++) {
        add((const uint8_t *)keyrefs[i], strlen(keyrefs[i]));
    }
    /* raw packets: the wake reply, a status reply */
    add((const uint8_t *)"\x04\x11\x33\x43", 4);
    in[0] = 4;
    in[1] = 0x00;
    crc = keyward_atecc608_crc16(in, 2);
    in[2] = (uint8_t)crc;
    in[3] = (uint8_t)(crc >> 8);
    add(in, 4);
    /* an Info reply: 4 bytes of payload */
    in[0] = 7;
    in[1] = 0x00;
    in[2] = 0x00;
    in[3] = 0x60;
    in[4] = 0x02;
    crc = keyward_atecc608_crc16(in, 5);
    in[5] = (uint8_t)crc;
    in[6] = (uint8_t)(crc >> 8);
    add(in, 7);
    /* scripted sessions: info (4-byte reply), random (32), sign (64), a
     * status-only command, a status error, a garbled count */
    static const struct {
        uint8_t cmd, count;
    } sessions[] = {{0, 7}, {0x81, 35}, {2, 35}, {3, 67}, {6, 4}, {7, 4}, {0, 4}, {0, 200}};
    for (size_t i = 0; i < sizeof(sessions) / sizeof(sessions[0]); i++) {
        n = 0;
        in[n++] = sessions[i].cmd;
        memcpy(in + n, wake_ok, sizeof(wake_ok));
        n += sizeof(wake_ok);
        in[n++] = 0; /* first poll: NAK */
        in[n++] = 2; /* then the count byte */
        in[n++] = sessions[i].count;
        in[n++] = 7; /* the rest, CRC fixed */
        for (size_t k = 1; k < sessions[i].count && k < 68 && n < sizeof(in); k++) {
            /* a status reply: 0x0F (execution error) to info, 00 to the others */
            in[n++] =
                sessions[i].count == 4 ? (sessions[i].cmd == 0 ? 0x0F : 0x00) : (uint8_t)(k * 29);
        }
        add(in, n);
    }
}
