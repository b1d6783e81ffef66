/*
 * Secret KEYREF attributes: which they are, how to mask them in messages,
 * and how to take them out of a KEYREF before it becomes a ref.
 *
 * One rule for every scheme: attributes are name=value items separated by
 * ';', '&' or '?' (RFC 7512 path and query, and keyward's own schemes).  A
 * secret's value runs to the next ';' or '&' only: a '?' may be part of a
 * query value, and masking too much is harmless where masking too little
 * leaks.
 *
 * The last-error text lives here too: every message is redacted on its way
 * in (keyward_set_error), so the redaction is the one thing it needs.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core.h"
#include "mbedtls/platform_util.h"

#define MASK "***"

static int is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static int name_is(const char *name, size_t len, const char *lit)
{
    if (strlen(lit) != len) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if (lower((unsigned char)name[i]) != lit[i]) {
            return 0;
        }
    }
    return 1;
}

static int ends_with(const char *name, size_t len, const char *lit)
{
    size_t n = strlen(lit);
    return len >= n && name_is(name + len - n, n, lit);
}

int keyward_keyref_attr_is_secret(const char *name, size_t len)
{
    /* "--pin-value=..." typed as a program option is the same secret. */
    while (len > 0 && name[0] == '-') {
        name++;
        len--;
    }
    /* pin-value (RFC 7512), auth / parent-auth (tpm2:), and anything else
     * that by its name carries a password. */
    return name_is(name, len, "pin-value") || name_is(name, len, "so-pin") ||
           ends_with(name, len, "auth") || ends_with(name, len, "password") ||
           ends_with(name, len, "passphrase");
}

/* Length of a secret value starting at v. */
static size_t secret_value_len(const char *v)
{
    return strcspn(v, ";&");
}

size_t keyward_keyref_redact(const char *keyref, char *out, size_t out_size)
{
    size_t o = 0;
    const char *p = keyref != NULL ? keyref : "";

#define EMIT(c)                 \
    do {                        \
        if (o + 1 < out_size) { \
            out[o] = (c);       \
        }                       \
        o++;                    \
    } while (0)
    while (*p != '\0') {
        /* A name starts where the previous character cannot continue one. */
        if (is_name_char(*p) && (p == keyref || !is_name_char(p[-1]))) {
            size_t n = 0;
            while (is_name_char(p[n])) {
                n++;
            }
            /* An empty value (or one followed by a space, as in a message
             * that names the attribute "auth= in the KEYREF") hides nothing. */
            if (p[n] == '=' && keyward_keyref_attr_is_secret(p, n) && p[n + 1] != '\0' &&
                p[n + 1] != ';' && p[n + 1] != '&' && p[n + 1] != ' ') {
                for (size_t i = 0; i <= n; i++) {
                    EMIT(p[i]);
                }
                for (const char *m = MASK; *m != '\0'; m++) {
                    EMIT(*m);
                }
                p += n + 1;
                p += secret_value_len(p);
                continue;
            }
            for (size_t i = 0; i < n; i++) {
                EMIT(p[i]);
            }
            p += n;
            continue;
        }
        EMIT(*p);
        p++;
    }
#undef EMIT
    if (out_size > 0) {
        out[o < out_size ? o : out_size - 1] = '\0';
    }
    return o;
}

#if defined(KEYWARD_NO_SECRETS)
/* MCU profile (no secret store, KEYWARD_SECRETS_MAX=0): the backends built
 * there (ATECC608) have no secret attribute and their KEYREF parsers refuse
 * any attribute they do not know, so a KEYREF carrying a PIN never becomes a
 * key.  The scan and the stripping are compiled out (about 1 KB of code);
 * keyward_keyref_has_secret is 0, inline in keyward/port/backend.h. */
