/* lib/dicom's writers of the objects OsteoScout sends back: the TID 1500 SR (DCMTK's
 * dcmsr/cmr) and single-frame RGB Secondary Capture pages. */
#ifndef OSTEOSCOUT_DICOM_REPORT_H
#define OSTEOSCOUT_DICOM_REPORT_H

#include <cjson/cJSON.h>
#include "osteoscout/dicom.h"
#include "osteoscout/report.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Comprehensive SR, TID 1500, from the result JSON; new series in the CT's study; status
 * UNVERIFIED. sop_uid receives the new SOP Instance UID (the same one on every retry of the
 * send: the file is written once). */
int os_dicom_write_sr(const cJSON *result, const os_report_source *src, const os_report_opts *o,
                      const char *series_uid, const char *path, char sop_uid[OS_UID_MAX], os_error *err);

/* One RGB Secondary Capture page (DERIVED\SECONDARY, BurnedInAnnotation YES, source image
 * references, no patient geometry). */
int os_dicom_write_sc(const os_report_page *page, int instance_number, const os_report_source *src,
                      const os_report_opts *o, const char *series_uid, const char *path, char sop_uid[OS_UID_MAX],
                      os_error *err);

/* ---- reading an SR back (the selftest checks what a PACS would hold) ---- */

/* One NUM content item of a TID 1501 measurement group. */
typedef struct os_sr_num {
    char group[65];          /* the group's tracking identifier, e.g. "L1 vertebra" */
    char finding_site[17];   /* code value of the group's finding site ("" when none) */
    char concept[17];        /* code value and scheme of the measured concept */
    char scheme[17];
    char meaning[65];        /* equivalent meaning when given, else the code meaning */
    char modifier[17];       /* code value of a topographical modifier ("" when none) */
    char unit[33];           /* UCUM code */
    double value;
} os_sr_num;

typedef struct os_sr_content {
    char sop_class_uid[OS_UID_MAX];
    char sop_instance_uid[OS_UID_MAX];
    char study_uid[OS_UID_MAX];
    char series_uid[OS_UID_MAX];
    int series_number;
    char root_concept[17];   /* "126000" for TID 1500 */
    char root_scheme[17];    /* "DCM" */
    os_sr_num *nums;         /* every NUM in a measurement group, in document order */
    size_t n_nums;
} os_sr_content;

/* Reads an SR file's identity and the NUMs of its measurement groups (125007, DCM), walking
 * the content tree as stored; it does not judge the template (dciodvfy does that). */
int os_dicom_read_sr(const char *path, os_sr_content *out, os_error *err);
void os_sr_content_free(os_sr_content *c);
/* The first NUM whose group's finding site code or tracking identifier is `where`, with this
 * concept code and modifier code (NULL: any modifier, "": none); NULL when there is none. */
const os_sr_num *os_sr_find(const os_sr_content *c, const char *where, const char *concept, const char *modifier);

#ifdef __cplusplus
}
#endif
#endif
