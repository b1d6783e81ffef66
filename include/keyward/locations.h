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

#define KEYWARD_LOCATION_PKCS11   0x804B01u
#define KEYWARD_LOCATION_ATECC608 0x804B02u
#define KEYWARD_LOCATION_TPM2     0x804B03u

/* Used by the wrapper hook: one case label per keyward location. */
#define KEYWARD_PSA_LOCATION_CASES                                             \
    case KEYWARD_LOCATION_PKCS11:                                              \
    case KEYWARD_LOCATION_ATECC608:                                            \
    case KEYWARD_LOCATION_TPM2:

#endif
