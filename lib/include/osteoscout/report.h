/* lib/report (and its DICOM writers in lib/dicom): what goes back to PACS. The analysis
 * becomes a Comprehensive SR (TID 1500 measurement report) and Secondary Capture pages that a
 * radiologist sees in their own viewer, next to the CT they came from. */
#ifndef OSTEOSCOUT_REPORT_H
#define OSTEOSCOUT_REPORT_H

#include <stddef.h>
#include <cjson/cJSON.h>
#include "osteoscout/anatomy.h"
#include "osteoscout/error.h"
#include "osteoscout/measure.h"
#include "osteoscout/volume.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The CT series a report refers to. */
typedef struct os_report_source {
    const char *ct_path;                  /* one CT file: patient and study modules are copied from it */
    const char *sop_class_uid;            /* of the CT instances */
    const char *const *sop_instance_uids; /* every instance of the analysed series (evidence) */
    size_t n_instances;
} os_report_source;

typedef struct os_report_opts {
    int sr_series_number;      /* 9002 */
    int sc_series_number;      /* 9001 */
    const char *device_name;   /* device observer name: the node's name */
    const char *device_uid;    /* device observer UID, stable per node */
} os_report_opts;

void os_report_opts_defaults(os_report_opts *o);

/* The result JSON (docs/result-json.md) carries, per vertebra and per muscle level, a
 * "reference": {"sop_instance_uid", "sop_class_uid", "column", "row"} — the CT slice and pixel
 * a measurement was made on — for the SR's SCOORDs. */

#define OS_REPORT_MAX_PAGES 3
/* Draws the Secondary Capture pages (sagittal spine with grades and heights, axial mid-L3 with
 * muscle and fat, summary panel) as RGB images; each carries the burned-in banner
 * "Automated result — to be reviewed by a radiologist". pixels[i] is rows*cols*3 (malloc'd). */
typedef struct os_report_page {
    int rows, cols;
    unsigned char *rgb;
    char title[64];
} os_report_page;
int os_report_draw_pages(const os_volume *vol, const os_anatomy *a, const os_measurements *m, const cJSON *result,
                         os_report_page pages[OS_REPORT_MAX_PAGES], int *n_pages, os_error *err);
void os_report_free_pages(os_report_page *pages, int n);

#ifdef __cplusplus
}
#endif
#endif
