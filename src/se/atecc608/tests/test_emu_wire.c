/*
 * Known-answer tests of the emulator's own wire knowledge (emulator/wire.c),
 * compiled without any keyward code: the CRC against the published
 * vectors, command parsing, replies and zone addressing.  The driver's side
 * has its own vectors in test_atecc608_proto.c.
 */
#include <stdio.h>
#include <string.h>

#include "wire.h"

/* The test toolkit's check header: no keyward code either. */
#include "kwcheck.h"

static void crc_vectors(void)
{
    /* From the datasheet facts: bytes -> CRC as stored (low byte first). */
    static const struct {
        uint8_t in[5];
        size_t n;
        uint8_t lo, hi;
    } v[] = {
        {{0x04, 0x11}, 2, 0x33, 0x43},                   /* the wake reply */
        {{0x04, 0x00}, 2, 0x03, 0x40},                   /* status success */
        {{0x07, 0x30, 0x00, 0x00, 0x00}, 5, 0x03, 0x5D}, /* Info mode 0 */
        {{0x07, 0x00, 0x00, 0x60, 0x02}, 5, 0x80, 0x38}, /* Info reply, 608A */
        {{0x07, 0x1B, 0x00, 0x00, 0x00}, 5, 0x24, 0xCD}, /* Random, no data */
        {{0x04, 0x0F}, 2, 0x23, 0x42},                   /* execution error */
        {{0x04, 0xEE}, 2, 0x31, 0x41},                   /* watchdog about to expire */
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        uint16_t crc = wire_crc16(v[i].in, v[i].n);
        CHECK((crc & 0xFF) == v[i].lo && (crc >> 8) == v[i].hi);
    }
    CHECK(wire_crc16(NULL, 0) == 0);
}

static void parsing(void)
{
    static const uint8_t info[] = {0x07, 0x30, 0x00, 0x00, 0x00, 0x03, 0x5D};
    uint8_t bad[sizeof(info)], big[160];
    wire_cmd_t c;

    CHECK(wire_parse_command(info, sizeof(info), &c) == 0);
    CHECK(c.opcode == WIRE_OP_INFO && c.p1 == 0 && c.p2 == 0 && c.dlen == 0);
    memcpy(bad, info, sizeof(bad));
    bad[6] ^= 1; /* CRC */
    CHECK(wire_parse_command(bad, sizeof(bad), &c) != 0);
    memcpy(bad, info, sizeof(bad));
    bad[0] = 8; /* count disagrees with the length */
    CHECK(wire_parse_command(bad, sizeof(bad), &c) != 0);
    CHECK(wire_parse_command(info, 6, &c) != 0); /* below 7 */
    /* 152 bytes: above the datasheet's 151, even with a right CRC. */
    memset(big, 0, sizeof(big));
    big[0] = 152;
    big[1] = WIRE_OP_NONCE;
    {
        uint16_t crc = wire_crc16(big, 150);
        big[150] = (uint8_t)crc;
        big[151] = (uint8_t)(crc >> 8);
    }
    CHECK(wire_parse_command(big, 152, &c) != 0);
    /* param2 little endian, data after the 5-byte header. */
    {
        uint8_t p[9] = {0x09, WIRE_OP_SIGN, 0x80, 0x34, 0x12, 0xAA, 0xBB};
        uint16_t crc = wire_crc16(p, 7);
        p[7] = (uint8_t)crc;
        p[8] = (uint8_t)(crc >> 8);
        CHECK(wire_parse_command(p, 9, &c) == 0);
        CHECK(c.p2 == 0x1234 && c.dlen == 2 && c.data[0] == 0xAA && c.data[1] == 0xBB);
    }
}

