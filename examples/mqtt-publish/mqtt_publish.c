/*
 * mqtt-publish: publishes one MQTT message over mutual TLS, the client key
 * in a secure element and (when the SE keeps one) the certificate too.
 *
 *   mqtt-publish CA.pem CERTREF KEYREF HOST PORT TOPIC MESSAGE
 *
 * CERTREF: pkcs11:...;type=cert, tpm2:nv=0x01XXXXXX, or a PEM file.
 * KEYREF:  pkcs11:..., atecc608:slot=N;bus=..., tpm2:handle=..., file:PATH.
 * A broker with `require_certificate true` and `use_identity_as_username
 * true` (mosquitto) knows the device by its certificate: no password.
 *
 * MQTT 3.1.1 (OASIS standard), the four packets this needs:
 *   CONNECT -> CONNACK, PUBLISH (QoS 1) -> PUBACK, DISCONNECT.
 * Exit 0 when the broker acknowledged the message, 1 otherwise, 2 on usage.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <keyward/keyward.h>
#include <keyward/tls.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#define MQTT_CONNECT 0x10
#define MQTT_CONNACK 0x20
#define MQTT_PUBLISH_QOS1 0x32 /* PUBLISH, QoS 1, no DUP, no RETAIN */
#define MQTT_PUBACK 0x40
#define MQTT_DISCONNECT 0xE0
#define MQTT_KEEPALIVE_S 30
#define MQTT_PACKET_ID 1

typedef struct {
    mbedtls_net_context net;
    mbedtls_ssl_context ssl;
    mbedtls_ssl_config conf;
    mbedtls_x509_crt ca;
    keyward_tls_identity_t id;
    int id_open;
} session_t;

/* ---------------------------------------------------------------- TLS */

static int tls_write_all(session_t *s, const unsigned char *p, size_t n)
{
    while (n > 0) {
        int rc = mbedtls_ssl_write(&s->ssl, p, n);
        if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
            continue;
        }
        if (rc <= 0) {
            fprintf(stderr, "mqtt-publish: TLS write: -0x%04x\n", (unsigned)-rc);
            return -1;
        }
        p += rc;
        n -= (size_t)rc;
    }
    return 0;
}

/* Exactly n bytes; a TLS 1.3 ticket or an empty read is not the end. */
static int tls_read_all(session_t *s, unsigned char *p, size_t n)
{
    while (n > 0) {
        int rc = mbedtls_ssl_read(&s->ssl, p, n);
        if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE ||
            rc == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET) {
            continue;
        }
        if (rc <= 0) {
            fprintf(stderr, "mqtt-publish: TLS read: %s -0x%04x\n",
                    rc == 0 ? "the broker closed the connection" : "error", (unsigned)-rc);
            return -1;
        }
        p += rc;
        n -= (size_t)rc;
    }
    return 0;
}

/* The identity (certificate + SE key, checked as a pair) first: a wrong
 * certificate stops here, before any connection. */
static int tls_connect(session_t *s, char **argv)
{
    const char *ca = argv[1], *certref = argv[2], *keyref = argv[3];
    const char *host = argv[4], *port = argv[5];
    int rc;

    if ((rc = mbedtls_x509_crt_parse_file(&s->ca, ca)) != 0) {
        fprintf(stderr, "mqtt-publish: cannot read %s: -0x%04x\n", ca, (unsigned)-rc);
        return -1;
    }
    if (keyward_tls_identity_open(&s->id, certref, NULL, keyref) != PSA_SUCCESS) {
        fprintf(stderr, "mqtt-publish: device identity: %s\n", keyward_last_error());
        return -1;
    }
    s->id_open = 1;
    if ((rc = mbedtls_ssl_config_defaults(&s->conf, MBEDTLS_SSL_IS_CLIENT,
                                          MBEDTLS_SSL_TRANSPORT_STREAM,
                                          MBEDTLS_SSL_PRESET_DEFAULT)) != 0) {
        return -1;
    }
    mbedtls_ssl_conf_authmode(&s->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&s->conf, &s->ca, NULL);
    if (keyward_tls_conf_identity(&s->conf, &s->id) != PSA_SUCCESS) {
        fprintf(stderr, "mqtt-publish: device identity: %s\n", keyward_last_error());
        return -1;
    }
    if ((rc = mbedtls_ssl_setup(&s->ssl, &s->conf)) != 0 ||
        (rc = mbedtls_ssl_set_hostname(&s->ssl, host)) != 0) {
        return -1;
    }
    if ((rc = mbedtls_net_connect(&s->net, host, port, MBEDTLS_NET_PROTO_TCP)) != 0) {
        fprintf(stderr, "mqtt-publish: cannot connect to %s port %s: -0x%04x\n", host, port,
                (unsigned)-rc);
        return -1;
    }
    mbedtls_ssl_set_bio(&s->ssl, &s->net, mbedtls_net_send, mbedtls_net_recv, NULL);
    while ((rc = mbedtls_ssl_handshake(&s->ssl)) != 0) {
        if (rc != MBEDTLS_ERR_SSL_WANT_READ && rc != MBEDTLS_ERR_SSL_WANT_WRITE) {
            fprintf(stderr, "mqtt-publish: TLS handshake: -0x%04x\n", (unsigned)-rc);
            return -1;
        }
    }
    fprintf(stderr, "mqtt-publish: %s, %s\n", mbedtls_ssl_get_version(&s->ssl),
            mbedtls_ssl_get_ciphersuite(&s->ssl));
    return 0;
}

/* ---------------------------------------------------------------- MQTT 3.1.1 */

