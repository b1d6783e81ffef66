/* tests/support/kwcheck.h - the one check header of keyward's C tests.
 *
 *   CHECK(cond)                 count a check; on failure print it and go on
 *   CHECK_EQ(a, b)              the same for two integers (both values printed)
 *   CHECK_STATUS(expr, want)    the same for a psa_status_t
 *   REQUIRE(cond), REQUIRE_EQ(a, b)
 *                               count a check; on failure print it and exit(1) (for checks
 *                               the rest of the test cannot go on without)
 *   CHECK_MSG(cond, fmt, ...)   count a check; print "FAIL <message>" on failure (and
 *                               "ok   <message>" on success when kw_check_verbose is set)
 *   CHECK_TEXT(cond, text)      CHECK_MSG with a plain text (no format)
 *   CHECK_STATUS_MSG(got, want, fmt, ...)
 *                               CHECK_MSG for a psa_status_t; names both statuses on failure
 *                               through kw_check_status_name when the test sets it
 *   kw_test_end(name)           print "NAME: N checks passed, M failed"; 0 only if M == 0
 *                               and N > 0 (main returns it)
 *
 * Every test process prints its count at exit, also when it leaves through exit() or a
 * REQUIRE, and a process that ran zero checks exits 1: a test whose checks were all skipped
 * (or never reached) must not pass.  The counters and the exit hook are weak symbols, so
 * several files of one test program (a fixture such as emu_helper.c) share one count. */
#ifndef KWCHECK_H
#define KWCHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <unistd.h>

#define KW_WEAK __attribute__((weak))

KW_WEAK int kw_check_passed;
KW_WEAK int kw_check_failed;
KW_WEAK const char *kw_check_name;
KW_WEAK int kw_check_reported;
KW_WEAK pid_t kw_check_pid;   /* the test's own process: a forked child does not report */
KW_WEAK int kw_check_verbose; /* CHECK_MSG prints its "ok" lines too */
/* Optional hooks a test sets: extra text for a FAIL line (e.g. keyward_last_error) and the
 * name of a status (keyward_status_name); this header links no keyward code itself. */
KW_WEAK const char *(*kw_check_detail)(void);
KW_WEAK const char *(*kw_check_status_name)(int32_t);

/* Counts atomically: some tests check from several threads. */
#define KW_CHECK_COUNT_(ok) \
    ((void)__atomic_fetch_add((ok) ? &kw_check_passed : &kw_check_failed, 1, __ATOMIC_RELAXED))

KW_WEAK void kw_check_at_exit(void)
{
    if (getpid() != kw_check_pid) {
        return;
    }
    int passed = __atomic_load_n(&kw_check_passed, __ATOMIC_RELAXED);
    int failed = __atomic_load_n(&kw_check_failed, __ATOMIC_RELAXED);
    if (!kw_check_reported) {
        printf("%s: %d checks passed, %d failed\n", kw_check_name != NULL ? kw_check_name : "test",
               passed, failed);
    }
    if (failed != 0 || passed == 0) {
        if (passed == 0 && failed == 0) {
            fprintf(stderr, "kwcheck: this test ran no check: failing it\n");
        }
        fflush(NULL);
        /* exit() may not be called again from an exit handler; _exit may. */
        _exit(1);
    }
}

/* Registered once per process, before main (every file that includes this asks). */
__attribute__((constructor)) static void kw_check_register(void)
{
    if (kw_check_pid == 0) {
        kw_check_pid = getpid();
        atexit(kw_check_at_exit);
    }
}

#define CHECK(cond)                                                                  \
    do {                                                                             \
        int kw_ok_ = !!(cond);                                                       \
        KW_CHECK_COUNT_(kw_ok_);                                                     \
        if (!kw_ok_) {                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                            \
    } while (0)

#define CHECK_EQ(a, b)                                                                          \
    do {                                                                                        \
        long long kw_a_ = (long long)(a), kw_b_ = (long long)(b);                               \
        KW_CHECK_COUNT_(kw_a_ == kw_b_);                                                        \
        if (kw_a_ != kw_b_) {                                                                   \
            fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, #a, \
                    kw_a_, #b, kw_b_);                                                          \
        }                                                                                       \
    } while (0)

#define CHECK_STATUS(expr, expected)                                                            \
    do {                                                                                        \
        psa_status_t kw_s_ = (expr);                                                            \
        KW_CHECK_COUNT_(kw_s_ == (expected));                                                   \
        if (kw_s_ != (expected)) {                                                              \
            fprintf(stderr, "%s:%d: %s gave %d, expected %s (%d)\n", __FILE__, __LINE__, #expr, \
                    (int)kw_s_, #expected, (int)(expected));                                    \
        }                                                                                       \
    } while (0)

#define CHECK_MSG(cond, ...)                                              \
    do {                                                                  \
        int kw_ok_ = !!(cond);                                            \
        KW_CHECK_COUNT_(kw_ok_);                                          \
        if (!kw_ok_ || kw_check_verbose) {                                \
            printf(kw_ok_ ? "ok   " : "FAIL ");                           \
            printf(__VA_ARGS__);                                          \
            if (kw_ok_) {                                                 \
                printf("\n");                                             \
            } else {                                                      \
                printf("  [%s:%d] %s\n", __FILE__, __LINE__,              \
                       kw_check_detail != NULL ? kw_check_detail() : ""); \
            }                                                             \
        }                                                                 \
    } while (0)

#define CHECK_TEXT(cond, text) CHECK_MSG(cond, "%s", text)

#define CHECK_STATUS_MSG(got, want, ...)                                      \
    do {                                                                      \
        int32_t kw_g_ = (int32_t)(got), kw_w_ = (int32_t)(want);              \
        if (kw_g_ != kw_w_) {                                                 \
            if (kw_check_status_name != NULL) {                               \
                printf("#    got %s, want %s\n", kw_check_status_name(kw_g_), \
                       kw_check_status_name(kw_w_));                          \
            } else {                                                          \
                printf("#    got %d, want %d\n", (int)kw_g_, (int)kw_w_);     \
            }                                                                 \
        }                                                                     \
        CHECK_MSG(kw_g_ == kw_w_, __VA_ARGS__);                               \
    } while (0)

#define REQUIRE(cond)                                                                \
    do {                                                                             \
        int kw_ok_ = !!(cond);                                                       \
        KW_CHECK_COUNT_(kw_ok_);                                                     \
        if (!kw_ok_) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            exit(1);                                                                 \
        }                                                                            \
    } while (0)

#define REQUIRE_EQ(a, b)                                                                        \
    do {                                                                                        \
        long long kw_a_ = (long long)(a), kw_b_ = (long long)(b);                               \
        KW_CHECK_COUNT_(kw_a_ == kw_b_);                                                        \
        if (kw_a_ != kw_b_) {                                                                   \
            fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, #a, \
                    kw_a_, #b, kw_b_);                                                          \
            exit(1);                                                                            \
        }                                                                                       \
    } while (0)

/* Names the test in the exit line (kw_test_end does too). */
static inline void kw_test_name(const char *name)
{
    kw_check_name = name;
}

static inline int kw_test_end(const char *name)
{
    int passed = __atomic_load_n(&kw_check_passed, __ATOMIC_RELAXED);
    int failed = __atomic_load_n(&kw_check_failed, __ATOMIC_RELAXED);
    kw_check_name = name;
    kw_check_reported = 1;
    printf("%s: %d checks passed, %d failed\n", name, passed, failed);
    return failed == 0 && passed > 0 ? 0 : 1;
}

#endif
