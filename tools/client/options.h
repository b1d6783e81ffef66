/*
 * keyward-client's command line: the options (options.c) and the URL taken
 * apart (url.c).
 */
#ifndef KWC_OPTIONS_H
#define KWC_OPTIONS_H

#include <stdint.h>

typedef struct {
    int verbose;
    int no_fail;
    int tls_max, tls_min; /* 12 or 13, 0 = default */
    const char *cacert, *cert, *chain, *key, *url;
    char host[256], port[8], path[1024];
    int https;
    int64_t connect_timeout_ms, max_time_ms;
} opts_t;

/* Returns -1 to go on, or the exit status (0 for --help, 2 for bad usage). */
int kwc_parse_args(int argc, char **argv, opts_t *o);
/* o->url into o->https, host, port (443 by default) and path ("/"): 0, or
 * -1 if it is not https://host[:port][/path] or tls://host[:port]. */
int kwc_parse_url(opts_t *o);

#endif
