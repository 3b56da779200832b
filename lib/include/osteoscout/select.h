/* lib/select: which series of a study to analyse, and why the others are ignored.
 * Pure logic over os_series_summary; the store applies the decision. */
#ifndef OSTEOSCOUT_SELECT_H
#define OSTEOSCOUT_SELECT_H

#include <stddef.h>
#include "osteoscout/dicom.h"
#include "osteoscout/store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct os_select_rules {
    int min_slices;           /* 30 */
    double max_thickness_mm;  /* 5 */
    double min_z_coverage_mm; /* 80 */
    double max_tilt_deg;      /* 10: orientation within this of axial */
} os_select_rules;

#define OS_SELECT_REASON_MAX 256

/* Returns the index of the chosen series or -1 when none is eligible. reasons[i] gets a
 * sentence for every series not chosen ("not CT (modality SR)", "only 12 slices, need 30",
 * "eligible, but series X preferred: soft-tissue kernel"...). Series still `receiving`
 * are never chosen. */
int os_select_series(const os_series_summary *series, size_t n, const os_select_rules *rules,
                     char (*reasons)[OS_SELECT_REASON_MAX]);

/* The summary of one series from its files' headers (all of one series), as the store makes
 * it from its rows; state is "complete". */
void os_select_summarise(const os_dicom_header *const *headers, size_t n, os_series_summary *out);

/* 1 soft-tissue, -1 sharp (bone/lung), 0 unknown; kernel names of the major vendors. */
int os_select_kernel_softness(const char *kernel);

#ifdef __cplusplus
}
#endif
#endif
