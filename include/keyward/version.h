/*
 * keyward's version.  The macros say which headers an application was
 * compiled against; keyward_version() says which library it runs with.
 * CMake's project version (keyward.pc, find_package(keyward)) is read from
 * this file, so the two cannot disagree.
 */
#ifndef KEYWARD_VERSION_H
#define KEYWARD_VERSION_H

#define KEYWARD_VERSION_MAJOR 0
#define KEYWARD_VERSION_MINOR 1
#define KEYWARD_VERSION_PATCH 0
#define KEYWARD_VERSION_STRING "0.1.0"
/* 0xMMmmpp00, comparable with >= */
#define KEYWARD_VERSION_NUMBER \
    ((KEYWARD_VERSION_MAJOR << 24) | (KEYWARD_VERSION_MINOR << 16) | (KEYWARD_VERSION_PATCH << 8))

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version, "MAJOR.MINOR.PATCH" (KEYWARD_VERSION_STRING of
 * the build it comes from). */
const char *keyward_version(void);

#ifdef __cplusplus
}
#endif
#endif
