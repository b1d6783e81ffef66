/*
 * keyward-tool: provisioning for keys held in secure elements.
 *
 *   keyward-tool keygen KEYREF --type ec-p256|ec-p384|ec-p521|rsa-2048|rsa-3072|rsa-4096
 *   keyward-tool pubkey KEYREF             public key, PEM, to stdout
 *   keyward-tool csr KEYREF --subject DN   PEM CSR signed inside the SE
 *   keyward-tool SUBCOMMAND KEYREF         a backend's own subcommands (TOOL_COMMANDS of
 *                                          its declaration, src/se/<name>/CMakeLists.txt)
 *   keyward-tool cert-store CERTREF cert.pem [--force] / cert-get CERTREF  (keyward-tool-cert.c)
 *   keyward-tool check-identity CERTREF KEYREF [--chain CHAINREF]  (keyward-tool-identity.c)
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "keyward-tool.h"
#include "keyward/keyward.h"
#include "keyward/port/mbedtls_compat.h"
#include "keyward_tool_commands.h"
#include "mbedtls/error.h"
#include "mbedtls/pk.h"
#include "mbedtls/psa_util.h"
#include "mbedtls/x509_csr.h"
#include "signals.h"

static void usage(void)
{
    fprintf(stderr, "usage: keyward-tool keygen KEYREF --type "
                    "ec-p256|ec-p384|ec-p521|rsa-2048|rsa-3072|rsa-4096\n"
                    "       keyward-tool pubkey KEYREF\n"
                    "       keyward-tool csr KEYREF --subject \"CN=...,O=...\"\n" KEYWARD_TOOL_USAGE
                    "       keyward-tool cert-store CERTREF cert.pem [--force] | cert-get CERTREF\n"
                    "       keyward-tool check-identity CERTREF KEYREF [--chain CHAINREF]\n");
}

/* The backends' own subcommands (src/se/<name>/CMakeLists.txt, TOOL_COMMANDS). */
typedef struct {
    const char *name;
    int (*run)(const char *keyref);
} backend_command_t;

static const backend_command_t backend_commands[] = {KEYWARD_TOOL_COMMANDS{NULL, NULL}};

static const backend_command_t *backend_command(const char *cmd)
{
    for (size_t i = 0; backend_commands[i].name != NULL; i++) {
        if (strcmp(cmd, backend_commands[i].name) == 0) {
            return &backend_commands[i];
        }
    }
    return NULL;
}

static int key_error(const char *what, const char *keyref, psa_status_t status)
{
    char shown[1024];

    /* Never repeat a PIN or auth value given in the KEYREF. */
    (void)keyward_keyref_redact(keyref, shown, sizeof(shown));
    fprintf(stderr, "keyward-tool: %s %s: %s%s%s\n", what, shown, keyward_status_name(status),
            keyward_last_error()[0] ? ": " : "", keyward_last_error());
    return 1;
}

static int print_pubkey(psa_key_id_t key)
{
    mbedtls_pk_context pk;
    unsigned char pem[4096];
    int rc;

    mbedtls_pk_init(&pk);
    rc = keyward_compat_pk_wrap_psa(&pk, key);
    if (rc == 0) {
        rc = mbedtls_pk_write_pubkey_pem(&pk, pem, sizeof(pem));
    }
    if (rc == 0) {
        fputs((const char *)pem, stdout);
    } else {
        fprintf(stderr, "keyward-tool: cannot write the public key: -0x%04x %s\n", (unsigned)-rc,
                keyward_last_error());
    }
    mbedtls_pk_free(&pk);
    return rc == 0 ? 0 : 1;
}

static int parse_type(const char *t, psa_key_type_t *type, size_t *bits)
{
    static const struct {
        const char *name;
        int ec;
        size_t bits;
    } types[] = {{"ec-p256", 1, 256},   {"ec-p384", 1, 384},   {"ec-p521", 1, 521},
                 {"rsa-2048", 0, 2048}, {"rsa-3072", 0, 3072}, {"rsa-4096", 0, 4096}};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (strcmp(t, types[i].name) == 0) {
            *type = types[i].ec ? PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1)
                                : PSA_KEY_TYPE_RSA_KEY_PAIR;
            *bits = types[i].bits;
            return 0;
        }
    }
    return -1;
}

