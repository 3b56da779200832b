/* lib/dicom internal: what the SR and Secondary Capture writers share (C++ only): reading the
 * CT they refer to, copying its patient and study modules, DS formatting and the once-only
 * DCMTK set-up. */
#ifndef OS_DICOM_SR_COMMON_H
#define OS_DICOM_SR_COMMON_H

#include <string>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dctk.h"

#include "osteoscout/dicom.h"
#include "osteoscout/report.h"

namespace os_report_internal {

/* Loads the CT header (large values are left on disk). */
int load_ct(const char *path, DcmFileFormat &ff, os_error *err);

/* Copies the Patient, General Study and Patient Study attributes the CT has (and the
 * Specific Character Set their values are in) into dst, replacing what dst had. Type 2
 * attributes the CT lacks are written empty so that every object of the study agrees. */
OFCondition copy_patient_study(DcmItem &ct, DcmItem &dst);

/* A string attribute of the CT ("" when absent). */
std::string ct_string(DcmItem &ct, const DcmTagKey &tag);

/* A decimal string of at most 16 characters. */
std::string format_ds(double v);

/* Today's date and time as DA (YYYYMMDD) and TM (HHMMSS). */
void now_da_tm(std::string &da, std::string &tm);

/* Quiets the DCMTK loggers the writers use and initialises the content mapping resource,
 * once per process. */
void setup_dcmtk();

/* Validates the inputs every writer needs. */
int check_common(const os_report_source *src, const char *series_uid, const char *path,
                 const char *what, os_error *err);

} // namespace os_report_internal

#endif