static void lengths(void)
{
    /* opcode, param1, data length, allowed */
    static const struct {
        uint8_t op, p1;
        size_t n;
        int ok;
    } v[] = {
        {WIRE_OP_RANDOM, 0, 0, 1},    {WIRE_OP_RANDOM, 0, 20, 0},   {WIRE_OP_INFO, 0, 0, 1},
        {WIRE_OP_INFO, 0, 4, 0},      {WIRE_OP_READ, 0x80, 0, 1},   {WIRE_OP_READ, 0, 4, 0},
        {WIRE_OP_WRITE, 0, 4, 1},     {WIRE_OP_WRITE, 0x80, 32, 1}, {WIRE_OP_WRITE, 0x80, 4, 0},
        {WIRE_OP_WRITE, 0xC2, 64, 1}, {WIRE_OP_NONCE, 0x03, 32, 1}, {WIRE_OP_NONCE, 0x43, 32, 1},
        {WIRE_OP_NONCE, 0x23, 64, 1}, {WIRE_OP_NONCE, 0x03, 20, 0}, {WIRE_OP_NONCE, 0x00, 20, 1},
        {WIRE_OP_NONCE, 0x00, 32, 0}, {WIRE_OP_SIGN, 0xA0, 0, 1},   {WIRE_OP_SIGN, 0x80, 32, 0},
        {WIRE_OP_GENKEY, 0x04, 0, 1}, {WIRE_OP_GENKEY, 0x10, 3, 1}, {WIRE_OP_GENKEY, 0x04, 3, 0},
        {WIRE_OP_LOCK, 0x00, 0, 1},   {WIRE_OP_LOCK, 0x00, 4, 0},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        wire_cmd_t c = {v[i].op, v[i].p1, 0, NULL, v[i].n};
        int ok = wire_length_ok(&c) == v[i].ok;
        CHECK(ok);
        if (!ok) {
            fprintf(stderr, "length rule %zu: opcode %02X mode %02X %zu bytes\n", i, v[i].op,
                    v[i].p1, v[i].n);
        }
    }
}

static void replies(void)
{
    static const uint8_t wake[] = {0x04, 0x11, 0x33, 0x43};
    static const uint8_t rev[] = {0x07, 0x00, 0x00, 0x60, 0x02, 0x80, 0x38};
    uint8_t out[16], st = WIRE_ST_AFTER_WAKE;

    CHECK(wire_reply(out, &st, 1) == 4 && memcmp(out, wake, 4) == 0);
    CHECK(wire_reply(out, rev + 1, 4) == 7 && memcmp(out, rev, 7) == 0);
}

static void zones(void)
{
    unsigned slot = 99;
    size_t off = 0;

    /* Config: word 0x15 = bytes 84..87 (UserExtra..LockConfig). */
    CHECK(wire_zone_range(WIRE_ZONE_CONFIG, 0x15, 4, &slot, &off) == 0 && off == 84);
    CHECK(wire_zone_range(WIRE_ZONE_CONFIG, 0x18, 32, &slot, &off) == 0 && off == 96);
    CHECK(wire_zone_range(WIRE_ZONE_CONFIG, 0x19, 32, &slot, &off) != 0); /* not a block start */
    CHECK(wire_zone_range(WIRE_ZONE_CONFIG, 0x20, 4, &slot, &off) != 0);
    CHECK(wire_zone_range(WIRE_ZONE_OTP, 0x0F, 4, &slot, &off) == 0 && off == 60);
    CHECK(wire_zone_range(WIRE_ZONE_OTP, 0x10, 4, &slot, &off) != 0); /* OTP is 64 bytes */
    /* Data: block<<8 | slot<<3 | word. */
    CHECK(wire_zone_range(WIRE_ZONE_DATA, 8u << 3, 32, &slot, &off) == 0 && slot == 8 && off == 0);
    CHECK(wire_zone_range(WIRE_ZONE_DATA, (12u << 8) | (8u << 3), 32, &slot, &off) == 0 &&
          off == 384); /* slot 8's last block: bytes 384..415 */
    CHECK(wire_zone_range(WIRE_ZONE_DATA, (13u << 8) | (8u << 3), 4, &slot, &off) != 0);
    CHECK(wire_zone_range(WIRE_ZONE_DATA, (12u << 8) | (8u << 3), 4, &slot, &off) == 0 &&
          off == 384);
    /* Slot 3 is 36 bytes: block 1 word 0 (bytes 32..35) exists, word 1 not. */
    CHECK(wire_zone_range(WIRE_ZONE_DATA, (1u << 8) | (3u << 3), 4, &slot, &off) == 0 &&
          slot == 3 && off == 32);
    CHECK(wire_zone_range(WIRE_ZONE_DATA, (1u << 8) | (3u << 3) | 1u, 4, &slot, &off) != 0);
    CHECK(wire_zone_range(WIRE_ZONE_DATA, (1u << 8) | (3u << 3), 32, &slot, &off) != 0);
    CHECK(wire_zone_range(WIRE_ZONE_DATA, (1u << 8) | (9u << 3), 32, &slot, &off) == 0 &&
          slot == 9 && off == 32);
    CHECK(wire_slot_size(0) == 36 && wire_slot_size(8) == 416 && wire_slot_size(15) == 72);
}

int main(void)
{
    crc_vectors();
    parsing();
    replies();
    zones();
    lengths();
    return kw_test_end("atecc608_emu_wire");
}
