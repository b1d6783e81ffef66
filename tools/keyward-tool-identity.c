/*
 * keyward-tool check-identity: would this certificate and key make a TLS
 * identity?  The same checks keyward-client and an application make
 * (keyward_tls_identity_open), without a connection.
 *
 *   keyward-tool check-identity CERTREF KEYREF [--chain CHAINREF]
 *
 * Prints the subject, the number of certificates and the cipher suite
 * choice; exit 0 when they belong together, 1 when not, 2 on bad usage.
 */
#include <stdio.h>
#include <string.h>

#include "keyward-tool.h"
#include "keyward/keyward.h"
#include "keyward/tls.h"
#include "mbedtls/x509_crt.h"

int keyward_tool_identity(int argc, char **argv)
{
    const char *certref = argc > 2 ? argv[2] : NULL, *keyref = argc > 3 ? argv[3] : NULL;
    const char *chainref = NULL;
    keyward_tls_identity_t id;
    psa_status_t status;
    char subject[256], shown[1024];
    int n = 0;

    for (int i = 4; i < argc; i++) {
        if (strcmp(argv[i], "--chain") == 0 && i + 1 < argc && chainref == NULL) {
            chainref = argv[++i];
        } else {
            keyref = NULL;
        }
    }
    if (certref == NULL || keyref == NULL) {
        fprintf(stderr, "usage: keyward-tool check-identity CERTREF KEYREF [--chain CHAINREF]\n");
        return 2;
    }
    status = keyward_init();
    if (status != PSA_SUCCESS) {
        fprintf(stderr, "keyward-tool: psa_crypto_init: %s\n", keyward_status_name(status));
        return 1;
    }
    status = keyward_tls_identity_open(&id, certref, chainref, keyref);
    if (status != PSA_SUCCESS) {
        /* Only the key reference is quoted, redacted: the detail names the step. */
        (void)keyward_keyref_redact(keyref, shown, sizeof(shown));
        fprintf(stderr, "keyward-tool: not a TLS identity (key %s): %s%s%s\n", shown,
                keyward_status_name(status), keyward_last_error()[0] ? ": " : "",
                keyward_last_error());
        keyward_deinit();
        return 1;
    }
    for (const mbedtls_x509_crt *c = &id.chain; c != NULL && c->raw.p != NULL; c = c->next) {
        n++;
    }
    if (mbedtls_x509_dn_gets(subject, sizeof(subject), &id.chain.subject) < 0) {
        snprintf(subject, sizeof(subject), "?");
    }
    printf("identity ok: %s, %d certificate(s), %s\n", subject, n,
           id.suites[0] != 0 ? "SHA-384 TLS 1.2 suites left out (the key signs no SHA-384)"
                             : "all cipher suites");
    keyward_tls_identity_close(&id);
    keyward_deinit();
    return 0;
}
