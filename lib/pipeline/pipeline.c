/* The analysis sequence shared by the daemon's worker and the CLI's analyze: files → volume
 * → anatomy → measures → risk models → report objects. Each step lives in its own module;
 * this file only strings them together and checks for cancellation between them. Anatomy that cannot be
 * found is a warning in the result, never a failure: only a series that cannot be loaded (or
 * a report that cannot be written) fails the run. */
#include "osteoscout/pipeline.h"

#include <errno.h>
#include <string.h>

#include "pipeline_internal.h"

static void patient_from_header(const os_dicom_header *h, os_measure_opts *mo) {
    /* PatientSize in metres; anything outside a human range is a data-entry error, not a height. */
    if (h->patient_size_m > 0.5 && h->patient_size_m < 2.6) mo->patient_size_m = h->patient_size_m;
    if (h->patient_sex[0] == 'M' || h->patient_sex[0] == 'F') mo->patient_sex = h->patient_sex[0];
}

static int analyse(pl_series *s, const os_pipeline_opts *opts, cJSON *result, os_error *err) {
    os_measure_opts mo;
    if (opts && opts->measure) mo = *opts->measure;
    else os_measure_opts_defaults(&mo);
    patient_from_header(&s->first, &mo);

    os_anatomy a;
    os_measurements m;
    memset(&a, 0, sizeof a);
    memset(&m, 0, sizeof m);
    os_anatomy_opts ao = {.cancel = opts ? opts->cancel : NULL};
    int rc = os_anatomy_find(&s->vol, &ao, &a, err);
    if (!rc && pl_cancelled(opts)) rc = os_error_set(err, -ECANCELED, "cancelled");
    if (!rc) {
        pl_add_anatomy(result, &a);
        rc = os_measure_all(&s->vol, &a, &mo, &m, err);
    }
    if (!rc) rc = os_measure_to_json(&m, &a, &mo, result, err);
    if (!rc) pl_add_references(result, s, &a);
    if (!rc && opts && opts->inputs_dir) rc = pl_export_inputs(result, s, &a, opts->inputs_dir, err);
    if (!rc && pl_cancelled(opts)) rc = os_error_set(err, -ECANCELED, "cancelled");
    if (!rc && opts && opts->models) rc = pl_run_models(result, s, &a, opts->models, opts->cancel, err);
    if (!rc && pl_cancelled(opts)) rc = os_error_set(err, -ECANCELED, "cancelled");
    if (!rc && opts && opts->outbox_dir) rc = pl_write_report(result, s, &a, &m, opts, err);
    os_anatomy_free(&a);
    return rc;
}

int os_pipeline_run_files(const char *const *paths, size_t n, const os_pipeline_opts *opts, cJSON **result,
                          os_error *err) {
    *result = NULL;
    pl_series s;
    int rc = pl_load(paths, n, opts, &s, err);
    if (!rc && pl_cancelled(opts)) rc = os_error_set(err, -ECANCELED, "cancelled");
    cJSON *r = NULL;
    if (!rc) {
        r = pl_result_new(&s);
        if (!r) rc = os_error_set(err, -ENOMEM, "out of memory building the result");
    }
    if (!rc) rc = analyse(&s, opts, r, err);
    pl_series_free(&s);
    if (rc) {
        cJSON_Delete(r);
        return rc;
    }
    *result = r;
    return 0;
}