static int make_csr(psa_key_id_t key, const char *subject)
{
    mbedtls_pk_context pk;
    mbedtls_x509write_csr csr;
    unsigned char pem[8192];
    int rc;

    mbedtls_pk_init(&pk);
    mbedtls_x509write_csr_init(&csr);
    rc = keyward_compat_pk_wrap_psa(&pk, key);
    if (rc == 0) {
        mbedtls_x509write_csr_set_key(&csr, &pk);
        mbedtls_x509write_csr_set_md_alg(&csr, MBEDTLS_MD_SHA256);
        rc = mbedtls_x509write_csr_set_subject_name(&csr, subject);
        if (rc != 0) {
            fprintf(stderr, "keyward-tool: bad subject '%s'\n", subject);
        }
    }
    if (rc == 0) {
        rc = keyward_compat_x509write_csr_pem(&csr, pem, sizeof(pem));
        if (rc != 0) {
            char buf[160];
            keyward_compat_strerror(rc, buf, sizeof(buf));
            fprintf(stderr, "keyward-tool: signing the CSR failed: %s %s\n", buf,
                    keyward_last_error());
        }
    }
    if (rc == 0) {
        fputs((const char *)pem, stdout);
    }
    mbedtls_x509write_csr_free(&csr);
    mbedtls_pk_free(&pk);
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *cmd, *keyref, *type_s = NULL, *subject = NULL;
    psa_key_id_t key = 0;
    psa_status_t status;
    int ret = 1;

    if (argc < 3) {
        usage();
        return 2;
    }
    cmd = argv[1];
    keyref = argv[2];
    if (strcmp(cmd, "cert-store") == 0 || strcmp(cmd, "cert-get") == 0) {
        return keyward_tool_cert(argc, argv);
    }
    if (strcmp(cmd, "check-identity") == 0) {
        return keyward_tool_identity(argc, argv);
    }
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--type") == 0 && i + 1 < argc) {
            type_s = argv[++i];
        } else if (strcmp(argv[i], "--subject") == 0 && i + 1 < argc) {
            subject = argv[++i];
        } else {
            char shown[256];
            (void)keyward_keyref_redact(argv[i], shown, sizeof(shown));
            fprintf(stderr, "keyward-tool: unknown option '%s'\n", shown);
            usage();
            return 2;
        }
    }
    /* SIGINT/SIGTERM: the SE operation under way completes, then the tool
     * leaves through keyward_deinit() below (SE objects released). */
    kw_signals_install();
    status = keyward_init();
    if (status != PSA_SUCCESS) {
        fprintf(stderr, "keyward-tool: psa_crypto_init: %s\n", keyward_status_name(status));
        return 1;
    }
    if (strcmp(cmd, "keygen") == 0) {
        psa_key_type_t type;
        size_t bits;
        if (type_s == NULL || parse_type(type_s, &type, &bits) != 0) {
            fprintf(stderr, "keyward-tool: keygen needs --type ec-p256|ec-p384|ec-p521|rsa-2048|"
                            "rsa-3072|rsa-4096\n");
            ret = 2;
            goto exit;
        }
        status = keyward_key_generate(keyref, type, bits, &key);
        if (status != PSA_SUCCESS) {
            ret = key_error("cannot generate", keyref, status);
            goto exit;
        }
        ret = print_pubkey(key);
    } else if (strcmp(cmd, "pubkey") == 0 || strcmp(cmd, "csr") == 0) {
        status = keyward_key_open(keyref, &key);
        if (status != PSA_SUCCESS) {
            ret = key_error("cannot open", keyref, status);
            goto exit;
        }
        if (strcmp(cmd, "pubkey") == 0) {
            ret = print_pubkey(key);
        } else if (subject == NULL) {
            fprintf(stderr, "keyward-tool: csr needs --subject\n");
            ret = 2;
        } else {
            ret = make_csr(key, subject);
        }
    } else if (backend_command(cmd) != NULL) {
        ret = backend_command(cmd)->run(keyref);
    } else {
        usage();
        ret = 2;
    }
exit:
    if (kw_signals_caught() != 0) {
        int sig = kw_signals_caught();
        fprintf(stderr, "keyward-tool: interrupted by %s\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
        ret = kw_signals_exit_status(sig);
    }
    if (key != 0) {
        keyward_key_close(key); /* also wipes the PIN / auth value kept for it */
    }
    keyward_deinit();
    return ret;
}
