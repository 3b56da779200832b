/* lib/measure: the measurements as result JSON — the documented, stable contract of
 * docs/result-json.md. Every number that was not measured is null, never NaN (which JSON
 * cannot carry) and never 0 (which would read as a measurement). */
#include <errno.h>
#include <math.h>
#include <stdio.h>

#include "measure_internal.h"

static void num(cJSON *o, const char *key, double v) {
    if (isfinite(v)) cJSON_AddNumberToObject(o, key, v);
    else cJSON_AddNullToObject(o, key);
}

/* Rounded to what the measurement can carry, so diffs between runs show real changes. */
static double r(double v, double q) { return isfinite(v) ? round(v / q) * q : v; }

static void str_or_null(cJSON *o, const char *key, const char *s) {
    if (s && s[0]) cJSON_AddStringToObject(o, key, s);
    else cJSON_AddNullToObject(o, key);
}

static cJSON *vertebra_json(const os_vertebra_measure *v, const os_vertebra *av) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "label", os_level_name(v->level));
    double c[3] = {r(v->center_lps[0], 0.01), r(v->center_lps[1], 0.01), r(v->center_lps[2], 0.01)};
    cJSON_AddItemToObject(o, "center_lps_mm", cJSON_CreateDoubleArray(c, 3));
    num(o, "height_anterior_mm", r(v->h_ant, 0.01));
    num(o, "height_middle_mm", r(v->h_mid, 0.01));
    num(o, "height_posterior_mm", r(v->h_post, 0.01));
    num(o, "ap_depth_mm", r(v->ap_depth_mm, 0.01));
    num(o, "ratio_min_max", r(v->ratio_min_max, 0.001));
    num(o, "ratio_neighbours", r(v->ratio_neighbours, 0.001));
    if (v->genant_grade >= 0) cJSON_AddNumberToObject(o, "genant_grade", v->genant_grade);
    else cJSON_AddNullToObject(o, "genant_grade");
    str_or_null(o, "genant_basis", v->genant_basis);
    str_or_null(o, "deformity", v->deformity);
    num(o, "trabecular_hu_mean", r(v->trab_hu_mean, 0.1));
    num(o, "trabecular_hu_median", r(v->trab_hu_median, 0.1));
    cJSON_AddNumberToObject(o, "trabecular_voxels", v->trab_voxels);
    num(o, "confidence", r(v->confidence, 0.001));
    cJSON_AddBoolToObject(o, "cut_by_fov", av ? av->cut_by_fov : 0);
    cJSON_AddStringToObject(o, "note", v->note);
    return o;
}

static const char *const GROUP_KEYS[OS_MUSCLE_GROUPS + 1] = {NULL, "psoas", "erector_spinae",
                                                             "quadratus_lumborum", "abdominal_wall"};

static cJSON *muscle_json(const os_muscle_measure *mm) {
    cJSON *o = cJSON_CreateObject();
    num(o, "slice_z_mm", mm->present ? r(mm->slice_z_mm, 0.01) : NAN);
    num(o, "area_cm2", r(mm->area_cm2, 0.01));
    num(o, "mean_hu", r(mm->mean_hu, 0.1));
    num(o, "index_cm2_m2", r(mm->index_cm2_m2, 0.01));
    cJSON *g = cJSON_AddObjectToObject(o, "groups");
    for (int k = 1; k <= OS_MUSCLE_GROUPS; k++) {
        cJSON *x = cJSON_AddObjectToObject(g, GROUP_KEYS[k]);
        num(x, "area_cm2", r(mm->group_area_cm2[k], 0.01));
        num(x, "mean_hu", r(mm->group_mean_hu[k], 0.1));
    }
    if (mm->sarcopenia >= 0) cJSON_AddBoolToObject(o, "sarcopenia", mm->sarcopenia);
    else cJSON_AddNullToObject(o, "sarcopenia");
    cJSON_AddStringToObject(o, "note", mm->note);
    return o;
}

static cJSON *fat_json(const os_muscle_measure *mm) {
    cJSON *o = cJSON_CreateObject();
    num(o, "sat_cm2", r(mm->sat_cm2, 0.01));
    num(o, "vat_cm2", r(mm->vat_cm2, 0.01));
    num(o, "imat_cm2", r(mm->imat_cm2, 0.01));
    return o;
}

