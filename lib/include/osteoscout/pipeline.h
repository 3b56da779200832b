/* lib/pipeline: the one sequence volume → anatomy → measures → models → report, called by
 * the daemon's worker and by the CLI's analyze alike. */
#ifndef OSTEOSCOUT_PIPELINE_H
#define OSTEOSCOUT_PIPELINE_H

#include <stddef.h>
#include <cjson/cJSON.h>
#include "osteoscout/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct os_pipeline_opts {
    /* Checked between steps and slices; when it becomes non-zero the run stops with
     * -ECANCELED. May be NULL. */
    const volatile int *cancel;
} os_pipeline_opts;

/* Loads the series made of these files and produces the result JSON (version 1):
 * {"result_version":1, "software":{"name":"OsteoScout","version":...},
 *  "volume":{"dimensions":[nx,ny,nz], "spacing_mm":[..3], "z_min_mm", "z_max_mm",
 *            "z_extent_mm", "tilt_deg", "hu":{"min","max","mean","p1","p5","p50","p95","p99"},
 *            "n_files", "warnings":[...]},
 *  "warnings":[...]}
 * A series that cannot be loaded fails with a sentence that says why. */
int os_pipeline_run_files(const char *const *paths, size_t n, const os_pipeline_opts *opts,
                          cJSON **result, os_error *err);

#ifdef __cplusplus
}
#endif
#endif
