/*
 * ATECC608 packet format, CRC-16 and status codes: pure functions, no bus.
 *
 *   command: 0x03 | count | opcode | param1 | param2 (LE) | data | crc (LE)
 *   reply:          count | data...                          | crc (LE)
 *
 * count covers itself, the body and the CRC; the CRC covers count and body.
 * The word address (0x03) is not part of the packet and not in the CRC.
 */
#include <string.h>

#include "atecc608_proto.h"

#define COUNT_MIN 4u   /* count + 1 byte + crc: a status reply */
#define COUNT_MAX 155u /* command max 151 (datasheet); replies up to 75; leave room */

uint16_t keyward_atecc608_crc16(const uint8_t *data, size_t len)
{
    uint16_t reg = 0;

    for (size_t i = 0; i < len; i++) {
        for (unsigned bit = 0; bit < 8; bit++) {
            /* Data bits enter LSB first; the register shifts left. */
            unsigned in = (data[i] >> bit) & 1u;
            unsigned top = (reg >> 15) & 1u;
            reg = (uint16_t)(reg << 1);
            if (in != top) {
                reg ^= 0x8005u;
            }
        }
    }
    return reg;
}

size_t keyward_atecc608_packet(uint8_t *out, size_t out_size, uint8_t opcode, uint8_t p1,
                               uint16_t p2, const uint8_t *data, size_t dlen)
{
    size_t count = 7u + dlen;
    uint16_t crc;

    if (count > 151u || out_size < count + 1u || (dlen > 0 && data == NULL)) {
        return 0;
    }
    out[0] = 0x03; /* word address: command */
    out[1] = (uint8_t)count;
    out[2] = opcode;
    out[3] = p1;
    out[4] = (uint8_t)(p2 & 0xffu);
    out[5] = (uint8_t)(p2 >> 8);
    if (dlen > 0) {
        memcpy(out + 6, data, dlen);
    }
    crc = keyward_atecc608_crc16(out + 1, count - 2u);
    out[count - 1u] = (uint8_t)(crc & 0xffu);
    out[count] = (uint8_t)(crc >> 8);
    return count + 1u;
}

int keyward_atecc608_parse(const uint8_t *pkt, size_t len, const uint8_t **payload, size_t *plen)
{
    uint16_t crc;

    if (len < COUNT_MIN || len > COUNT_MAX || pkt[0] != len) {
        return KEYWARD_ATECC608_E_LENGTH;
    }
    crc = keyward_atecc608_crc16(pkt, len - 2u);
    if (pkt[len - 2u] != (uint8_t)(crc & 0xffu) || pkt[len - 1u] != (uint8_t)(crc >> 8)) {
        return KEYWARD_ATECC608_E_CRC;
    }
    *payload = pkt + 1;
    *plen = len - 3u;
    return 0;
}

int keyward_atecc608_retryable(int rc)
{
    /* The command was not executed, or its answer was lost on the bus: a
     * fresh wake and the same sequence again are safe.  A chip that
     * executed and refused (parse, execution, miscompare, ECC fault,
     * self-test) would refuse again, so those are final. */
    return rc == KEYWARD_ATECC608_E_NAK || rc == KEYWARD_ATECC608_E_CRC ||
           rc == KEYWARD_ATECC608_E_LENGTH || rc == KEYWARD_ATECC608_E_WAKE ||
           rc == KEYWARD_ATECC608_E_BUS || rc == KEYWARD_ATECC608_STATUS_COMM ||
           rc == KEYWARD_ATECC608_STATUS_WATCHDOG || rc == KEYWARD_ATECC608_STATUS_AFTER_WAKE;
}

psa_status_t keyward_atecc608_to_psa(int rc)
{
    switch (rc) {
    case 0:
        return PSA_SUCCESS;
    case KEYWARD_ATECC608_STATUS_MISCOMPARE:
        return PSA_ERROR_INVALID_SIGNATURE;
    case KEYWARD_ATECC608_STATUS_PARSE:
        return PSA_ERROR_NOT_SUPPORTED; /* this chip does not know the command/mode */
    case KEYWARD_ATECC608_STATUS_EXECUTION:
        return PSA_ERROR_NOT_PERMITTED; /* configuration or lock state forbids it */
    case KEYWARD_ATECC608_STATUS_HEALTH:
        return PSA_ERROR_INSUFFICIENT_ENTROPY;
    case KEYWARD_ATECC608_E_ARG:
        return PSA_ERROR_INVALID_ARGUMENT;
    case KEYWARD_ATECC608_STATUS_ECC_FAULT:
    case KEYWARD_ATECC608_STATUS_SELFTEST:
        return PSA_ERROR_HARDWARE_FAILURE;
    default:
        return keyward_atecc608_retryable(rc) ? PSA_ERROR_COMMUNICATION_FAILURE
                                              : PSA_ERROR_HARDWARE_FAILURE;
    }
}

const char *keyward_atecc608_rc_name(int rc)
{
    switch (rc) {
    /* A table, one status a line. */
    /* clang-format off */
    case 0: return "success";
    case KEYWARD_ATECC608_STATUS_MISCOMPARE: return "miscompare (0x01)";
    case KEYWARD_ATECC608_STATUS_PARSE: return "parse error (0x03)";
    case KEYWARD_ATECC608_STATUS_ECC_FAULT: return "ECC fault (0x05)";
    case KEYWARD_ATECC608_STATUS_SELFTEST: return "self-test failure (0x07)";
    case KEYWARD_ATECC608_STATUS_HEALTH: return "RNG health test failure (0x08)";
    case KEYWARD_ATECC608_STATUS_EXECUTION: return "execution error (0x0F)";
    case KEYWARD_ATECC608_STATUS_AFTER_WAKE: return "unexpected after-wake status (0x11)";
    case KEYWARD_ATECC608_STATUS_WATCHDOG: return "watchdog about to expire (0xEE)";
    case KEYWARD_ATECC608_STATUS_COMM: return "CRC/communication error (0xFF)";
    case KEYWARD_ATECC608_E_NAK: return "no answer (NAK until timeout)";
    case KEYWARD_ATECC608_E_CRC: return "bad response CRC";
    case KEYWARD_ATECC608_E_LENGTH: return "bad response length";
    case KEYWARD_ATECC608_E_WAKE: return "no valid wake reply";
    case KEYWARD_ATECC608_E_BUS: return "I2C bus failure";
    case KEYWARD_ATECC608_E_ARG: return "bad argument";
    default: return "unknown status";
        /* clang-format on */
    }
}
