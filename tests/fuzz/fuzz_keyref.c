/*
 * Fuzz target: KEYREF secret handling (src/core/redact.c).  Any text:
 *  - keyward_keyref_strip never leaves a secret attribute behind, and leaves
 *    a KEYREF without one unchanged;
 *  - keyward_keyref_redact reports the length it writes, and redacting twice
 *    changes nothing more (the mask is not itself a secret to mask again).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keyward/port/backend.h"
#include "keyward/keyward.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char in[1024], stripped[1100], red[2048], red2[2048];
    size_t n = 0, r1, r2;

    if (size >= sizeof(in)) {
        return 0;
    }
    memcpy(in, data, size);
    in[size] = '\0';
    if (keyward_keyref_strip(in, stripped, sizeof(stripped), &n) == PSA_SUCCESS) {
        if (n != strlen(stripped) || keyward_keyref_has_secret(stripped)) {
            abort();
        }
        if (!keyward_keyref_has_secret(in) && strcmp(in, stripped) != 0) {
            abort();
        }
    }
    r1 = keyward_keyref_redact(in, red, sizeof(red));
    if (r1 >= sizeof(red) || r1 != strlen(red)) {
        abort();
    }
    r2 = keyward_keyref_redact(red, red2, sizeof(red2));
    if (r2 != r1 || strcmp(red, red2) != 0) {
        abort();
    }
    (void)keyward_keyref_redact(in, red2, 7); /* truncation */
    if (strlen(red2) > 6) {
        abort();
    }
    return 0;
}

static void kw_fuzz_seeds(void (*add)(const uint8_t *, size_t))
{
    static const char *const seeds[] = {
        "pkcs11:token=t;object=k?module-path=/m.so&pin-value=1234",
        "pkcs11:object=k?pin-value=ab?cd&pin-source=/p&pin-value=x",
        "tpm2:file=k.pem;auth=str:s3cret;parent-auth=hex:0a0b;tcti=swtpm:port=2321",
        "atecc608:slot=0;bus=unix:/tmp/s",
        "cannot open 'pkcs11:object=k?so-pin=1&owner-auth=2&password=3' --pin-value=4",
    };
    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
        add((const uint8_t *)seeds[i], strlen(seeds[i]));
    }
}

#include "fuzz_main.h"