static cJSON *bmd_json(const os_bmd *b, const os_measure_opts *o) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "level", "L1");
    num(j, "trabecular_hu_mean", r(b->l1_hu_mean, 0.1));
    num(j, "trabecular_hu_median", r(b->l1_hu_median, 0.1));
    num(j, "calibrated_hu", r(b->l1_hu_calibrated, 0.1));
    cJSON *c = cJSON_AddObjectToObject(j, "calibration");
    num(c, "air_hu", r(b->air_hu, 0.1));
    num(c, "fat_hu", r(b->sat_hu, 0.1));
    cJSON_AddStringToObject(c, "method",
                            "phantomless two-point: median air outside the body -> -1000 HU, "
                            "median subcutaneous fat -> -100 HU, linear between");
    num(j, "aorta_hu", r(b->aorta_hu, 0.1));
    cJSON_AddStringToObject(j, "contrast_phase", mx_phase_name(b->phase));
    cJSON *t = cJSON_AddObjectToObject(j, "thresholds");
    num(t, "osteoporosis_hu", o->bmd_osteoporosis_hu);
    num(t, "low_bone_mass_hu", o->bmd_low_hu);
    int ph = b->phase >= 0 && b->phase < 4 ? (int)b->phase : 0;
    num(t, "phase_offset_hu", o->phase_offset_hu[ph]);
    num(j, "compared_hu", r(b->threshold_hu_used, 0.1));
    str_or_null(j, "category", b->present ? b->category : NULL);
    cJSON_AddStringToObject(j, "statement", "Opportunistic screening estimate, not a diagnosis; confirm with DXA.");
    cJSON_AddStringToObject(j, "note", b->note);
    return j;
}

int os_measure_to_json(const os_measurements *m, const os_anatomy *a, const os_measure_opts *o, cJSON *result,
                       os_error *err) {
    if (!m || !result) return os_error_set(err, -EINVAL, "no measurements or no result object");
    os_measure_opts def;
    if (!o) os_measure_opts_defaults(&def), o = &def;
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < m->n_vertebrae; i++)
        cJSON_AddItemToArray(arr, vertebra_json(&m->vertebrae[i], a && i < a->n_vertebrae ? &a->vertebrae[i] : NULL));
    cJSON_DeleteItemFromObjectCaseSensitive(result, "vertebrae");
    cJSON_AddItemToObject(result, "vertebrae", arr);
    cJSON *mus = cJSON_CreateObject(), *fat = cJSON_CreateObject();
    /* L3 and L1 always appear (null when absent) so consumers can rely on them; other
     * levels only when measured. */
    static const int order[OS_LEVEL_COUNT] = {OS_L3, OS_L1, OS_T10, OS_T11, OS_T12, OS_L2, OS_L4, OS_L5, OS_S1};
    for (int k = 0; k < OS_LEVEL_COUNT; k++) {
        int l = order[k];
        const os_muscle_measure *mm = &m->muscle[l];
        if (!mm->present && l != OS_L3 && l != OS_L1) continue;
        cJSON_AddItemToObject(mus, os_level_name(l), muscle_json(mm));
        cJSON_AddItemToObject(fat, os_level_name(l), fat_json(mm));
    }
    cJSON_DeleteItemFromObjectCaseSensitive(result, "muscle");
    cJSON_DeleteItemFromObjectCaseSensitive(result, "fat");
    cJSON_DeleteItemFromObjectCaseSensitive(result, "bone_density");
    cJSON_AddItemToObject(result, "muscle", mus);
    cJSON_AddItemToObject(result, "fat", fat);
    cJSON_AddItemToObject(result, "bone_density", bmd_json(&m->bmd, o));
    cJSON *w = cJSON_GetObjectItemCaseSensitive(result, "warnings");
    if (!cJSON_IsArray(w)) {
        cJSON_DeleteItemFromObjectCaseSensitive(result, "warnings");
        w = cJSON_AddArrayToObject(result, "warnings");
    }
    for (int i = 0; i < m->n_warnings; i++) {
        char line[300];
        snprintf(line, sizeof line, "measure: %s", m->warnings[i]);
        cJSON_AddItemToArray(w, cJSON_CreateString(line));
    }
    return 0;
}
