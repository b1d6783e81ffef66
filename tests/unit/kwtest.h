/* A tiny test helper: CHECK counts; main returns kw_test_end(). */
#ifndef KWTEST_H
#define KWTEST_H
#include <stdio.h>

static int kw_pass, kw_fail;

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (cond) {                                                                          \
            kw_pass++;                                                                       \
        } else {                                                                             \
            kw_fail++;                                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);         \
        }                                                                                    \
    } while (0)

#define CHECK_STATUS(expr, expected)                                                         \
    do {                                                                                     \
        psa_status_t kw_s_ = (expr);                                                         \
        if (kw_s_ == (expected)) {                                                           \
            kw_pass++;                                                                       \
        } else {                                                                             \
            kw_fail++;                                                                       \
            fprintf(stderr, "%s:%d: %s gave %d, expected %s (%d)\n", __FILE__, __LINE__,     \
                    #expr, (int)kw_s_, #expected, (int)(expected));                          \
        }                                                                                    \
    } while (0)

static inline int kw_test_end(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, kw_pass, kw_fail);
    return kw_fail == 0 && kw_pass > 0 ? 0 : 1;
}
#endif
