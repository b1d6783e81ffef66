/*
 * tpm2_sign: psa_sign_hash through keyward vs Esys_Sign on an already
 * loaded key, same TPM, same key, same digest, one run.
 *
 *   TPM2TOOLS_TCTI=swtpm:host=127.0.0.1,port=P tpm2_sign KEY.pem [N]
 *
 * KEY.pem: a TSS2 PRIVATE KEY under the standard SRK (made with
 * `keyward-tool keygen tpm2:file=KEY.pem --type ec-p256` if missing).
 * Rounds alternate keyward / direct (keyward closes its TPM connection
 * between rounds, so each side has the TPM to itself) and the medians of
 * all timed signatures are compared.  keyward's figure includes PSA's
 * dispatch, key-buffer parsing, the cache lookup and any reload the cache
 * causes; the direct one is Esys_Sign alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_tctildr.h>
#include <tss2/tss2_mu.h>

#include "bench_util.h"
#include "keyward/keyward.h"
#include "se/tpm2/tpm2_internal.h"

#define ROUNDS 4

static int read_file(const char *path, uint8_t *buf, size_t size, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        return -1;
    }
    *len = fread(buf, 1, size, fp);
    fclose(fp);
    return *len > 0 && *len < size ? 0 : -1;
}

/* keyward: n timed psa_sign_hash calls after a warm-up. */
static int run_keyward(const char *keyref, const uint8_t *hash, double *t, size_t n)
{
    psa_key_id_t key = 0;
    uint8_t sig[PSA_SIGNATURE_MAX_SIZE];
    size_t len = 0;
    psa_status_t st = keyward_key_open(keyref, &key);

    if (st != PSA_SUCCESS) {
        fprintf(stderr, "keyward_key_open: %s %s\n", keyward_status_name(st), keyward_last_error());
        return -1;
    }
    for (size_t i = 0; i < n + 5; i++) {
        double t0 = kw_now_us();
        st = psa_sign_hash(key, PSA_ALG_ECDSA(PSA_ALG_SHA_256), hash, 32, sig, sizeof(sig), &len);
        if (st != PSA_SUCCESS) {
            fprintf(stderr, "psa_sign_hash: %s %s\n", keyward_status_name(st),
                    keyward_last_error());
            psa_destroy_key(key);
            return -1;
        }
        if (i >= 5) {
            t[i - 5] = kw_now_us() - t0;
        }
    }
    psa_destroy_key(key);
    keyward_tpm2_release(); /* the TPM to the direct side, all slots free */
    return 0;
}

/* Direct ESYS: the standard SRK, the key loaded once, n timed Esys_Sign. */
static int run_direct(const kw_tpm2_keyfile_t *kf, const uint8_t *hash, double *t, size_t n)
{
    TSS2_TCTI_CONTEXT *tcti = NULL;
    ESYS_CONTEXT *esys = NULL;
    ESYS_TR srk = ESYS_TR_NONE, key = ESYS_TR_NONE;
    TPM2B_PUBLIC pub, tmpl;
    TPM2B_PRIVATE priv;
    TPM2B_SENSITIVE_CREATE sens;
    TPM2B_DATA outside;
    TPML_PCR_SELECTION pcrs;
    TPM2B_DIGEST digest;
    /* cppcheck-suppress legacyUninitvar ; a nested designated initialiser (.details.any) sets it */
    TPMT_SIG_SCHEME scheme = {.scheme = TPM2_ALG_ECDSA, .details.any.hashAlg = TPM2_ALG_SHA256};
    TPMT_TK_HASHCHECK ticket = {.tag = TPM2_ST_HASHCHECK, .hierarchy = TPM2_RH_NULL};
    size_t off = 0;
    int ret = -1;
    TSS2_RC rc;

    memset(&pub, 0, sizeof(pub));
    memset(&priv, 0, sizeof(priv));
    memset(&tmpl, 0, sizeof(tmpl));
    memset(&sens, 0, sizeof(sens));
    memset(&outside, 0, sizeof(outside));
    memset(&pcrs, 0, sizeof(pcrs));
    Tss2_MU_TPM2B_PUBLIC_Unmarshal(kf->pub, kf->pub_len, &off, &pub);
    off = 0;
    Tss2_MU_TPM2B_PRIVATE_Unmarshal(kf->priv, kf->priv_len, &off, &priv);
    tmpl.publicArea.type = TPM2_ALG_ECC;
    tmpl.publicArea.nameAlg = TPM2_ALG_SHA256;
    tmpl.publicArea.objectAttributes =
        TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT | TPMA_OBJECT_NODA |
        TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN;
    tmpl.publicArea.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_AES;
    tmpl.publicArea.parameters.eccDetail.symmetric.keyBits.aes = 128;
    tmpl.publicArea.parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CFB;
    tmpl.publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
    tmpl.publicArea.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
    tmpl.publicArea.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    digest.size = 32;
    memcpy(digest.buffer, hash, 32);

    rc = Tss2_TctiLdr_Initialize(getenv("TPM2TOOLS_TCTI"), &tcti);
    if (rc == 0) {
        rc = Esys_Initialize(&esys, tcti, NULL);
    }
    if (rc == 0) {
        rc =
            Esys_CreatePrimary(esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                               &sens, &tmpl, &outside, &pcrs, &srk, NULL, NULL, NULL, NULL);
    }
    if (rc == 0) {
        rc = Esys_Load(esys, srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &priv, &pub, &key);
    }
    if (rc == 0) {
        Esys_FlushContext(esys, srk);
        srk = ESYS_TR_NONE;
    }
    for (size_t i = 0; rc == 0 && i < n + 5; i++) {
        TPMT_SIGNATURE *sig = NULL;
        double t0 = kw_now_us();
        rc = Esys_Sign(esys, key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &digest, &scheme,
                       &ticket, &sig);
        Esys_Free(sig);
        if (i >= 5) {
            t[i - 5] = kw_now_us() - t0;
        }
    }
    if (rc != 0) {
        fprintf(stderr, "direct ESYS path failed: 0x%x\n", (unsigned)rc);
    } else {
        ret = 0;
    }
    if (key != ESYS_TR_NONE) {
        Esys_FlushContext(esys, key);
    }
    if (srk != ESYS_TR_NONE) {
        Esys_FlushContext(esys, srk);
    }
    if (esys != NULL) {
        Esys_Finalize(&esys);
    }
    if (tcti != NULL) {
        Tss2_TctiLdr_Finalize(&tcti);
    }
    return ret;
}

