/* keyward-tool's ATECC608 subcommands (tools/atecc608_tool.c).  The tests
 * and the benchmark run `keyward-tool provision` as a program. */
#ifndef KEYWARD_TOOLS_ATECC608_TOOL_H
#define KEYWARD_TOOLS_ATECC608_TOOL_H

/* Print the chip's serial number, revision, lock state and slot
 * configuration; write the default configuration (docs/atecc608.md) and
 * lock config and data zones.  keyref: "atecc608:[bus=...][;addr=...]"
 * (slot= ignored).  0 on success, else 1 with a message on stderr. */
int keyward_atecc608_tool_info(const char *keyref);
int keyward_atecc608_tool_provision(const char *keyref);

#endif
