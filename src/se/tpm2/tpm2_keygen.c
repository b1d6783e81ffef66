/*
 * TPM 2.0 backend: generate (TPM2_Create under the parent, then a TSS2
 * PRIVATE KEY file and/or the ref).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>

#include "keyward/port/backend.h"
#include "mbedtls/platform_util.h"
#include "tpm2_ops.h"

/* ---- generate ------------------------------------------------------------- */

typedef struct {
    TPM2B_PUBLIC tmpl;
    TPM2B_SENSITIVE_CREATE sens;
    uint32_t parent;
    TPM2B_PRIVATE *priv_out;
    TPM2B_PUBLIC *pub_out;
    int added_decrypt; /* RSA: the TPM's PSS needed the raw-RSA fallback */
} gen_arg_t;

static psa_status_t gen_op(kw_tpm2_conn_t *c, const kw_tpm2_ref_t *r, void *arg, TSS2_RC *rc)
{
    gen_arg_t *g = arg;
    ESYS_TR parent = ESYS_TR_NONE;
    kw_tpm2_slot_t *pin = NULL;
    TPM2B_DATA outside;
    TPML_PCR_SELECTION pcrs;
    TPM2B_PRIVATE *priv = NULL;
    TPM2B_PUBLIC *pub = NULL;
    ESYS_TR session = ESYS_TR_NONE;
    int secret = g->sens.sensitive.userAuth.size > 0 || kw_tpm2_parent_has_secret(r, g->parent);
    /* TPMA_SESSION_DECRYPT: the first parameter of TPM2_Create, the new
     * key's auth value (inSensitive), crosses the bus encrypted. */
    psa_status_t status = kw_tpm2_session_get(c, r, secret, TPMA_SESSION_DECRYPT, &session, rc);

    if (status == PSA_SUCCESS) {
        status = kw_tpm2_parent_get(c, r, g->parent, &parent, &pin, rc);
    }
    if (status != PSA_SUCCESS) {
        return status;
    }
    memset(&outside, 0, sizeof(outside));
    memset(&pcrs, 0, sizeof(pcrs));
    /* TPM2_Create needs no object slot of its own, but libtpms briefly
     * uses one; keep the budget. */
    kw_tpm2_make_room(c, pin, 1);
    *rc = Esys_Create(c->esys, parent, session, ESYS_TR_NONE, ESYS_TR_NONE, &g->sens, &g->tmpl,
                      &outside, &pcrs, &priv, &pub, NULL, NULL, NULL);
    if (*rc != TSS2_RC_SUCCESS) {
        return kw_tpm2_fail_rc("TPM2_Create", *rc);
    }
    if (g->tmpl.publicArea.type == TPM2_ALG_RSA &&
        !(g->tmpl.publicArea.objectAttributes & TPMA_OBJECT_DECRYPT)) {
        /* RSA keys are sign-only unless this TPM's own RSA-PSS uses another
         * salt length than TLS 1.3 needs: then only raw RSA (decrypt) lets
         * keyward make PSS signatures (tpm2_pss.c).  Probe with the new key. */
        int verdict = -1;
        ESYS_TR obj = ESYS_TR_NONE;
        kw_tpm2_make_room(c, pin, 1);
        *rc = Esys_Load(c->esys, parent, session, ESYS_TR_NONE, ESYS_TR_NONE, priv, pub, &obj);
        if (*rc == TSS2_RC_SUCCESS) {
            *rc = Esys_TR_SetAuth(c->esys, obj, &g->sens.sensitive.userAuth);
        }
        if (*rc == TSS2_RC_SUCCESS) {
            verdict = kw_tpm2_pss_probe(c, r, g->sens.sensitive.userAuth.size > 0, obj,
                                        &pub->publicArea, rc);
            (void)Esys_FlushContext(c->esys, obj);
        }
        if (verdict < 0) {
            Esys_Free(priv);
            Esys_Free(pub);
            return kw_tpm2_fail_rc("RSA-PSS probe of the new key", *rc);
        }
        if (verdict > 0) {
            Esys_Free(priv);
            Esys_Free(pub);
            priv = NULL;
            pub = NULL;
            g->tmpl.publicArea.objectAttributes |= TPMA_OBJECT_DECRYPT;
            status = kw_tpm2_session_get(c, r, secret, TPMA_SESSION_DECRYPT, &session, rc);
            if (status != PSA_SUCCESS) {
                return status;
            }
            *rc = Esys_Create(c->esys, parent, session, ESYS_TR_NONE, ESYS_TR_NONE, &g->sens,
                              &g->tmpl, &outside, &pcrs, &priv, &pub, NULL, NULL, NULL);
            if (*rc != TSS2_RC_SUCCESS) {
                return kw_tpm2_fail_rc("TPM2_Create", *rc);
            }
            g->added_decrypt = 1;
        }
    }
    *g->priv_out = *priv;
    *g->pub_out = *pub;
    Esys_Free(priv);
    Esys_Free(pub);
    return PSA_SUCCESS;
}

