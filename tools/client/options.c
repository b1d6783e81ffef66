/*
 * keyward-client: the command line (--help, the options, their values).
 * The URL is taken apart by url.c.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyward/port/backends_build.h"
#include "client.h"
#include "options.h"

static void usage(void)
{
    fprintf(stderr,
            "usage: keyward-client [-v] [--tls-max 1.2|1.3] [--tls-min 1.2|1.3] [--no-fail]\n"
            "                      [--connect-timeout S] [--max-time S] --cacert CA.pem\n"
            "                      --cert CERTREF [--chain CHAIN.pem] --key KEYREF URL\n"
            "  URL  https://host:port/path (GET, prints the body) or tls://host:port\n"
            "  KEYREF %s%sfile:key.pem\n"
            "  CERTREF CERT.pem%s%s\n"
            "  exit status: 0 ok, 2 usage, 6 resolve, 7 connect, 18 partial body, 22 HTTP error,\n"
            "               28 timeout, 35 TLS/alert, 56 receive, 58 certificate/key problem\n",
            /* the KEYREF and CERTREF forms of this build's backends (their declarations) */
            KEYWARD_KEYREF_HELP, KEYWARD_KEYREF_HELP[0] != '\0' ? ", " : "",
            KEYWARD_CERTREF_HELP[0] != '\0' ? ", " : "", KEYWARD_CERTREF_HELP);
}

static int parse_version(const char *s)
{
    if (strcmp(s, "1.2") == 0) {
        return 12;
    }
    if (strcmp(s, "1.3") == 0) {
        return 13;
    }
    return -1;
}

/* Seconds, fractions allowed, as curl takes them: (0, 1e6]. */
static int parse_seconds(const char *s, int64_t *ms)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (end == s || *end != '\0' || errno != 0 || !isfinite(v) || v <= 0 || v > 1e6) {
        return -1;
    }
    *ms = (int64_t)(v * 1000.0 + 0.5);
    if (*ms == 0) {
        *ms = 1;
    }
    return 0;
}

/* One option (with its value, argv[*i + 1], if it takes one: *i then
 * steps over it) or the URL.  Returns -1 to go on, or the exit status (0
 * for --help, 2 for bad usage). */
static int parse_option(int argc, char **argv, int *i, opts_t *o)
{
    const char *a = argv[*i];
    const char *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    char shown[1024];

    if (strcmp(a, "-v") == 0) {
        o->verbose = 1;
    } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
        usage();
        return 0;
    } else if (strcmp(a, "--no-fail") == 0) {
        o->no_fail = 1;
    } else if ((strcmp(a, "--tls-max") == 0 || strcmp(a, "--tls-min") == 0) && v != NULL) {
        int ver = parse_version(v);
        if (ver < 0) {
            return kwc_fail(KWC_EXIT_USAGE, "%s takes 1.2 or 1.3, not '%s'", a, v);
        }
        *(strcmp(a, "--tls-max") == 0 ? &o->tls_max : &o->tls_min) = ver;
        (*i)++;
    } else if ((strcmp(a, "--connect-timeout") == 0 || strcmp(a, "--max-time") == 0) && v != NULL) {
        int64_t *ms = strcmp(a, "--max-time") == 0 ? &o->max_time_ms : &o->connect_timeout_ms;
        if (parse_seconds(v, ms) != 0) {
            return kwc_fail(KWC_EXIT_USAGE, "%s takes seconds (> 0, at most 1000000), not '%s'", a,
                            v);
        }
        (*i)++;
    } else if (strcmp(a, "--cacert") == 0 && v != NULL) {
        o->cacert = v;
        (*i)++;
    } else if (strcmp(a, "--cert") == 0 && v != NULL) {
        o->cert = v;
        (*i)++;
    } else if (strcmp(a, "--chain") == 0 && v != NULL) {
        o->chain = v;
        (*i)++;
    } else if (strcmp(a, "--key") == 0 && v != NULL) {
        o->key = v;
        (*i)++;
    } else if (a[0] != '-' && o->url == NULL) {
        o->url = a;
    } else {
        kwc_fail(KWC_EXIT_USAGE, "unknown or incomplete option '%s'",
                 kwc_keyref_shown(a, shown, sizeof(shown)));
        usage();
        return KWC_EXIT_USAGE;
    }
    return -1;
}

/* Returns -1 to go on, or the exit status (0 for --help, 2 for bad usage). */
int kwc_parse_args(int argc, char **argv, opts_t *o)
{
    char shown[1024];
    int ret;

    memset(o, 0, sizeof(*o));
    o->connect_timeout_ms = 10000;
    o->max_time_ms = 60000;
    for (int i = 1; i < argc; i++) {
        if ((ret = parse_option(argc, argv, &i, o)) >= 0) {
            return ret;
        }
    }
    if (o->cacert == NULL || o->cert == NULL || o->key == NULL || o->url == NULL) {
        kwc_fail(KWC_EXIT_USAGE, "--cacert, --cert, --key and a URL are required");
        usage();
        return KWC_EXIT_USAGE;
    }
    if (o->tls_min != 0 && o->tls_max != 0 && o->tls_min > o->tls_max) {
        return kwc_fail(KWC_EXIT_USAGE, "--tls-min is above --tls-max");
    }
    if (kwc_parse_url(o) != 0) {
        return kwc_fail(KWC_EXIT_USAGE, "bad URL '%s' (https://host:port/path or tls://host:port)",
                        kwc_keyref_shown(o->url, shown, sizeof(shown)));
    }
    return -1;
}
