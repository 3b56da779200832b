/* lib/dicom: defaults of the report writers' options (report.h). */
#include <cstring>

#include "osteoscout/report.h"

extern "C" void os_report_opts_defaults(os_report_opts *o) {
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->sr_series_number = 9002;
    o->sc_series_number = 9001;
    o->device_name = "OsteoScout";
    /* NULL: the SR derives a stable device observer UID from device_name. */
    o->device_uid = nullptr;
}