static psa_status_t write_key_file(int fd, const kw_tpm2_keyfile_t *kf)
{
    char pem[4 * (sizeof(kf->pub) + sizeof(kf->priv)) / 3 + 256];
    size_t len = 0, done = 0;
    psa_status_t status = kw_tpm2_keyfile_write_pem(kf, pem, sizeof(pem), &len);

    while (status == PSA_SUCCESS && done < len) {
        ssize_t n = write(fd, pem + done, len - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            keyward_set_error("cannot write the TSS2 key file: %s", strerror(errno));
            status = PSA_ERROR_STORAGE_FAILURE;
            break;
        }
        done += (size_t)n;
    }
    if (status == PSA_SUCCESS && fsync(fd) != 0) {
        status = PSA_ERROR_STORAGE_FAILURE;
    }
    return status;
}

/* The public template for a signing key of this type and size: ECC
 * P-256/384/521 or RSA 2048/3072/4096, any scheme (chosen per signature). */
static psa_status_t gen_template(psa_key_type_t type, size_t bits, TPMT_PUBLIC *t)
{
    t->nameAlg = TPM2_ALG_SHA256;
    t->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                          TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                          TPMA_OBJECT_SIGN_ENCRYPT;
    if (type == PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1) &&
        (bits == 256 || bits == 384 || bits == 521)) {
        t->type = TPM2_ALG_ECC;
        t->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
        t->parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
        t->parameters.eccDetail.curveID = bits == 256   ? TPM2_ECC_NIST_P256
                                          : bits == 384 ? TPM2_ECC_NIST_P384
                                                        : TPM2_ECC_NIST_P521;
        t->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    } else if (type == PSA_KEY_TYPE_RSA_KEY_PAIR &&
               (bits == 2048 || bits == 3072 || bits == 4096)) {
        t->type = TPM2_ALG_RSA;
        t->parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
        t->parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL; /* any: PKCS#1 v1.5 and PSS */
        t->parameters.rsaDetail.keyBits = (TPMI_RSA_KEY_BITS)bits;
        t->parameters.rsaDetail.exponent = 0;
    } else {
        keyward_set_error("the TPM backend generates ECC P-256/384/521 and RSA 2048/3072/4096");
        return PSA_ERROR_NOT_SUPPORTED;
    }
    return PSA_SUCCESS;
}

/* The new key's auth value: auth= of the target, else $KEYWARD_TPM2_AUTH
 * (through env_auth, wiped by the caller), else none. */
static void gen_auth(const kw_tpm2_keyref_t *kr, gen_arg_t *g, TPM2B_AUTH *env_auth)
{
    memset(env_auth, 0, sizeof(*env_auth));
    if (kr->has_auth) {
        g->sens.sensitive.userAuth.size = (UINT16)kr->auth_len;
        memcpy(g->sens.sensitive.userAuth.buffer, kr->auth, kr->auth_len);
    } else if (kw_tpm2_auth_from_env("KEYWARD_TPM2_AUTH", env_auth)) {
        g->sens.sensitive.userAuth = *env_auth;
    }
    if (g->sens.sensitive.userAuth.size == 0) {
        /* No secret to guess: dictionary-attack counting would only let a
         * failing caller lock the TPM out. */
        g->tmpl.publicArea.objectAttributes |= TPMA_OBJECT_NODA;
    }
}

/* Creates the key file before the key: never over an existing one. */
static psa_status_t gen_create_file(const char *path, int *fd)
{
    *fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (*fd < 0) {
        keyward_set_error("cannot create %s: %s%s", path, strerror(errno),
                          errno == EEXIST ? " (keyward never overwrites a key file)" : "");
        return errno == EEXIST ? PSA_ERROR_ALREADY_EXISTS : PSA_ERROR_STORAGE_FAILURE;
    }
    return PSA_SUCCESS;
}

/* Runs gen_op on the target's TPM: kw_tpm2_run_op wants a ref for the TCTI
 * and parent auth, so a minimal one is made for it. */
