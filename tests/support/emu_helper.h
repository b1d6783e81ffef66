/* Test helper: runs keyward-atecc608-emu in a temporary directory and
 * removes both at exit, also when a test fails or is interrupted. */
#ifndef KW_TEST_EMU_HELPER_H
#define KW_TEST_EMU_HELPER_H

#include <stdio.h>
#include <stdlib.h>

#include "hal/i2c_socket.h"
#include "se/atecc608/atecc608_proto.h"

typedef struct {
    char dir[256];
    char socket[300];
    char state[300];
    char bus[310]; /* "unix:<socket>" */
    int pid;
    int rec;                  /* the helper's own record, for the exit cleanup */
    keyward_i2c_socket_t ctl; /* control connection */
} kw_emu_t;

/* Starts the emulator ($KW_EMU) with extra arguments (NULL-terminated
 * list, e.g. "--time-scale", "0.05", NULL).  Exits the test on failure. */
void kw_emu_start(kw_emu_t *emu, const char *const *extra);
/* Stops it (state file kept until exit) and starts it again on the same state. */
void kw_emu_restart(kw_emu_t *emu, const char *const *extra);
void kw_emu_stop(kw_emu_t *emu);
/* Control command; returns the answer (static buffer). */
const char *kw_emu_ctl(kw_emu_t *emu, const char *cmd);
/* A counter from "stats". */
unsigned long kw_emu_stat(kw_emu_t *emu, const char *name);
/* Runs keyward-tool ($KW_TOOL) SUBCOMMAND KEYREF as a program (e.g.
 * "provision"): its exit status, -1 when it did not run or died. */
int kw_tool(const char *subcommand, const char *keyref);

/* Checks: the one check header (REQUIRE stops the test, as these tests expect). */
#include "kwcheck.h"

#endif
