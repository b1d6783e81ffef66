/*
 * The ATECC608's wire format as the emulator knows it, written from the
 * datasheet facts (../shared/atecc608-facts.md in the project notes) and
 * kept apart from the host driver on purpose: where the two agree they
 * must agree because both follow the chip, not because they share code.
 * Known-answer vectors: src/se/atecc608/tests/test_emu_wire.c.
 *
 *   I2C write:  word address | packet
 *   command packet: count | opcode | param1 | param2 (LE) | data | CRC (LE)
 *   response:       count | data | CRC (LE);  a status alone is 4 bytes
 * count covers itself and the CRC; the CRC covers everything before it.
 */
#ifndef KEYWARD_EMU_WIRE_H
#define KEYWARD_EMU_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* Word addresses: the first byte of every I2C write. */
#define WIRE_WA_RESET 0x00u /* reset the I/O address counter */
#define WIRE_WA_SLEEP 0x01u
#define WIRE_WA_IDLE 0x02u
#define WIRE_WA_COMMAND 0x03u

/* Packet limits: 7 <= count <= 151 for a command. */
#define WIRE_CMD_MIN 7u
#define WIRE_CMD_MAX 151u
#define WIRE_HDR 5u /* count, opcode, param1, param2 */

/* Opcodes. */
#define WIRE_OP_READ 0x02u
#define WIRE_OP_WRITE 0x12u
#define WIRE_OP_NONCE 0x16u
#define WIRE_OP_LOCK 0x17u
#define WIRE_OP_RANDOM 0x1Bu
#define WIRE_OP_INFO 0x30u
#define WIRE_OP_GENKEY 0x40u
#define WIRE_OP_SIGN 0x41u
#define WIRE_OP_ECDH 0x43u
#define WIRE_OP_VERIFY 0x45u
#define WIRE_OP_SHA 0x47u
#define WIRE_OP_SELFTEST 0x77u

/* Status bytes of a 4-byte reply. */
#define WIRE_ST_OK 0x00u
#define WIRE_ST_MISCOMPARE 0x01u
#define WIRE_ST_PARSE 0x03u
#define WIRE_ST_ECC_FAULT 0x05u
#define WIRE_ST_SELFTEST 0x07u
#define WIRE_ST_HEALTH 0x08u
#define WIRE_ST_EXEC 0x0Fu
#define WIRE_ST_AFTER_WAKE 0x11u
#define WIRE_ST_WATCHDOG 0xEEu
#define WIRE_ST_COMM 0xFFu

/* Zones of Read/Write param1 bits 1..0; bit 7 = 32 bytes, bit 6 encrypted. */
#define WIRE_ZONE_CONFIG 0u
#define WIRE_ZONE_OTP 1u
#define WIRE_ZONE_DATA 2u
#define WIRE_ZONE_32 0x80u
#define WIRE_ZONE_ENC 0x40u

/* CRC-16: polynomial 0x8005, register 0, data bits LSB first into a
 * left-shifting register, no final XOR; stored little-endian. */
uint16_t wire_crc16(const uint8_t *p, size_t n);

/* A received command packet (count..CRC). */
typedef struct {
    uint8_t opcode, p1;
    uint16_t p2;
    const uint8_t *data;
    size_t dlen;
} wire_cmd_t;

/* 0 and *cmd for a packet whose count matches len (7..151) and whose CRC
 * is right; -1 otherwise (the chip answers WIRE_ST_COMM, executing nothing). */
int wire_parse_command(const uint8_t *pkt, size_t len, wire_cmd_t *cmd);

/* The data length the datasheet allows for this opcode and mode; a
 * command of any other length is a parse error (status 0x03: "the length,
 * opcode or parameters are illegal").  1 when cmd's length is allowed (or
 * the opcode is one this table does not know), 0 when it is not. */
int wire_length_ok(const wire_cmd_t *cmd);

/* Builds a reply (count | data | CRC) into out (n + 3 bytes); returns its
 * length.  A status reply is wire_reply(out, &status, 1). */
size_t wire_reply(uint8_t *out, const uint8_t *data, size_t n);

/* Slot sizes of the data zone: 0-7 36 bytes, 8 416, 9-15 72. */
size_t wire_slot_size(unsigned slot);

/* The bytes [*off, *off + len) that Read/Write address with param2 in zone
 * (len 4 or 32): config/OTP "block<<3 | word", data "block<<8 | slot<<3 |
 * word" (*slot set).  0, or -1 for an address outside the zone or a 32-byte
 * access not on a block boundary. */
int wire_zone_range(unsigned zone, unsigned p2, size_t len, unsigned *slot, size_t *off);

#endif