int main(int argc, char **argv)
{
    const char *file = argc > 1 ? argv[1] : NULL;
    size_t n = argc > 2 ? (size_t)atol(argv[2]) : 1000, per = 0;
    char keyref[1100];
    uint8_t buf[8192], hash[32];
    size_t len = 0;
    kw_tpm2_keyfile_t kf;
    double *tk, *td, mk, md;
    psa_key_id_t gen = 0;

    if (file == NULL || n < ROUNDS || keyward_init() != PSA_SUCCESS) {
        fprintf(stderr, "usage: TPM2TOOLS_TCTI=... tpm2_sign KEY.pem [N]\n");
        return 2;
    }
    snprintf(keyref, sizeof(keyref), "tpm2:file=%s", file);
    if (read_file(file, buf, sizeof(buf), &len) != 0) {
        if (keyward_key_generate(keyref, PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1), 256,
                                 &gen) != PSA_SUCCESS ||
            read_file(file, buf, sizeof(buf), &len) != 0) {
            fprintf(stderr, "cannot read or make %s: %s\n", file, keyward_last_error());
            return 1;
        }
        psa_destroy_key(gen);
    }
    if (kw_tpm2_keyfile_parse(buf, len, &kf) != PSA_SUCCESS || kf.parent != KW_TPM2_PARENT_OWNER) {
        fprintf(stderr, "%s: not an EC P-256 TSS2 key under the standard SRK\n", file);
        return 1;
    }
    memset(hash, 0x5c, sizeof(hash));
    per = n / ROUNDS;
    n = per * ROUNDS;
    tk = calloc(n, sizeof(double));
    td = calloc(n, sizeof(double));
    if (tk == NULL || td == NULL) {
        return 1;
    }
    for (size_t r = 0; r < ROUNDS; r++) {
        if (run_keyward(keyref, hash, tk + r * per, per) != 0 ||
            run_direct(&kf, hash, td + r * per, per) != 0) {
            return 1;
        }
    }
    mk = kw_median(tk, n);
    md = kw_median(td, n);
    printf("tpm2_sign: %zu ECDSA P-256 signatures each (%d alternating rounds), TCTI %s\n", n,
           ROUNDS, getenv("TPM2TOOLS_TCTI") ? getenv("TPM2TOOLS_TCTI") : "default");
    printf("  psa_sign_hash via keyward  median %8.1f us\n", mk);
    printf("  Esys_Sign on a loaded key  median %8.1f us\n", md);
    printf("  ratio keyward/direct       %8.3f  (target <= 1.10)\n", mk / md);
    free(tk);
    free(td);
    mbedtls_psa_crypto_free();
    return 0;
}