psa_status_t keyward_keyref_strip(const char *keyref, char *out, size_t out_size, size_t *out_len)
{
    size_t n = strlen(keyref);

    if (n >= out_size) {
        keyward_set_error("KEYREF longer than %u bytes", (unsigned)out_size);
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    memcpy(out, keyref, n + 1);
    if (out_len != NULL) {
        *out_len = n;
    }
    return PSA_SUCCESS;
}
#else
/* Calls fn for each item of the KEYREF after "scheme:"; d is the character
 * before the item (0 for the first). */
typedef int (*item_fn_t)(void *ctx, char d, const char *item, size_t len, int secret);

static int for_each_item(const char *keyref, item_fn_t fn, void *ctx)
{
    const char *colon = strchr(keyref, ':');
    const char *p = colon != NULL ? colon + 1 : keyref;
    char d = 0;

    for (;;) {
        size_t n = strcspn(p, ";&?");
        const char *eq = memchr(p, '=', n);
        int secret = eq != NULL && keyward_keyref_attr_is_secret(p, (size_t)(eq - p));
        int r;

        if (secret) {
            n = (size_t)(eq + 1 - p) + secret_value_len(eq + 1);
        }
        r = fn(ctx, d, p, n, secret);
        if (r != 0) {
            return r;
        }
        p += n;
        if (*p == '\0') {
            break;
        }
        d = *p++;
    }
    return 0;
}

static int any_secret(void *ctx, char d, const char *item, size_t len, int secret)
{
    (void)ctx;
    (void)d;
    (void)item;
    (void)len;
    return secret;
}

int keyward_keyref_has_secret(const char *keyref)
{
    return keyref != NULL && for_each_item(keyref, any_secret, NULL) != 0;
}

typedef struct {
    char *out;
    size_t size, len;
    int in_query, path_items, query_items, overflow;
} strip_t;

static void put(strip_t *s, const char *p, size_t n)
{
    if (s->len + n >= s->size) {
        s->overflow = 1;
        return;
    }
    memcpy(s->out + s->len, p, n);
    s->len += n;
}

static int strip_item(void *ctx, char d, const char *item, size_t len, int secret)
{
    strip_t *s = ctx;

    if (d == '?') {
        s->in_query = 1;
    }
    if (secret) {
        return 0;
    }
    if (s->in_query) {
        put(s, s->query_items++ == 0 ? "?" : (d == ';' ? ";" : "&"), 1);
    } else if (s->path_items++ > 0) {
        put(s, d == '&' ? "&" : ";", 1);
    }
    put(s, item, len);
    return 0;
}

psa_status_t keyward_keyref_strip(const char *keyref, char *out, size_t out_size, size_t *out_len)
{
    strip_t s = {out, out_size, 0, 0, 0, 0, 0};
    const char *colon = strchr(keyref, ':');

    if (!keyward_keyref_has_secret(keyref)) {
        put(&s, keyref, strlen(keyref)); /* nothing to take out: unchanged */
    } else if (colon != NULL) {
        put(&s, keyref, (size_t)(colon + 1 - keyref));
        (void)for_each_item(keyref, strip_item, &s);
    } else {
        (void)for_each_item(keyref, strip_item, &s);
    }
    if (s.overflow || out_size == 0) {
        keyward_set_error("KEYREF longer than %u bytes", (unsigned)out_size);
        return PSA_ERROR_INVALID_ARGUMENT;
    }
    out[s.len] = '\0';
    if (out_len != NULL) {
        *out_len = s.len;
    }
    return PSA_SUCCESS;
}
#endif /* KEYWARD_NO_SECRETS */

/* ---- the last error ------------------------------------------------------ */

#if !defined(KEYWARD_NO_ERROR_TEXT) /* without error text: api.c's keyward_last_error */
static KEYWARD_THREAD_LOCAL char last_error[256];

void keyward_set_error(const char *fmt, ...)
{
    char raw[sizeof(last_error)];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(raw, sizeof(raw), fmt, ap);
    va_end(ap);
    /* A message quoting a KEYREF must not carry its PIN or auth value. */
    (void)keyward_keyref_redact(raw, last_error, sizeof(last_error));
    mbedtls_platform_zeroize(raw, sizeof(raw));
}

const char *keyward_last_error(void)
{
    return last_error;
}

void keyward_clear_error(void)
{
    last_error[0] = '\0';
}
#endif
