/* The emulator's own packet format, CRC and zone addressing (wire.h). */
#include "wire.h"

#include <string.h>

uint16_t wire_crc16(const uint8_t *p, size_t n)
{
    uint16_t reg = 0;

    while (n-- > 0) {
        uint8_t byte = *p++;
        for (int b = 0; b < 8; b++, byte >>= 1) {
            /* The next data bit (LSB first) against the register's top bit. */
            int feedback = ((reg >> 15) ^ byte) & 1;
            reg = (uint16_t)(reg << 1);
            if (feedback) {
                reg ^= 0x8005u;
            }
        }
    }
    return reg;
}

int wire_parse_command(const uint8_t *pkt, size_t len, wire_cmd_t *cmd)
{
    uint16_t crc;

    if (len < WIRE_CMD_MIN || len > WIRE_CMD_MAX || pkt[0] != len) {
        return -1;
    }
    crc = wire_crc16(pkt, len - 2);
    if (pkt[len - 2] != (crc & 0xFFu) || pkt[len - 1] != (crc >> 8)) {
        return -1;
    }
    cmd->opcode = pkt[1];
    cmd->p1 = pkt[2];
    cmd->p2 = (uint16_t)(pkt[3] | pkt[4] << 8);
    cmd->data = pkt + WIRE_HDR;
    cmd->dlen = len - WIRE_CMD_MIN;
    return 0;
}

int wire_length_ok(const wire_cmd_t *cmd)
{
    size_t n = cmd->dlen, block = (cmd->p1 & WIRE_ZONE_32) ? 32u : 4u;

    switch (cmd->opcode) {
    case WIRE_OP_READ:
    case WIRE_OP_LOCK:
    case WIRE_OP_INFO:
    case WIRE_OP_SIGN:
    case WIRE_OP_RANDOM: /* no data: cryptoauthlib's RANDOM_COUNT is the 7-byte minimum */
        return n == 0;
    case WIRE_OP_WRITE:
        /* The value, plus a 32-byte MAC when encrypted (param1 bit 6). */
        return n == block + ((cmd->p1 & WIRE_ZONE_ENC) ? 32u : 0u);
    case WIRE_OP_NONCE:
        /* Random modes: 20-byte NumIn; pass-through: 32, or 64 with bit 5. */
        if ((cmd->p1 & 3u) == 3u) {
            return n == ((cmd->p1 & 0x20u) ? 64u : 32u);
        }
        return n == 20u;
    case WIRE_OP_GENKEY:
        /* Digest modes (bit 3 or 4) carry 3 bytes of OtherData. */
        return n == ((cmd->p1 & 0x18u) ? 3u : 0u);
    default:
        return 1;
    }
}

size_t wire_reply(uint8_t *out, const uint8_t *data, size_t n)
{
    uint16_t crc;

    out[0] = (uint8_t)(n + 3);
    memmove(out + 1, data, n);
    crc = wire_crc16(out, n + 1);
    out[n + 1] = (uint8_t)(crc & 0xFFu);
    out[n + 2] = (uint8_t)(crc >> 8);
    return n + 3;
}

size_t wire_slot_size(unsigned slot)
{
    return slot < 8 ? 36u : slot == 8 ? 416u : 72u;
}

int wire_zone_range(unsigned zone, unsigned p2, size_t len, unsigned *slot, size_t *off)
{
    size_t size, block, word;

    if (zone == WIRE_ZONE_CONFIG || zone == WIRE_ZONE_OTP) {
        /* 128 / 64 bytes: block (bits 4..3) and word (bits 2..0). */
        size = zone == WIRE_ZONE_CONFIG ? 128u : 64u;
        if (p2 > 0x1Fu) {
            return -1;
        }
        block = (p2 >> 3) & 3u;
        word = p2 & 7u;
    } else if (zone == WIRE_ZONE_DATA) {
        /* Block in bits 15..8 (slot 8 has 13), slot in bits 6..3, word in 2..0. */
        if ((p2 & 0x80u) != 0) {
            return -1;
        }
        *slot = (p2 >> 3) & 0xFu;
        size = wire_slot_size(*slot);
        block = p2 >> 8;
        word = p2 & 7u;
    } else {
        return -1;
    }
    *off = block * 32u + word * 4u;
    if ((len == 32u && word != 0) || *off + len > size) {
        return -1;
    }
    return 0;
}
