/* Key-buffer format: valid, truncated, oversized, wrong version, corrupt. */
#include <string.h>

#include "core/keybuf.h"
#include "keyward/port/backend.h"
#include "kwcheck.h"

int main(void)
{
    uint8_t buf[KEYWARD_KEYBUF_HEADER + KEYWARD_REF_MAX + 8];
    uint8_t big[KEYWARD_REF_MAX + 1];
    const uint8_t ref[] = "pkcs11:token=t;object=o";
    keyward_keybuf_t kb = {1, PSA_KEY_TYPE_RSA_KEY_PAIR, 2048, ref, sizeof(ref) - 1}, out;
    size_t len = 0;

    CHECK_STATUS(keyward_keybuf_write(&kb, buf, sizeof(buf), &len), PSA_SUCCESS);
    CHECK(len == KEYWARD_KEYBUF_HEADER + sizeof(ref) - 1);
    CHECK_STATUS(keyward_keybuf_parse(buf, len, &out), PSA_SUCCESS);
    CHECK(out.backend == 1 && out.type == PSA_KEY_TYPE_RSA_KEY_PAIR && out.bits == 2048);
    CHECK(out.ref_len == sizeof(ref) - 1 && memcmp(out.ref, ref, out.ref_len) == 0);

    /* every truncation is refused */
    for (size_t n = 0; n < len; n++) {
        CHECK_STATUS(keyward_keybuf_parse(buf, n, &out), PSA_ERROR_DATA_CORRUPT);
    }
    /* trailing bytes are refused */
    CHECK_STATUS(keyward_keybuf_parse(buf, len + 1, &out), PSA_ERROR_DATA_CORRUPT);
    CHECK_STATUS(keyward_keybuf_parse(NULL, 0, &out), PSA_ERROR_DATA_CORRUPT);
    /* wrong magic, version 0 (corrupt), a future version (not supported) */
    buf[0] = 'K';
    CHECK_STATUS(keyward_keybuf_parse(buf, len, &out), PSA_ERROR_DATA_CORRUPT);
    buf[0] = 'k';
    buf[2] = 0;
    CHECK_STATUS(keyward_keybuf_parse(buf, len, &out), PSA_ERROR_DATA_CORRUPT);
    buf[2] = 2;
    CHECK_STATUS(keyward_keybuf_parse(buf, len, &out), PSA_ERROR_NOT_SUPPORTED);
    buf[2] = KEYWARD_KEYBUF_VERSION;
    /* backend 0, bits 0 */
    buf[3] = 0;
    CHECK_STATUS(keyward_keybuf_parse(buf, len, &out), PSA_ERROR_DATA_CORRUPT);
    buf[3] = 1;
    buf[6] = buf[7] = 0;
    CHECK_STATUS(keyward_keybuf_parse(buf, len, &out), PSA_ERROR_DATA_CORRUPT);
    CHECK_STATUS(keyward_keybuf_write(&kb, buf, sizeof(buf), &len), PSA_SUCCESS);
    /* length field larger than the buffer, zero, and over the maximum */
    buf[8] = 0xff;
    buf[9] = 0xff;
    CHECK_STATUS(keyward_keybuf_parse(buf, len, &out), PSA_ERROR_DATA_CORRUPT);
    buf[8] = buf[9] = 0;
    CHECK_STATUS(keyward_keybuf_parse(buf, KEYWARD_KEYBUF_HEADER, &out), PSA_ERROR_DATA_CORRUPT);
    memset(big, 'a', sizeof(big));
    kb.ref = big;
    kb.ref_len = sizeof(big);
    CHECK_STATUS(keyward_keybuf_write(&kb, buf, sizeof(buf), &len), PSA_ERROR_INVALID_ARGUMENT);
    buf[8] = (uint8_t)((KEYWARD_REF_MAX + 1) & 0xff);
    buf[9] = (uint8_t)((KEYWARD_REF_MAX + 1) >> 8);
    CHECK_STATUS(keyward_keybuf_parse(buf, KEYWARD_KEYBUF_HEADER + KEYWARD_REF_MAX + 1, &out),
                 PSA_ERROR_DATA_CORRUPT);
    /* the largest valid ref */
    kb.ref_len = KEYWARD_REF_MAX;
    CHECK_STATUS(keyward_keybuf_write(&kb, buf, sizeof(buf), &len), PSA_SUCCESS);
    CHECK_STATUS(keyward_keybuf_parse(buf, len, &out), PSA_SUCCESS);
    /* output too small */
    CHECK_STATUS(keyward_keybuf_write(&kb, buf, KEYWARD_KEYBUF_HEADER + 10, &len),
                 PSA_ERROR_BUFFER_TOO_SMALL);
    return kw_test_end("keybuf");
}
