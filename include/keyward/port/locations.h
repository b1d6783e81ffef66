/*
 * keyward PSA key locations.
 *
 * A PSA key lifetime is (persistence, location).  Locations with bit 23 set
 * (0x800000..0xffffff) are the vendor range reserved for implementation-
 * defined secure elements.  keyward takes one location per backend, so that
 * psa_generate_key() knows the secure element from the attributes alone:
 * 0x80 (vendor bit) | 0x4B ('K' for keyward) | backend number.
 */
#ifndef KEYWARD_LOCATIONS_H
#define KEYWARD_LOCATIONS_H

/* Each backend's own location(s), KEYWARD_LOCATION_<NAME>, come from its
 * declaration (src/se/<name>/CMakeLists.txt, LOCATIONS), through the header
 * the build generates for the backends it has: a new backend takes the next
 * free number below KEYWARD_LOCATION_LAST, and the build refuses two that
 * claim the same one (cmake/keyward-backends.cmake reads the range here). */
#include "keyward/port/backends_build.h"

#define KEYWARD_LOCATION_FIRST 0x804B01u
#define KEYWARD_LOCATION_LAST 0x804B0Fu

/* Used by the wrapper hook: PSA hands keyward every location of its block,
 * with or without a backend in this build (keyward then answers
 * PSA_ERROR_NOT_SUPPORTED), so that adding a backend touches no list here. */
/* Four case labels a row, read as the block of 15 locations. */
/* clang-format off */
#define KEYWARD_PSA_LOCATION_CASES                                             \
    case 0x804B01u: case 0x804B02u: case 0x804B03u: case 0x804B04u:            \
    case 0x804B05u: case 0x804B06u: case 0x804B07u: case 0x804B08u:            \
    case 0x804B09u: case 0x804B0Au: case 0x804B0Bu: case 0x804B0Cu:            \
    case 0x804B0Du: case 0x804B0Eu: case 0x804B0Fu:
/* clang-format on */

#endif
