/* lib/dicom internal (C): JPEG 2000 through OpenJPEG, because open-source DCMTK has
 * no J2K codec. Decodes what PACS send (raw codestream or JP2 boxes) and encodes the
 * lossless codestreams the phantom writer stores. */
#ifndef OS_DICOM_J2K_H
#define OS_DICOM_J2K_H

#include <stddef.h>
#include <stdint.h>

#include "osteoscout/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Decodes a single-component image of exactly rows×cols into dst (rows*cols values,
 * row-major). Values are as coded: *is_signed and *precision tell how the codestream
 * declared them, so the caller can reconcile them with PixelRepresentation/BitsStored. */
int os_dicom_internal_j2k_decode(const uint8_t *buf, size_t len, int rows, int cols,
                                 int32_t *dst, int *is_signed, int *precision, os_error *err);

/* Encodes rows×cols samples losslessly (reversible 5/3 wavelet, no colour transform)
 * as a raw J2K codestream; *out is malloc'd (caller frees). */
int os_dicom_internal_j2k_encode(const int32_t *src, int rows, int cols, int precision,
                                 int is_signed, uint8_t **out, size_t *out_len, os_error *err);

#ifdef __cplusplus
}
#endif
#endif
