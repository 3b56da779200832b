/* lib/dicom internal: UIDs under the 2.25 root made from 128 bits, random or derived. */
#ifndef OS_DICOM_UID_H
#define OS_DICOM_UID_H

#include <stddef.h>

#include "osteoscout/dicom.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A UID that is a pure function of `seed` (e.g. the Frame of Reference of a series,
 * derived from its Series UID so that every slice written for it agrees without
 * the caller passing one more UID around). */
void os_dicom_internal_derived_uid(const char *seed, char out[OS_UID_MAX]);

#ifdef __cplusplus
}
#endif
#endif
