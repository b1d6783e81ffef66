/* keyward-client: messages and the clock (client.h). */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "../signals.h"
#include "client.h"

int kwc_fail(int code, const char *fmt, ...)
{
    va_list ap;
    fputs("keyward-client: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

int kwc_fail_signal(void)
{
    int sig = kw_signals_caught();
    return kwc_fail(kw_signals_exit_status(sig), "interrupted by %s",
                    sig == SIGINT    ? "SIGINT"
                    : sig == SIGTERM ? "SIGTERM"
                                     : "a signal");
}

int64_t kwc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
