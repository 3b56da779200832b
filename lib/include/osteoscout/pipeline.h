/* lib/pipeline: the one sequence volume → anatomy → measures → models → report, called by
 * the daemon's worker and by the CLI's analyze alike. */
#ifndef OSTEOSCOUT_PIPELINE_H
#define OSTEOSCOUT_PIPELINE_H

#include <stddef.h>
#include <cjson/cJSON.h>
#include "osteoscout/config.h"
#include "osteoscout/error.h"
#include "osteoscout/measure.h"
#include "osteoscout/models.h"
#include "osteoscout/report.h"
#include "osteoscout/select.h"
#include "osteoscout/volume.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct os_pipeline_opts {
    /* Checked between steps and slices; when it becomes non-zero the run stops with
     * -ECANCELED. May be NULL. */
    const volatile int *cancel;
    /* Thresholds and cut-offs (NULL: literature defaults). Patient height and sex are taken
     * from the series' DICOM header. */
    const os_measure_opts *measure;
    /* When set, the SR and the Secondary Capture pages are written into this folder (created
     * if needed) and listed in the result's "outputs". */
    const char *outbox_dir;
    const os_report_opts *report; /* NULL: defaults (series 9001/9002) */
    /* Risk models run after the measurements, before the report (models.h); NULL: none. The
     * caller opens them once (per worker) and never shares one set between two runs at once.
     * Their outcome is the result's "models"; a model failing does not fail the run. */
    os_models *models;
    /* When set, the model inputs (docs/model-inputs.md: bone.f32, muscle.f32, inputs.json)
     * are written into this folder (created if needed) and the result gets "model_inputs":
     * {"path", "levels", "present"}. */
    const char *inputs_dir;
} os_pipeline_opts;

/* Loads the series made of these files, finds the anatomy, measures it and, when asked,
 * writes the report objects; produces the result JSON (version 1):
 * {"result_version":1, "software":{"name":"OsteoScout","version":...},
 *  "volume":{"dimensions":[nx,ny,nz], "spacing_mm":[..3], "z_min_mm", "z_max_mm",
 *            "z_extent_mm", "tilt_deg", "hu":{"min","max","mean","p1","p5","p50","p95","p99"},
 *            "n_files", "warnings":[...]},
 *  "anatomy":{...}, "vertebrae":[...], "muscle":{...}, "fat":{...}, "bone_density":{...},
 *  "outputs":[{"kind":"sr"|"sc","path","sop_instance_uid","series_instance_uid"}...],
 *  "warnings":[...]}
 * (docs/result-json.md documents every key.) Anatomy that cannot be found is reported in
 * "warnings", not as a failure: only a series that cannot be loaded fails.
 * A series that cannot be loaded fails with a sentence that says why. */
/* [series] of the configuration as selection rules. */
void os_pipeline_select_rules(const os_config *cfg, os_select_rules *out);

/* Offline analysis: what the daemon would analyse in a pile of files. */
typedef struct os_study_plan {
    char study_uid[65];
    char chosen_series[65]; /* "" when no series is usable */
    char **files;           /* of the chosen series, sorted by path */
    size_t n_files;
    struct {
        char series_uid[65];
        char reason[256];   /* "chosen", or why not */
    } *series;
    size_t n_series;
} os_study_plan;

/* Walks files and folders, reads every DICOM header, groups by study and series and applies
 * the daemon's series selection. Files that are not readable DICOM are counted, not fatal. */
int os_pipeline_plan_studies(const char *const *paths, size_t n, const os_select_rules *rules,
                             os_study_plan **plans, size_t *n_plans, size_t *n_unreadable, os_error *err);
void os_pipeline_free_plans(os_study_plan *plans, size_t n);

/* [measure] of the configuration as measurement options. */
void os_pipeline_measure_opts(const os_config *cfg, os_measure_opts *out);

/* Only the first step: the files (or every DICOM file directly in `dir`, sorted by name) as one
 * validated CT volume, exactly as the pipeline loads them. For tools, benches and tests. */
int os_pipeline_load_volume(const char *const *paths, size_t n, os_volume *vol, os_error *err);
int os_pipeline_load_dir(const char *dir, os_volume *vol, os_error *err);

int os_pipeline_run_files(const char *const *paths, size_t n, const os_pipeline_opts *opts,
                          cJSON **result, os_error *err);

#ifdef __cplusplus
}
#endif
#endif
