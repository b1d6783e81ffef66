/*
 * Fuzz target: the TPM 2.0 backend's parsers — TSS2 PRIVATE KEY files (PEM
 * and DER, Mbed TLS's readers underneath), keyward's own TPM ref format
 * (what PSA storage keeps), and tpm2: KEYREFs.  What parses must re-encode
 * and parse to the same thing.
 */
#include "fuzz_main.h"
#include "keyward/port/backend.h"
#include "mbedtls/platform_util.h"
#include "se/tpm2/tpm2_internal.h"

/* A handle KEYREF becomes a ref (as tpm2_ref_from_keyref makes it) that
 * parses back to the same handle and TCTI, with its auth values in process
 * memory, not in the ref.  ref_size varies with the input so that refs too
 * long for their buffer are refused, not cut. */
static void check_handle_ref(const kw_tpm2_keyref_t *kr, size_t size)
{
    static uint8_t ref[512];
    uint8_t auth[KW_TPM2_AUTH_MAX];
    size_t ref_len = 0, auth_len = 0;
    size_t ref_size = 3 + size % (sizeof(ref) - 2);
    kw_tpm2_ref_t r;
    psa_status_t status;

    if (kr->handle == 0) {
        return; /* file=: fuzzed by content above, never opened here */
    }
    status = kw_tpm2_ref_build(NULL, kr->handle, kr, ref, ref_size, &ref_len);
    if (status != PSA_SUCCESS) {
        if (status != PSA_ERROR_INVALID_ARGUMENT && status != PSA_ERROR_BUFFER_TOO_SMALL) {
            abort();
        }
        return;
    }
    if (ref_len > ref_size || kw_tpm2_ref_parse(ref, ref_len, &r) != PSA_SUCCESS ||
        r.handle != kr->handle || r.has_tcti != kr->has_tcti ||
        (r.has_tcti && (r.tcti_len != strlen(kr->tcti) || memcmp(r.tcti, kr->tcti, r.tcti_len)))) {
        abort();
    }
    if (kw_tpm2_ref_secret(&r, KW_TPM2_TAG_AUTH, auth, &auth_len) != kr->has_auth ||
        (kr->has_auth && (auth_len != kr->auth_len || memcmp(auth, kr->auth, auth_len) != 0))) {
        abort();
    }
    keyward_secret_drop(ref, ref_len);
    mbedtls_platform_zeroize(auth, sizeof(auth));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kw_tpm2_keyfile_t kf, kf2;
    kw_tpm2_ref_t r;
    kw_tpm2_keyref_t kr;
    static char pem[8192], text[1024];
    static uint8_t ref[4096];
    size_t len = 0, ref_len = 0;

    if (kw_tpm2_keyfile_parse(data, size, &kf) == PSA_SUCCESS) {
        if (kw_tpm2_keyfile_write_pem(&kf, pem, sizeof(pem), &len) != PSA_SUCCESS ||
            kw_tpm2_keyfile_parse((const uint8_t *)pem, len, &kf2) != PSA_SUCCESS ||
            kf2.pub_len != kf.pub_len || kf2.priv_len != kf.priv_len || kf2.parent != kf.parent ||
            memcmp(kf2.pub, kf.pub, kf.pub_len) != 0 ||
            memcmp(kf2.priv, kf.priv, kf.priv_len) != 0) {
            abort();
        }
        memset(&kr, 0, sizeof(kr));
        if (kw_tpm2_ref_build(&kf, 0, &kr, ref, sizeof(ref), &ref_len) != PSA_SUCCESS ||
            kw_tpm2_ref_parse(ref, ref_len, &r) != PSA_SUCCESS || r.pub_len != kf.pub_len ||
            r.priv_len != kf.priv_len) {
            abort();
        }
    }
    (void)kw_tpm2_ref_parse(data, size, &r);
    if (size < sizeof(text)) {
        memcpy(text, data, size);
        text[size] = '\0';
        if (kw_tpm2_keyref_parse(text, 0, &kr) == PSA_SUCCESS) {
            kw_tpm2_keyref_free(&kr);
        }
        if (kw_tpm2_keyref_parse(text, 1, &kr) == PSA_SUCCESS) {
            check_handle_ref(&kr, size);
            kw_tpm2_keyref_free(&kr);
        }
    }
    return 0;
}

static int read_seed(const char *path, void (*add)(const uint8_t *, size_t))
{
    static uint8_t buf[4096];
    FILE *f = fopen(path, "rb");
    size_t n;
    if (f == NULL) {
        return -1;
    }
    n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    add(buf, n);
    return 0;
}

static void kw_fuzz_seeds(void (*add)(const uint8_t *, size_t))
{
    static const char *const keyrefs[] = {
        "tpm2:file=/k.pem;tcti=swtpm:host=127.0.0.1,port=2321;auth=str:abc",
        "tpm2:handle=0x81000001;auth=hex:0a0b0c",
        "tpm2:file=a%3Bb.pem;parent=0x40000001;parent-auth=str:x",
        "tpm2:handle=0x81000002;tcti=device:/dev/null;auth=hex:00ff;parent-auth=p",
    };
    /* crafted from tss2-p256.der: what parse_der must refuse or tolerate */
    static const char *const refused[] = {"tss2-desc-rsaparent.der", "tss2-policy.der",
                                          "tss2-trailing.der", "tss2-importable.der"};
    const char *dir = getenv("KW_FUZZ_SEEDS");
    char path[1024];
    static const char *const files[] = {"tss2-p256.pem", "tss2-rsa2048.pem", "tss2-p256.der",
                                        "tss2-rsa2048.der"};
    kw_tpm2_keyfile_t kf;
    kw_tpm2_keyref_t kr;
    static uint8_t ref[4096];
    size_t ref_len;

    for (size_t i = 0; i < sizeof(keyrefs) / sizeof(keyrefs[0]); i++) {
        add((const uint8_t *)keyrefs[i], strlen(keyrefs[i]));
    }
    if (dir == NULL) {
        fprintf(stderr, "set KW_FUZZ_SEEDS to tests/fuzz/seeds\n");
        exit(1);
    }
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, refused[i]);
        if (read_seed(path, add) != 0) {
            fprintf(stderr, "cannot read seed %s\n", path);
            exit(1);
        }
    }
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        if (read_seed(path, add) != 0) {
            fprintf(stderr, "cannot read seed %s\n", path);
            exit(1);
        }
        /* its ref form and its DER form are seeds too */
        {
            static uint8_t pem[4096];
            FILE *f = fopen(path, "rb");
            size_t n = fread(pem, 1, sizeof(pem), f);
            fclose(f);
            if (kw_tpm2_keyfile_parse(pem, n, &kf) == PSA_SUCCESS) {
                memset(&kr, 0, sizeof(kr));
                if (kw_tpm2_ref_build(&kf, 0, &kr, ref, sizeof(ref), &ref_len) == PSA_SUCCESS) {
                    add(ref, ref_len);
                }
            } else {
                fprintf(stderr, "seed %s does not parse\n", path);
                exit(1);
            }
        }
    }
}
