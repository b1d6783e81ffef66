/* keyward-client: the HTTP/1.0 response parser (http.h). */
#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client.h"

void kwc_http_init(kwc_http_resp_t *r, int verbose, int no_fail)
{
    memset(r, 0, sizeof(*r));
    r->content_length = -1;
    r->verbose = verbose;
    r->no_fail = no_fail;
}

/* Parses the status line and the headers we need. 0 or -1 (message printed). */
static int parse_head(kwc_http_resp_t *r)
{
    char *line = r->head, *next, *v;
    int first = 1;

    r->content_length = -1;
    for (; *line != '\0'; line = next) {
        size_t n = strcspn(line, "\n");
        next = line + n + (line[n] == '\n');
        line[n] = '\0';
        if (n > 0 && line[n - 1] == '\r') {
            line[n - 1] = '\0';
        }
        if (first) {
            first = 0;
            if (strncmp(line, "HTTP/1.", 7) != 0 || strlen(line) < 12 || line[8] != ' ' ||
                strspn(line + 9, "0123456789") != 3 || (line[12] != ' ' && line[12] != '\0')) {
                kwc_fail(0, "the server's answer is not an HTTP response");
                return -1;
            }
            r->status = atoi(line + 9);
            snprintf(r->reason, sizeof(r->reason), "%s", line[12] ? line + 13 : "");
            continue;
        }
        v = strchr(line, ':');
        if (v == NULL) {
            continue;
        }
        *v++ = '\0';
        v += strspn(v, " \t");
        v[strcspn(v, " \t")] = '\0';
        if (strcasecmp(line, "Content-Length") == 0) {
            long long cl = 0;
            if (*v == '\0' || strspn(v, "0123456789") != strlen(v) || strlen(v) > 17) {
                kwc_fail(0, "the server sent a bad Content-Length '%.40s'", v);
                return -1;
            }
            cl = atoll(v);
            if (r->content_length >= 0 && r->content_length != cl) {
                kwc_fail(0, "the server sent two different Content-Lengths");
                return -1;
            }
            r->content_length = cl;
        } else if (strcasecmp(line, "Transfer-Encoding") == 0) {
            /* Not allowed in an answer to HTTP/1.0, and its length would be lost. */
            kwc_fail(0, "the server sent Transfer-Encoding '%.40s' to an HTTP/1.0 request", v);
            return -1;
        }
    }
    if (r->verbose) {
        fprintf(stderr, "* HTTP status: %d %s\n", r->status, r->reason);
    }
    r->out = (r->status >= 200 && r->status < 300) || r->no_fail ? stdout : stderr;
    return 0;
}

/* Takes len bytes of the stream. 0, or -1 on a bad head (message printed). */
int kwc_http_feed(kwc_http_resp_t *r, const unsigned char *p, size_t len)
{
    while (len > 0 && !r->head_done) {
        if (r->head_len + 1 >= sizeof(r->head)) {
            kwc_fail(0, "the server's response header is longer than %u bytes",
                     (unsigned)sizeof(r->head) - 1);
            return -1;
        }
        r->head[r->head_len++] = (char)*p++;
        len--;
        r->head[r->head_len] = '\0';
        if ((r->head_len >= 4 && memcmp(r->head + r->head_len - 4, "\r\n\r\n", 4) == 0) ||
            (r->head_len >= 2 && memcmp(r->head + r->head_len - 2, "\n\n", 2) == 0)) {
            r->head_done = 1;
            if (parse_head(r) != 0) {
                return -1;
            }
        }
    }
    if (len > 0 && r->content_length >= 0 && (long long)len > r->content_length - r->body_len) {
        len = (size_t)(r->content_length - r->body_len); /* what lies past the length is not body */
    }
    if (len > 0) {
        fwrite(p, 1, len, r->out);
        r->body_len += (long long)len;
        r->last_byte = p[len - 1];
    }
    return 0;
}

int kwc_http_complete(const kwc_http_resp_t *r)
{
    return r->head_done && r->content_length >= 0 && r->body_len >= r->content_length;
}
