/*
 * keyward-client: the URL, https://host:port/path or tls://host:port (an
 * IPv6 host in brackets), into host, port and path.
 */
#include <stdlib.h>
#include <string.h>

#include "options.h"

int kwc_parse_url(opts_t *o)
{
    const char *p = o->url, *hs, *he, *ps;
    size_t n;

    if (strncmp(p, "https://", 8) == 0) {
        o->https = 1;
        p += 8;
    } else if (strncmp(p, "tls://", 6) == 0) {
        p += 6;
    } else {
        return -1;
    }
    hs = p;
    if (*p == '[') { /* [v6]:port */
        he = strchr(p, ']');
        if (he == NULL) {
            return -1;
        }
        hs = p + 1;
        p = he + 1;
    } else {
        he = p + strcspn(p, ":/");
        p = he;
    }
    n = (size_t)(he - hs);
    if (n == 0 || n >= sizeof(o->host)) {
        return -1;
    }
    memcpy(o->host, hs, n);
    o->host[n] = '\0';
    strcpy(o->port, "443");
    if (*p == ':') {
        ps = ++p;
        p += strspn(p, "0123456789");
        n = (size_t)(p - ps);
        if (n == 0 || n >= sizeof(o->port) || atoi(ps) > 65535 || atoi(ps) == 0) {
            return -1;
        }
        memcpy(o->port, ps, n);
        o->port[n] = '\0';
    }
    if (*p != '\0' && *p != '/') {
        return -1;
    }
    if (strlen(*p ? p : "/") >= sizeof(o->path) || strpbrk(p, " \r\n") != NULL) {
        return -1;
    }
    strcpy(o->path, *p ? p : "/");
    return 0;
}
