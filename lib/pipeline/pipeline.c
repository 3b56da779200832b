/* The analysis sequence shared by the daemon's worker and the CLI's analyze: files → volume
 * → (anatomy → measures → models, in later steps) → result JSON. Each step lives in its own
 * module; this file only strings them together, checks for cancellation between them and
 * says which file a failure came from. */
#include "osteoscout/pipeline.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osteoscout/dicom.h"
#include "osteoscout/volume.h"

#ifndef OS_VERSION
#define OS_VERSION "unknown"
#endif

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static int cancelled(const os_pipeline_opts *opts) {
    return opts && opts->cancel && *opts->cancel;
}

/* Every frame of every file, tagged with the file it came from. */
static int read_geometry(const char *const *paths, size_t n, const os_pipeline_opts *opts,
                         os_slice_geom **out, size_t *n_out, os_error *err) {
    os_slice_geom *all = NULL;
    size_t count = 0, cap = 0;
    for (size_t i = 0; i < n; i++) {
        if (cancelled(opts)) {
            free(all);
            return os_error_set(err, -ECANCELED, "cancelled");
        }
        os_slice_geom *frames = NULL;
        size_t nf = 0;
        int rc = os_dicom_read_geometry(paths[i], &frames, &nf, err);
        if (rc) {
            free(all);
            return os_error_wrap(err, "%s", base_name(paths[i]));
        }
        if (count + nf > cap) {
            size_t ncap = cap ? cap * 2 : 256;
            while (ncap < count + nf) ncap *= 2;
            os_slice_geom *bigger = realloc(all, ncap * sizeof *all);
            if (!bigger) {
                free(frames);
                free(all);
                return os_error_set(err, -ENOMEM, "out of memory reading the geometry of %zu files", n);
            }
            all = bigger;
            cap = ncap;
        }
        for (size_t f = 0; f < nf; f++) {
            frames[f].source = i;
            all[count++] = frames[f];
        }
        free(frames);
    }
    *out = all;
    *n_out = count;
    return 0;
}

/* Slice by slice straight into the volume, so peak memory is the volume itself. */
static int read_voxels(const char *const *paths, const os_slice_geom *geoms,
                       const os_volume_plan *plan, const os_pipeline_opts *opts, os_volume *vol,
                       os_error *err) {
    for (int z = 0; z < vol->nz; z++) {
        if (cancelled(opts)) return os_error_set(err, -ECANCELED, "cancelled");
        const os_slice_geom *g = &geoms[plan->order[z]];
        int rc = os_dicom_read_frame_hu(paths[g->source], g->frame, os_volume_slice(vol, z), vol->ny,
                                        vol->nx, err);
        if (rc) return os_error_wrap(err, "%s", base_name(paths[g->source]));
    }
    return 0;
}

static cJSON *vec3(const double v[3]) {
    return cJSON_CreateDoubleArray(v, 3);
}

static cJSON *volume_json(const os_volume_plan *plan, const os_volume_stats *st, size_t n_files) {
    cJSON *v = cJSON_CreateObject();
    int dims[3] = {plan->nx, plan->ny, plan->nz};
    cJSON_AddItemToObject(v, "dimensions", cJSON_CreateIntArray(dims, 3));
    cJSON_AddItemToObject(v, "spacing_mm", vec3(plan->spacing));
    cJSON_AddNumberToObject(v, "z_min_mm", plan->z_min);
    cJSON_AddNumberToObject(v, "z_max_mm", plan->z_max);
    cJSON_AddNumberToObject(v, "z_extent_mm", plan->z_max - plan->z_min);
    cJSON_AddNumberToObject(v, "tilt_deg", plan->tilt_deg);
    cJSON_AddItemToObject(v, "origin_mm", vec3(plan->origin));
    cJSON_AddItemToObject(v, "row_dir", vec3(plan->row_dir));
    cJSON_AddItemToObject(v, "col_dir", vec3(plan->col_dir));
    cJSON_AddItemToObject(v, "normal", vec3(plan->normal));
    cJSON *hu = cJSON_AddObjectToObject(v, "hu");
    cJSON_AddNumberToObject(hu, "min", st->min);
    cJSON_AddNumberToObject(hu, "max", st->max);
    cJSON_AddNumberToObject(hu, "mean", st->mean);
    cJSON_AddNumberToObject(hu, "p1", st->p1);
    cJSON_AddNumberToObject(hu, "p5", st->p5);
    cJSON_AddNumberToObject(hu, "p50", st->p50);
    cJSON_AddNumberToObject(hu, "p95", st->p95);
    cJSON_AddNumberToObject(hu, "p99", st->p99);
    cJSON_AddNumberToObject(v, "n_files", (double)n_files);
    cJSON_AddNumberToObject(v, "n_slices_read", (double)plan->n_order);
    cJSON *w = cJSON_AddArrayToObject(v, "warnings");
    for (int i = 0; i < plan->n_warnings; i++)
        cJSON_AddItemToArray(w, cJSON_CreateString(plan->warnings[i]));
    return v;
}

static cJSON *result_json(const os_volume_plan *plan, const os_volume_stats *st, size_t n_files) {
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "result_version", 1);
    cJSON *sw = cJSON_AddObjectToObject(r, "software");
    cJSON_AddStringToObject(sw, "name", "OsteoScout");
    cJSON_AddStringToObject(sw, "version", OS_VERSION);
    cJSON_AddItemToObject(r, "volume", volume_json(plan, st, n_files));
    /* Every step's warnings, prefixed with the step, in one list for a reader in a hurry. */
    cJSON *w = cJSON_AddArrayToObject(r, "warnings");
    char line[OS_WARNING_MAX + 16];
    for (int i = 0; i < plan->n_warnings; i++) {
        snprintf(line, sizeof line, "volume: %s", plan->warnings[i]);
        cJSON_AddItemToArray(w, cJSON_CreateString(line));
    }
    return r;
}

int os_pipeline_run_files(const char *const *paths, size_t n, const os_pipeline_opts *opts,
                          cJSON **result, os_error *err) {
    *result = NULL;
    if (n == 0) return os_error_set(err, -EINVAL, "no files to analyse");

    os_slice_geom *geoms = NULL;
    size_t n_geoms = 0;
    os_volume_plan plan;
    os_volume vol;
    os_volume_stats st;
    memset(&plan, 0, sizeof plan);
    memset(&vol, 0, sizeof vol);

    int rc = read_geometry(paths, n, opts, &geoms, &n_geoms, err);
    if (!rc) rc = os_volume_plan_make(geoms, n_geoms, &plan, err);
    if (!rc) rc = os_volume_alloc(&plan, &vol, err);
    if (!rc) rc = read_voxels(paths, geoms, &plan, opts, &vol, err);
    if (!rc && cancelled(opts)) rc = os_error_set(err, -ECANCELED, "cancelled");
    if (!rc) rc = os_volume_stats_compute(&vol, &st, err);
    if (!rc) {
        *result = result_json(&plan, &st, n);
        if (!*result) rc = os_error_set(err, -ENOMEM, "out of memory building the result");
    }

    os_volume_free(&vol);
    os_volume_plan_free(&plan);
    free(geoms);
    return rc;
}
