/* lib/pipeline's own pieces: the loaded series and the steps that turn it into a result. */
#ifndef OS_PIPELINE_INTERNAL_H
#define OS_PIPELINE_INTERNAL_H

#include <cjson/cJSON.h>
#include "osteoscout/anatomy.h"
#include "osteoscout/dicom.h"
#include "osteoscout/measure.h"
#include "osteoscout/pipeline.h"
#include "osteoscout/volume.h"

typedef struct pl_series {
    const char *const *paths;
    size_t n_paths;
    os_slice_geom *geoms; /* every frame of every file; geoms[i].source indexes paths */
    size_t n_geoms;
    os_volume_plan plan;  /* plan.order[z] indexes geoms */
    os_volume vol;
    os_volume_stats stats;
    os_dicom_header first; /* header of paths[0]: patient size and sex, series description */
} pl_series;

int pl_cancelled(const os_pipeline_opts *opts);
int pl_load(const char *const *paths, size_t n, const os_pipeline_opts *opts, pl_series *s, os_error *err);
void pl_series_free(pl_series *s);

/* The result's skeleton: version, software, input and volume sections. */
cJSON *pl_result_new(const pl_series *s);
/* "anatomy" section, the levels that are missing, and every anatomy warning. */
void pl_add_anatomy(cJSON *result, const os_anatomy *a);
/* "reference" {sop_instance_uid, sop_class_uid, frame, column, row} of each vertebra and
 * muscle level: the CT slice and pixel a measurement was made on. */
void pl_add_references(cJSON *result, const pl_series *s, const os_anatomy *a);
/* Appends "<step>: <text>" to the result's warnings. */
void pl_warn(cJSON *result, const char *step, const char *text);

/* The model inputs of this series into dir (docs/model-inputs.md), noted in the result. */
int pl_export_inputs(cJSON *result, const pl_series *s, const os_anatomy *a, const char *dir, os_error *err);
/* The configured risk models, their outcome into result.models. Fails only when memory does. */
int pl_run_models(cJSON *result, const pl_series *s, const os_anatomy *a, os_models *models,
                  const volatile int *cancel, os_error *err);

/* SR and SC pages into opts->outbox_dir, listed in the result's "outputs". */
int pl_write_report(cJSON *result, const pl_series *s, const os_anatomy *a, const os_measurements *m,
                    const os_pipeline_opts *opts, os_error *err);

#endif