/* Remaining Length: 7 bits a byte, low first, bit 7 = more (MQTT 2.2.3). */
static size_t mqtt_put_length(unsigned char *p, size_t len)
{
    size_t n = 0;
    do {
        unsigned char b = (unsigned char)(len % 128);
        len /= 128;
        p[n++] = (unsigned char)(len > 0 ? b | 0x80 : b);
    } while (len > 0);
    return n;
}

/* A UTF-8 string field: two-byte big-endian length, then the bytes. */
static size_t mqtt_put_string(unsigned char *p, const char *str)
{
    size_t len = strlen(str);
    p[0] = (unsigned char)(len >> 8);
    p[1] = (unsigned char)len;
    memcpy(p + 2, str, len);
    return 2 + len;
}

/* Header + body into one write. */
static int mqtt_send(session_t *s, unsigned char type, const unsigned char *body, size_t len)
{
    unsigned char pkt[1 + 4 + 1024];
    size_t n = 0;

    if (len > sizeof(pkt) - 5) {
        fprintf(stderr, "mqtt-publish: packet too large\n");
        return -1;
    }
    pkt[n++] = type;
    n += mqtt_put_length(pkt + n, len);
    if (len > 0) {
        memcpy(pkt + n, body, len);
    }
    return tls_write_all(s, pkt, n + len);
}

/* A two-byte-body acknowledgement (CONNACK, PUBACK): type, length 2, body. */
static int mqtt_expect_ack(session_t *s, unsigned char type, unsigned char ack[2])
{
    unsigned char hdr[2];

    if (tls_read_all(s, hdr, 2) != 0 || tls_read_all(s, ack, 2) != 0) {
        return -1;
    }
    if (hdr[0] != type || hdr[1] != 2) {
        fprintf(stderr, "mqtt-publish: expected packet 0x%02x, got 0x%02x (length %u)\n", type,
                hdr[0], hdr[1]);
        return -1;
    }
    return 0;
}

/* CONNECT: protocol "MQTT" level 4, clean session, keep-alive; no user
 * name or password (the broker takes the certificate's identity). */
static int mqtt_connect(session_t *s, const char *client_id)
{
    unsigned char body[256], ack[2];
    size_t n = 0;

    if (strlen(client_id) > 200) {
        return -1;
    }
    n += mqtt_put_string(body + n, "MQTT");
    body[n++] = 4;    /* protocol level: 3.1.1 */
    body[n++] = 0x02; /* connect flags: clean session */
    body[n++] = 0;
    body[n++] = MQTT_KEEPALIVE_S;
    n += mqtt_put_string(body + n, client_id);
    if (mqtt_send(s, MQTT_CONNECT, body, n) != 0 || mqtt_expect_ack(s, MQTT_CONNACK, ack) != 0) {
        return -1;
    }
    if (ack[1] != 0) { /* 4: bad user name or password, 5: not authorised */
        fprintf(stderr, "mqtt-publish: the broker refused the connection (CONNACK code %u)\n",
                ack[1]);
        return -1;
    }
    return 0;
}

/* PUBLISH at QoS 1, then wait for the PUBACK of its packet id. */
static int mqtt_publish(session_t *s, const char *topic, const char *message)
{
    unsigned char body[1024], ack[2];
    size_t n = 0, len = strlen(message);

    if (strlen(topic) + len + 4 > sizeof(body)) {
        fprintf(stderr, "mqtt-publish: topic and message too long for this example\n");
        return -1;
    }
    n += mqtt_put_string(body + n, topic);
    body[n++] = (unsigned char)(MQTT_PACKET_ID >> 8);
    body[n++] = (unsigned char)MQTT_PACKET_ID;
    memcpy(body + n, message, len); /* the payload has no length of its own */
    n += len;
    if (mqtt_send(s, MQTT_PUBLISH_QOS1, body, n) != 0 ||
        mqtt_expect_ack(s, MQTT_PUBACK, ack) != 0) {
        return -1;
    }
    if (((unsigned)ack[0] << 8 | ack[1]) != MQTT_PACKET_ID) {
        fprintf(stderr, "mqtt-publish: PUBACK for another packet\n");
        return -1;
    }
    return 0;
}

static int mqtt_disconnect(session_t *s)
{
    return mqtt_send(s, MQTT_DISCONNECT, NULL, 0);
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    static session_t s;
    char client_id[64];
    int ret = 1;

    if (argc != 8) {
        fprintf(stderr, "usage: mqtt-publish CA.pem CERTREF KEYREF HOST PORT TOPIC MESSAGE\n");
        return 2;
    }
    mbedtls_net_init(&s.net);
    mbedtls_ssl_init(&s.ssl);
    mbedtls_ssl_config_init(&s.conf);
    mbedtls_x509_crt_init(&s.ca);
    snprintf(client_id, sizeof(client_id), "keyward-mqtt-publish-%ld", (long)getpid());

    if (keyward_init() != PSA_SUCCESS) { /* PSA before any Mbed TLS call (4.x) */
        fprintf(stderr, "mqtt-publish: psa_crypto_init failed\n");
    } else if (tls_connect(&s, argv) == 0 && mqtt_connect(&s, client_id) == 0 &&
               mqtt_publish(&s, argv[6], argv[7]) == 0 && mqtt_disconnect(&s) == 0) {
        printf("published to %s (acknowledged)\n", argv[6]);
        mbedtls_ssl_close_notify(&s.ssl);
        ret = 0;
    }
    mbedtls_net_free(&s.net);
    mbedtls_ssl_free(&s.ssl);
    mbedtls_ssl_config_free(&s.conf);
    mbedtls_x509_crt_free(&s.ca);
    if (s.id_open) {
        keyward_tls_identity_close(&s.id); /* the key closed, its PIN wiped */
    }
    keyward_deinit();
    return ret;
}
