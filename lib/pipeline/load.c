/* Files → one validated volume: the geometry of every frame first (so a bad series is refused
 * before any pixel is decoded), then the pixels slice by slice straight into the volume, so
 * peak memory is the volume itself. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline_internal.h"

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

int pl_cancelled(const os_pipeline_opts *opts) {
    return opts && opts->cancel && *opts->cancel;
}

static int read_geometry(pl_series *s, const os_pipeline_opts *opts, os_error *err) {
    size_t cap = 0;
    for (size_t i = 0; i < s->n_paths; i++) {
        if (pl_cancelled(opts)) return os_error_set(err, -ECANCELED, "cancelled");
        os_slice_geom *frames = NULL;
        size_t nf = 0;
        if (os_dicom_read_geometry(s->paths[i], &frames, &nf, err))
            return os_error_wrap(err, "%s", base_name(s->paths[i]));
        if (s->n_geoms + nf > cap) {
            size_t ncap = cap ? cap * 2 : 256;
            while (ncap < s->n_geoms + nf) ncap *= 2;
            os_slice_geom *bigger = realloc(s->geoms, ncap * sizeof *bigger);
            if (!bigger) {
                free(frames);
                return os_error_set(err, -ENOMEM, "out of memory reading the geometry of %zu files", s->n_paths);
            }
            s->geoms = bigger;
            cap = ncap;
        }
        for (size_t f = 0; f < nf; f++) {
            frames[f].source = i;
            s->geoms[s->n_geoms++] = frames[f];
        }
        free(frames);
    }
    return 0;
}

static int read_voxels(pl_series *s, const os_pipeline_opts *opts, os_error *err) {
    os_volume *vol = &s->vol;
    for (int z = 0; z < vol->nz; z++) {
        if (pl_cancelled(opts)) return os_error_set(err, -ECANCELED, "cancelled");
        const os_slice_geom *g = &s->geoms[s->plan.order[z]];
        if (os_dicom_read_frame_hu(s->paths[g->source], g->frame, os_volume_slice(vol, z), vol->ny, vol->nx, err))
            return os_error_wrap(err, "%s", base_name(s->paths[g->source]));
    }
    return 0;
}

int pl_load(const char *const *paths, size_t n, const os_pipeline_opts *opts, pl_series *s, os_error *err) {
    memset(s, 0, sizeof *s);
    s->paths = paths;
    s->n_paths = n;
    if (n == 0) return os_error_set(err, -EINVAL, "no files to analyse");
    int rc = os_dicom_read_header(paths[0], &s->first, err);
    if (rc) return os_error_wrap(err, "%s", base_name(paths[0]));
    rc = read_geometry(s, opts, err);
    if (!rc) rc = os_volume_plan_make(s->geoms, s->n_geoms, &s->plan, err);
    if (!rc) rc = os_volume_alloc(&s->plan, &s->vol, err);
    if (!rc) rc = read_voxels(s, opts, err);
    if (!rc) rc = os_volume_stats_compute(&s->vol, &s->stats, err);
    return rc;
}

void pl_series_free(pl_series *s) {
    os_volume_free(&s->vol);
    os_volume_plan_free(&s->plan);
    free(s->geoms);
    s->geoms = NULL;
}
