/* The parts of the result JSON that the pipeline itself knows: software and input, the volume,
 * how the anatomy was labelled and what is missing, and where each measurement was made. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "pipeline_internal.h"

#ifndef OS_VERSION
#define OS_VERSION "unknown"
#endif

void pl_warn(cJSON *result, const char *step, const char *text) {
    cJSON *w = cJSON_GetObjectItemCaseSensitive(result, "warnings");
    if (!cJSON_IsArray(w)) w = cJSON_AddArrayToObject(result, "warnings");
    char line[OS_WARNING_MAX + 64];
    snprintf(line, sizeof line, "%s: %s", step, text);
    cJSON_AddItemToArray(w, cJSON_CreateString(line));
}

static cJSON *vec3(const double v[3]) {
    return cJSON_CreateDoubleArray(v, 3);
}

static cJSON *volume_json(const pl_series *s) {
    const os_volume_plan *plan = &s->plan;
    const os_volume_stats *st = &s->stats;
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
    cJSON_AddNumberToObject(v, "n_files", (double)s->n_paths);
    cJSON_AddNumberToObject(v, "n_slices_read", (double)plan->n_order);
    cJSON *w = cJSON_AddArrayToObject(v, "warnings");
    for (int i = 0; i < plan->n_warnings; i++) cJSON_AddItemToArray(w, cJSON_CreateString(plan->warnings[i]));
    return v;
}

cJSON *pl_result_new(const pl_series *s) {
    cJSON *r = cJSON_CreateObject();
    if (!r) return NULL;
    cJSON_AddNumberToObject(r, "result_version", 1);
    cJSON *sw = cJSON_AddObjectToObject(r, "software");
    cJSON_AddStringToObject(sw, "name", "OsteoScout");
    cJSON_AddStringToObject(sw, "version", OS_VERSION);
    /* The phantom writer marks its series; everything derived from one says so too. */
    cJSON_AddBoolToObject(r, "synthetic", !strncmp(s->first.series_description, "SYNTHETIC", 9));
    cJSON *in = cJSON_AddObjectToObject(r, "input");
    cJSON_AddStringToObject(in, "study_instance_uid", s->first.study_uid);
    cJSON_AddStringToObject(in, "series_instance_uid", s->first.series_uid);
    cJSON_AddStringToObject(in, "sop_class_uid", s->first.sop_class_uid);
    if (s->first.patient_size_m > 0) cJSON_AddNumberToObject(in, "patient_size_m", s->first.patient_size_m);
    else cJSON_AddNullToObject(in, "patient_size_m");
    if (s->first.patient_sex[0] == 'M' || s->first.patient_sex[0] == 'F') {
        char sex[2] = {s->first.patient_sex[0], 0};
        cJSON_AddStringToObject(in, "patient_sex", sex);
    } else {
        cJSON_AddNullToObject(in, "patient_sex");
    }
    cJSON_AddItemToObject(r, "volume", volume_json(s));
    cJSON_AddArrayToObject(r, "warnings");
    for (int i = 0; i < s->plan.n_warnings; i++) pl_warn(r, "volume", s->plan.warnings[i]);
    return r;
}

static cJSON *label_or_null(const os_anatomy *a, int index) {
    if (index < 0 || index >= a->n_vertebrae) return cJSON_CreateNull();
    return cJSON_CreateString(os_level_name(a->vertebrae[index].level));
}

/* The levels a report of this kind is expected to cover (T11…L5); any not found is named, so
 * a reader never mistakes "not in the scan" for "normal". */
