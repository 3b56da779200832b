/* truth.json writer. Internal to lib/phantom. */
#ifndef OSTEOSCOUT_PHANTOM_TRUTH_H
#define OSTEOSCOUT_PHANTOM_TRUTH_H

#include <cjson/cJSON.h>

#include "osteoscout/dicom.h"
#include "model.h"

typedef struct ph_level_truth {
    const char *name; /* "L3", "L1" */
    int slice;        /* -1: not in the scan */
    double center_z;
    ph_slice_stats stats;
} ph_level_truth;

/* Takes ownership of files (a JSON array of the written instances). */
int ph_truth_write(const ph_model *m, const os_ct_write *w, const ph_level_truth *lv, int nlv,
                   double clean_min, double clean_max, cJSON *files, const char *out_dir,
                   os_error *err);

#endif