static psa_status_t gen_run(const kw_tpm2_keyref_t *kr, gen_arg_t *g)
{
    uint8_t tref[512];
    size_t tref_len = 0;
    kw_tpm2_ref_t r;
    psa_status_t status =
        kw_tpm2_ref_build(NULL, KW_TPM2_SRK_HANDLE, kr, tref, sizeof(tref), &tref_len);

    if (status == PSA_SUCCESS) {
        status = kw_tpm2_ref_parse(tref, tref_len, &r);
    }
    if (status == PSA_SUCCESS) {
        status = kw_tpm2_run_op(&r, gen_op, g);
    }
    mbedtls_platform_zeroize(tref, sizeof(tref));
    return status;
}

/* The key file's contents: the new key's marshalled public and private
 * parts under its parent. */
static psa_status_t gen_keyfile(const gen_arg_t *g, const TPM2B_PUBLIC *pub,
                                const TPM2B_PRIVATE *priv, kw_tpm2_keyfile_t *kf)
{
    size_t off = 0;

    kf->parent = g->parent;
    kf->empty_auth = g->sens.sensitive.userAuth.size == 0;
    if (Tss2_MU_TPM2B_PUBLIC_Marshal(pub, kf->pub, sizeof(kf->pub), &off) != TSS2_RC_SUCCESS) {
        return PSA_ERROR_HARDWARE_FAILURE;
    }
    kf->pub_len = off;
    off = 0;
    if (Tss2_MU_TPM2B_PRIVATE_Marshal(priv, kf->priv, sizeof(kf->priv), &off) != TSS2_RC_SUCCESS) {
        return PSA_ERROR_HARDWARE_FAILURE;
    }
    kf->priv_len = off;
    return PSA_SUCCESS;
}

psa_status_t kw_tpm2_generate(const char *target, psa_key_type_t type, size_t bits, uint8_t *ref,
                              size_t ref_size, size_t *ref_len)
{
    psa_status_t status = PSA_ERROR_CORRUPTION_DETECTED;
    kw_tpm2_keyref_t kr;
    kw_tpm2_keyfile_t kf;
    gen_arg_t g;
    TPM2B_PRIVATE priv;
    TPM2B_PUBLIC pub;
    TPM2B_AUTH env_auth;
    int fd = -1;

    status = kw_tpm2_keyref_parse(target, 0, &kr);
    if (status != PSA_SUCCESS) {
        return status;
    }
    memset(&g, 0, sizeof(g));
    memset(&kf, 0, sizeof(kf));
    memset(&env_auth, 0, sizeof(env_auth));
    if (kr.handle != 0) {
        keyward_set_error("keyward generates TPM keys as blobs (tpm2:file=PATH or tpm2:); make "
                          "one persistent with tpm2_evictcontrol");
        status = PSA_ERROR_NOT_SUPPORTED;
        goto exit;
    }
    status = gen_template(type, bits, &g.tmpl.publicArea);
    if (status != PSA_SUCCESS) {
        goto exit;
    }
    gen_auth(&kr, &g, &env_auth);
    g.parent = kr.parent != 0 ? kr.parent : KW_TPM2_PARENT_OWNER;
    g.priv_out = &priv;
    g.pub_out = &pub;
    if (kr.file[0] != '\0') {
        status = gen_create_file(kr.file, &fd);
        if (status != PSA_SUCCESS) {
            goto exit;
        }
    }
    status = gen_run(&kr, &g);
    if (status == PSA_SUCCESS) {
        status = gen_keyfile(&g, &pub, &priv, &kf);
    }
    if (status == PSA_SUCCESS && fd >= 0) {
        status = write_key_file(fd, &kf);
    }
    if (status == PSA_SUCCESS) {
        status = kw_tpm2_ref_build(&kf, 0, &kr, ref, ref_size, ref_len);
    }
    if (status == PSA_SUCCESS && g.added_decrypt) {
        /* Not a failure: left for the caller to show (keyward_last_error). */
        keyward_set_error("warning: this TPM signs RSA-PSS with a salt length other than the hash "
                          "length; the key was made with the decrypt attribute so that keyward "
                          "can sign RSA-PSS for TLS 1.3 through raw RSA (the key can also "
                          "decrypt)");
    }
exit:
    if (fd >= 0) {
        close(fd);
        if (status != PSA_SUCCESS) {
            unlink(kr.file);
        }
    }
    mbedtls_platform_zeroize(&g, sizeof(g));
    mbedtls_platform_zeroize(&env_auth, sizeof(env_auth));
    kw_tpm2_keyref_free(&kr);
    return status;
}
