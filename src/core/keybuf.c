#include "keybuf.h"

#include <string.h>

#include "keyward/port/backend.h"

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v & 0xffu);
    p[1] = (uint8_t)(v >> 8);
}

psa_status_t keyward_keybuf_parse(const uint8_t *buf, size_t len, keyward_keybuf_t *out)
{
    size_t ref_len;

    if (buf == NULL || len < KEYWARD_KEYBUF_HEADER || buf[0] != 'k' || buf[1] != 'w') {
        return PSA_ERROR_DATA_CORRUPT;
    }
    if (buf[2] != KEYWARD_KEYBUF_VERSION) {
        return buf[2] == 0 ? PSA_ERROR_DATA_CORRUPT : PSA_ERROR_NOT_SUPPORTED;
    }
    ref_len = get16(buf + 8);
    if (buf[3] == 0 || ref_len == 0 || ref_len > KEYWARD_REF_MAX ||
        len != KEYWARD_KEYBUF_HEADER + ref_len) {
        return PSA_ERROR_DATA_CORRUPT;
    }
    out->backend = buf[3];
    out->type = (psa_key_type_t)get16(buf + 4);
    out->bits = get16(buf + 6);
    if (out->bits == 0) {
        return PSA_ERROR_DATA_CORRUPT;
    }
    out->ref = buf + KEYWARD_KEYBUF_HEADER;
    out->ref_len = ref_len;
    return PSA_SUCCESS;
}

psa_status_t keyward_keybuf_write(const keyward_keybuf_t *kb, uint8_t *buf, size_t size,
                                  size_t *len)
{
    if (kb->backend == 0 || kb->ref_len == 0 || kb->ref_len > KEYWARD_REF_MAX || kb->bits == 0) {
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    if (size < KEYWARD_KEYBUF_HEADER + kb->ref_len) {
        return PSA_ERROR_BUFFER_TOO_SMALL;
    }
    buf[0] = 'k';
    buf[1] = 'w';
    buf[2] = KEYWARD_KEYBUF_VERSION;
    buf[3] = kb->backend;
    put16(buf + 4, (uint16_t)kb->type);
    put16(buf + 6, kb->bits);
    put16(buf + 8, (uint16_t)kb->ref_len);
    memmove(buf + KEYWARD_KEYBUF_HEADER, kb->ref, kb->ref_len);
    *len = KEYWARD_KEYBUF_HEADER + kb->ref_len;
    return PSA_SUCCESS;
}
