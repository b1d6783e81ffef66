/*
 * examples/tls-identity/https_get.c: the README's example.  An HTTPS GET
 * with mutual TLS, the client key in a secure element, in one call for the
 * identity (keyward_tls_identity_open + keyward_tls_conf_identity).
 *
 *   https_get CA.pem CERTREF KEYREF HOST PORT
 *
 * CERTREF: a PEM file, pkcs11:...;type=cert or tpm2:nv=0x01XXXXXX.
 * KEYREF:  pkcs11:..., atecc608:slot=N;bus=..., tpm2:handle=... or file:PATH.
 * Prints the response; exit 0 when it came, 1 otherwise.
 * Builds on Mbed TLS 3.6 and 4.x alike.
 */
#include <stdio.h>
#include <string.h>

#include <keyward/keyward.h>
#include <keyward/tls.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

int main(int argc, char **argv)
{
    keyward_tls_identity_t id;
    mbedtls_ssl_config conf;
    mbedtls_ssl_context ssl;
    mbedtls_x509_crt ca;
    mbedtls_net_context net;
    unsigned char buf[1024];
    int rc, ret = 1, opened = 0;

    if (argc != 6) {
        fprintf(stderr, "usage: %s CA.pem CERTREF KEYREF HOST PORT\n", argv[0]);
        return 2;
    }
    mbedtls_ssl_config_init(&conf);
    mbedtls_ssl_init(&ssl);
    mbedtls_x509_crt_init(&ca);
    mbedtls_net_init(&net);

    /* PSA first: on Mbed TLS 4.x even certificate parsing needs it. */
    if (keyward_init() != PSA_SUCCESS || mbedtls_x509_crt_parse_file(&ca, argv[1]) != 0) {
        fprintf(stderr, "cannot start PSA or read %s\n", argv[1]);
        goto exit;
    }
    /* The certificate (file or SE), the key, and the check that they are a
     * pair: before any connection. */
    if (keyward_tls_identity_open(&id, argv[2], NULL, argv[3]) != PSA_SUCCESS) {
        fprintf(stderr, "TLS identity: %s\n", keyward_last_error());
        goto exit;
    }
    opened = 1;
    if (mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT) != 0) {
        goto exit;
    }
    mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&conf, &ca, NULL);
    /* Own certificate and SE key, the RNG, what the key can sign. */
    if (keyward_tls_conf_identity(&conf, &id) != PSA_SUCCESS) {
        fprintf(stderr, "TLS identity: %s\n", keyward_last_error());
        goto exit;
    }
    if ((rc = mbedtls_ssl_setup(&ssl, &conf)) != 0 ||
        (rc = mbedtls_ssl_set_hostname(&ssl, "localhost")) != 0 ||
        (rc = mbedtls_net_connect(&net, argv[4], argv[5], MBEDTLS_NET_PROTO_TCP)) != 0) {
        fprintf(stderr, "setup/connect: -0x%04x\n", (unsigned)-rc);
        goto exit;
    }
    mbedtls_ssl_set_bio(&ssl, &net, mbedtls_net_send, mbedtls_net_recv, NULL);
    while ((rc = mbedtls_ssl_handshake(&ssl)) != 0) {
        if (rc != MBEDTLS_ERR_SSL_WANT_READ && rc != MBEDTLS_ERR_SSL_WANT_WRITE) {
            fprintf(stderr, "handshake: -0x%04x\n", (unsigned)-rc);
            goto exit;
        }
    }
    fprintf(stderr, "%s, %s\n", mbedtls_ssl_get_version(&ssl), mbedtls_ssl_get_ciphersuite(&ssl));
    static const char req[] = "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n";
    if (mbedtls_ssl_write(&ssl, (const unsigned char *)req, strlen(req)) != (int)strlen(req)) {
        goto exit;
    }
    /* Until the server closes; a TLS 1.3 post-handshake message (a ticket)
     * makes a read return without data. */
    while ((rc = mbedtls_ssl_read(&ssl, buf, sizeof(buf))) > 0 ||
           rc == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET || rc == MBEDTLS_ERR_SSL_WANT_READ) {
        if (rc > 0) {
            fwrite(buf, 1, (size_t)rc, stdout);
            ret = 0;
        }
    }
    if (ret != 0) {
        fprintf(stderr, "no response: -0x%04x\n", (unsigned)-rc);
    }
    mbedtls_ssl_close_notify(&ssl);
exit:
    mbedtls_net_free(&net);
    mbedtls_ssl_free(&ssl);
    mbedtls_ssl_config_free(&conf);
    mbedtls_x509_crt_free(&ca);
    if (opened) {
        keyward_tls_identity_close(&id); /* chain, key (and its PIN) freed */
    }
    keyward_deinit();
    return ret;
}
