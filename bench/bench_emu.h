/* The ATECC608 benchmark's emulator: keyward-atecc608-emu ($KW_EMU) in a
 * temporary directory, talked to through its own --ctl mode, and the chip
 * provisioned by keyward-tool ($KW_TOOL).  Programs only: the benchmark
 * needs no private header of keyward's and no test helper. */
#ifndef KW_BENCH_EMU_H
#define KW_BENCH_EMU_H

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            exit(1);                                                                 \
        }                                                                            \
    } while (0)

typedef struct {
    char dir[256];
    char socket[300];
    char state[300];
    char bus[310]; /* "unix:<socket>" */
    int pid;
} bench_emu_t;

/* Starts the emulator with extra arguments (NULL-terminated), waits until
 * its socket answers, and removes it and its directory at exit.  Exits the
 * program on failure. */
void bench_emu_start(bench_emu_t *emu, const char *const *extra);
/* One control command ("stats", "stats reset"); the answer, NUL-terminated,
 * in out.  Exits the program on failure. */
void bench_emu_ctl(const bench_emu_t *emu, const char *cmd, char *out, size_t size);
/* The counter name of a "stats" answer.  Exits the program when absent. */
unsigned long bench_emu_stat(const char *stats, const char *name);
/* keyward-tool SUBCOMMAND KEYREF; its exit status (-1: it did not run). */
int bench_tool(const char *subcommand, const char *keyref);

#endif
