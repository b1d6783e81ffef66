/*
 * Fuzz target: the KEYREF parsers.  Any text goes through
 *  - src/core/redact.c: keyward_keyref_strip never leaves a secret
 *    attribute behind and leaves a KEYREF without one unchanged;
 *    keyward_keyref_redact reports the length it writes, and redacting
 *    twice changes nothing more (the mask is not itself a secret);
 *  - the ref_from_keyref of the backend whose scheme it starts with (each
 *    compiled-in backend: the seeds carry every scheme), reached through
 *    the port API as the core reaches it: what it accepts becomes a ref of
 *    1..ref_size bytes that, when it is text, holds no secret.
 * A KEYREF naming a file (file=) is not handed to a backend: the fuzzer
 * must not open paths it made up (fuzz_tpm2 fuzzes key-file contents).
 */
#include "fuzz_main.h"

#include "keyward/keyward.h"
#include "keyward/port/backend.h"

static void check_ref_from_keyref(const char *in)
{
    static uint8_t ref[KEYWARD_REF_MAX];
    static char text[KEYWARD_REF_MAX + 1];
    const keyward_backend_t *be = keyward_backend_by_keyref(in);
    size_t ref_len = 0;

    if (be == NULL || be->ref_from_keyref == NULL || strstr(in, "file=") != NULL) {
        return;
    }
    if (be->ref_from_keyref(in, ref, sizeof(ref), &ref_len) != PSA_SUCCESS) {
        return;
    }
    if (ref_len == 0 || ref_len > sizeof(ref)) {
        abort();
    }
    /* A text ref (the KEYREF minus its secrets) carries no secret. */
    if (memchr(ref, 0, ref_len) == NULL) {
        memcpy(text, ref, ref_len);
        text[ref_len] = '\0';
        if (strncmp(text, be->scheme, strlen(be->scheme)) == 0 && keyward_keyref_has_secret(text)) {
            abort();
        }
    }
    /* The secrets it kept for the ref: the store is small and per process. */
    keyward_secret_drop(ref, ref_len);
}

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
    /* An output of exactly 8 bytes (on the stack, where ASan sees a byte
     * past it): what does not fit is refused, not cut. */
    {
        char small[8];
        if (keyward_keyref_strip(in, small, sizeof(small), &n) == PSA_SUCCESS &&
            (n >= sizeof(small) || strlen(small) != n)) {
            abort();
        }
    }
    check_ref_from_keyref(in);
    return 0;
}

static void kw_fuzz_seeds(void (*add)(const uint8_t *, size_t))
{
    static const char *const seeds[] = {
        "pkcs11:token=t;object=k?module-path=/m.so&pin-value=1234",
        "pkcs11:object=k?pin-value=ab?cd&pin-source=/p&pin-value=x",
        "pkcs11:token=t;object=k;type=private;id=%01%02",
        "pkcs11:object=k;type=cert",
        "tpm2:handle=0x81000001;auth=str:s3cret;parent-auth=hex:0a0b;tcti=swtpm:port=2321",
        "tpm2:handle=0x81000010;tcti=swtpm%3Ahost%3D127.0.0.1",
        "tpm2:handle=0x81000001;parent=0x40000001",
        "atecc608:slot=0;bus=unix:/tmp/s",
        "cannot open 'pkcs11:object=k?so-pin=1&owner-auth=2&password=3' --pin-value=4",
        "x:Passphrase=a&auth=;AUTH=b c",
    };
    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
        add((const uint8_t *)seeds[i], strlen(seeds[i]));
    }
}
