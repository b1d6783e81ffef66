/*
 * psa_sign_hash through keyward vs C_SignInit + C_Sign called directly, on
 * the same SoftHSM2 key, interleaved one by one so both see the same machine
 * state.  Prints the median per-operation time of each and their ratio.
 *
 *   bench-pkcs11-sign MODULE TOKEN PIN LABEL ec|rsa N
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

#include "bench_util.h"
#include "core/der.h"
#include "keyward/keyward.h"

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: %s MODULE TOKEN PIN LABEL ec|rsa N\n", argv[0]);
        return 2;
    }
    const char *module = argv[1], *token = argv[2], *pin = argv[3], *label = argv[4];
    int ec = strcmp(argv[5], "ec") == 0;
    size_t n = (size_t)atoi(argv[6]);
    char keyref[1024];
    psa_key_id_t key = 0;
    psa_algorithm_t alg =
        ec ? PSA_ALG_ECDSA(PSA_ALG_SHA_256) : PSA_ALG_RSA_PKCS1V15_SIGN(PSA_ALG_SHA_256);
    uint8_t hash[32], sig[1024], di[64];
    size_t sig_len, di_len = 0;
    int ret = 1;
    double *t_kw = calloc(n, sizeof(double)), *t_p11 = calloc(n, sizeof(double));
    CK_RV (*get_list)(CK_FUNCTION_LIST_PTR_PTR);
    CK_FUNCTION_LIST_PTR f;
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE obj;
    CK_ULONG found = 0, slen, nslots = 16;
    CK_SLOT_ID slots[16];
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE tmpl[2] = {{CKA_CLASS, &cls, sizeof(cls)},
                            {CKA_LABEL, (void *)label, strlen(label)}};
    CK_MECHANISM mech = {ec ? CKM_ECDSA : CKM_RSA_PKCS, NULL, 0};

    if (n == 0 || t_kw == NULL || t_p11 == NULL || keyward_init() != PSA_SUCCESS) {
        goto exit;
    }
    snprintf(keyref, sizeof(keyref), "pkcs11:token=%s;object=%s?module-path=%s&pin-value=%s", token,
             label, module, pin);
    if (keyward_key_open(keyref, &key) != PSA_SUCCESS) {
        fprintf(stderr, "cannot open %s: %s\n", keyref, keyward_last_error());
        goto exit;
    }
    /* The direct path: its own session on the same module instance (keyward
     * already initialised it), logged in once, key found once. */
    void *dl = dlopen(module, RTLD_NOW | RTLD_NOLOAD);
    *(void **)&get_list = dlsym(dl, "C_GetFunctionList");
    get_list(&f);
    f->C_GetSlotList(CK_TRUE, slots, &nslots);
    for (CK_ULONG i = 0; i < nslots; i++) {
        CK_TOKEN_INFO ti;
        f->C_GetTokenInfo(slots[i], &ti);
        if (memcmp(ti.label, token, strlen(token)) == 0) {
            f->C_OpenSession(slots[i], CKF_SERIAL_SESSION, NULL, NULL, &s);
            break;
        }
    }
    f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)); /* already logged in is fine */
    f->C_FindObjectsInit(s, tmpl, 2);
    f->C_FindObjects(s, &obj, 1, &found);
    f->C_FindObjectsFinal(s);
    if (found != 1) {
        fprintf(stderr, "direct: key %s not found\n", label);
        goto exit;
    }
    memset(hash, 0x5a, sizeof(hash));
    if (!ec) {
        keyward_der_digest_info(PSA_ALG_SHA_256, hash, 32, di, sizeof(di), &di_len);
    }
    for (size_t i = 0; i < n + n / 10; i++) { /* the first 10% warm up */
        double t0 = kw_now_us();
        if (psa_sign_hash(key, alg, hash, 32, sig, sizeof(sig), &sig_len) != PSA_SUCCESS) {
            fprintf(stderr, "keyward sign failed: %s\n", keyward_last_error());
            goto exit;
        }
        double t1 = kw_now_us();
        slen = sizeof(sig);
        if (f->C_SignInit(s, &mech, obj) != CKR_OK ||
            f->C_Sign(s, ec ? hash : di, ec ? 32 : di_len, sig, &slen) != CKR_OK) {
            fprintf(stderr, "direct sign failed\n");
            goto exit;
        }
        double t2 = kw_now_us();
        if (i >= n / 10) {
            t_kw[i - n / 10] = t1 - t0;
            t_p11[i - n / 10] = t2 - t1;
        }
    }
    double m_kw = kw_median(t_kw, n), m_p11 = kw_median(t_p11, n);
    printf("%-8s n=%zu  keyward psa_sign_hash median %.1f us  direct C_Sign median %.1f us  "
           "ratio %.3f\n",
           ec ? "P-256" : "RSA-2048", n, m_kw, m_p11, m_kw / m_p11);
    f->C_CloseSession(s);
    psa_destroy_key(key);
    mbedtls_psa_crypto_free();
    ret = 0;
exit:
    free(t_kw);
    free(t_p11);
    return ret;
}
