/*
 * keyward-client: an HTTP/1.0 response read as it streams in.  The head is
 * kept (bounded); the body goes to stdout, or to stderr when the status is
 * not 2xx (unless --no-fail), so an error's reason still shows.
 */
#ifndef KWC_HTTP_H
#define KWC_HTTP_H

#include <stddef.h>
#include <stdio.h>

typedef struct {
    char head[16384];
    size_t head_len;
    int head_done;
    int status;
    char reason[128];
    long long content_length; /* -1: none */
    long long body_len;       /* body bytes written out */
    int last_byte;
    FILE *out;
    int verbose, no_fail;
} kwc_http_resp_t;

void kwc_http_init(kwc_http_resp_t *r, int verbose, int no_fail);

/* Takes len more bytes of the stream.  0, or -1 on a bad head (no status
 * line, a bad or doubled Content-Length, a Transfer-Encoding, a head over
 * 16 KiB), message printed.  Bytes past Content-Length are dropped. */
int kwc_http_feed(kwc_http_resp_t *r, const unsigned char *p, size_t len);

/* The head and every byte Content-Length announced are in. */
int kwc_http_complete(const kwc_http_resp_t *r);

#endif
