/*
 * Fuzz target: what the ATECC608 driver parses — response packets from the
 * bus (count, payload, CRC) and atecc608: KEYREFs.
 */
#include "fuzz_main.h"
#include "keyward/port/atecc608.h"
#include "se/atecc608/atecc608_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *payload = NULL;
    size_t plen = 0;
    kw608_keyref_t kr;

    if (keyward_atecc608_parse(data, size, &payload, &plen) == 0) {
        /* accepted: the payload lies inside the packet and the CRC holds */
        if (payload < data || payload + plen > data + size || size < 3 ||
            keyward_atecc608_crc16(data, size - 2) !=
                (uint16_t)(data[size - 2] | (data[size - 1] << 8))) {
            abort();
        }
    }
    if (kw608_keyref_parse(data, size, &kr) == PSA_SUCCESS) {
        if (kr.slot > 15 || (kr.bus != NULL && ((const uint8_t *)kr.bus < data ||
                                                (const uint8_t *)kr.bus + kr.bus_len > data + size))) {
            abort();
        }
    }
    return 0;
}

static void kw_fuzz_seeds(void (*add)(const uint8_t *, size_t))
{
    static const char *const keyrefs[] = {
        "atecc608:slot=0",
        "atecc608:slot=15;bus=unix:/tmp/emu.sock",
        "atecc608:slot=3;bus=/dev/i2c-1;addr=0x60",
    };
    uint8_t pkt[80];
    uint16_t crc;

    for (size_t i = 0; i < sizeof(keyrefs) / sizeof(keyrefs[0]); i++) {
        add((const uint8_t *)keyrefs[i], strlen(keyrefs[i]));
    }
    /* the wake reply, a status reply, a 64-byte signature reply */
    add((const uint8_t *)"\x04\x11\x33\x43", 4);
    pkt[0] = 4;
    pkt[1] = 0x00;
    crc = keyward_atecc608_crc16(pkt, 2);
    pkt[2] = (uint8_t)crc;
    pkt[3] = (uint8_t)(crc >> 8);
    add(pkt, 4);
    pkt[0] = 67;
    for (int i = 1; i < 65; i++) {
        pkt[i] = (uint8_t)(i * 37);
    }
    crc = keyward_atecc608_crc16(pkt, 65);
    pkt[65] = (uint8_t)crc;
    pkt[66] = (uint8_t)(crc >> 8);
    add(pkt, 67);
}
