/* lib/phantom: synthetic CT series with known truth, written as real DICOM through
 * lib/dicom. Everything it writes is labelled SYNTHETIC (patient name, series description). */
#ifndef OSTEOSCOUT_PHANTOM_H
#define OSTEOSCOUT_PHANTOM_H

#include <stdint.h>
#include "osteoscout/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct os_phantom_opts {
    uint64_t seed;
    int rows, cols;            /* 512 × 512 */
    double pixel_mm;           /* 0.7 */
    int slices;                /* 200 */
    double slice_spacing_mm;   /* 2.0 */
    double slice_thickness_mm; /* 2.0 */
    double noise_sd_hu;        /* 15 */
    const char *transfer_syntax_uid; /* OS_TS_EXPLICIT_LE */
    const char *convolution_kernel;  /* "B30f" */
    const char *study_uid;     /* NULL: new */
    const char *series_uid;    /* NULL: new */
    int series_number;         /* 2 */
    double patient_size_m;     /* 1.70; 0 omits */
    char patient_sex;          /* 'F' */
} os_phantom_opts;

void os_phantom_defaults(os_phantom_opts *o);
/* Writes <out_dir>/IM<NNNN>.dcm and <out_dir>/truth.json. */
int os_phantom_write_series(const os_phantom_opts *o, const char *out_dir, os_error *err);

#ifdef __cplusplus
}
#endif
#endif
