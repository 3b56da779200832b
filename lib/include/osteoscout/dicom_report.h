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

#ifdef __cplusplus
}
#endif
#endif