void pl_add_anatomy(cJSON *result, const os_anatomy *a) {
    cJSON *an = cJSON_AddObjectToObject(result, "anatomy");
    cJSON_AddStringToObject(an, "labelling", a->labelling);
    cJSON_AddItemToObject(an, "t12_by_ribs", label_or_null(a, a->t12_by_ribs));
    cJSON_AddItemToObject(an, "l5_by_sacrum", label_or_null(a, a->l5_by_sacrum));
    cJSON_AddNumberToObject(an, "vertebrae_found", a->n_vertebrae);
    cJSON *in = cJSON_AddArrayToObject(an, "levels_in_scan");
    cJSON *partial = cJSON_AddArrayToObject(an, "levels_cut_by_scan_edge");
    int seen[OS_LEVEL_COUNT] = {0}, unlabelled = 0;
    for (int i = 0; i < a->n_vertebrae; i++) {
        const os_vertebra *v = &a->vertebrae[i];
        if (v->level < 0 || v->level >= OS_LEVEL_COUNT) {
            unlabelled++;
            continue;
        }
        seen[v->level] = 1;
        cJSON_AddItemToArray(v->cut_by_fov ? partial : in, cJSON_CreateString(os_level_name(v->level)));
    }
    cJSON *missing = cJSON_AddArrayToObject(an, "levels_missing");
    char list[128] = "";
    for (int l = OS_T11; l <= OS_L5; l++) {
        if (seen[l]) continue;
        cJSON_AddItemToArray(missing, cJSON_CreateString(os_level_name(l)));
        size_t len = strlen(list);
        snprintf(list + len, sizeof list - len, "%s%s", len ? ", " : "", os_level_name(l));
    }
    cJSON_AddNumberToObject(an, "vertebrae_unlabelled", unlabelled);
    cJSON *w = cJSON_AddArrayToObject(an, "warnings");
    for (int i = 0; i < a->n_warnings; i++) {
        cJSON_AddItemToArray(w, cJSON_CreateString(a->warnings[i]));
        pl_warn(result, "anatomy", a->warnings[i]);
    }
    if (list[0]) {
        char line[256];
        snprintf(line, sizeof line, "not reported (outside the scan or not identified): %s", list);
        pl_warn(result, "anatomy", line);
    }
}

static void add_reference(cJSON *owner, const pl_series *s, int z, double column, double row) {
    if (!cJSON_IsObject(owner) || z < 0 || z >= s->vol.nz) return;
    const os_slice_geom *g = &s->geoms[s->plan.order[z]];
    cJSON *ref = cJSON_CreateObject();
    cJSON_AddStringToObject(ref, "sop_instance_uid", g->sop_instance_uid);
    cJSON_AddStringToObject(ref, "sop_class_uid", g->sop_class_uid);
    cJSON_AddNumberToObject(ref, "frame", g->frame + 1); /* DICOM frame numbers count from 1 */
    cJSON_AddNumberToObject(ref, "column", round(column * 10) / 10);
    cJSON_AddNumberToObject(ref, "row", round(row * 10) / 10);
    cJSON_DeleteItemFromObjectCaseSensitive(owner, "reference");
    cJSON_AddItemToObject(owner, "reference", ref);
}

void pl_add_references(cJSON *result, const pl_series *s, const os_anatomy *a) {
    cJSON *verts = cJSON_GetObjectItemCaseSensitive(result, "vertebrae");
    int i = 0;
    cJSON *v;
    /* os_measure_to_json writes one entry per anatomy vertebra, in the same order. */
    cJSON_ArrayForEach(v, verts) {
        if (i >= a->n_vertebrae) break;
        const os_vertebra *ve = &a->vertebrae[i++];
        add_reference(v, s, (int)lround(ve->center_vox[2]), ve->center_vox[0], ve->center_vox[1]);
    }
    cJSON *muscle = cJSON_GetObjectItemCaseSensitive(result, "muscle");
    for (int l = 0; l < OS_LEVEL_COUNT; l++) {
        const os_level_slice *sl = &a->slices[l];
        cJSON *m = cJSON_GetObjectItemCaseSensitive(muscle, os_level_name(l));
        if (!sl->present || !cJSON_IsObject(m)) continue;
        int vi = os_anatomy_vertebra_of(a, l);
        /* The point is the vertebral body: the muscles surround it on that slice. */
        double col = vi >= 0 ? a->vertebrae[vi].center_vox[0] : s->vol.nx / 2.0;
        double row = vi >= 0 ? a->vertebrae[vi].center_vox[1] : s->vol.ny / 2.0;
        add_reference(m, s, sl->z, col, row);
    }
}
