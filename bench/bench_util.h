/* Timing helpers for the benchmark programs. */
#ifndef KW_BENCH_UTIL_H
#define KW_BENCH_UTIL_H
#include <stdlib.h>
#include <time.h>

static inline double kw_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int kw_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static inline double kw_median(double *v, size_t n)
{
    qsort(v, n, sizeof(*v), kw_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}
#endif
