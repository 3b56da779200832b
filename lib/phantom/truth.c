/* truth.json: what the phantom really holds, computed from the same analytic geometry the
 * painter used — vertebral centres, heights at 15/50/85 % of the depth along each body's own
 * axis, set trabecular HU, Genant grade of the set loss, and muscle and fat at mid-L1 and
 * mid-L3 from the majority-labelled noise-free slice. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "truth.h"

static void add_num_r(cJSON *o, const char *k, double v, double q) {
    cJSON_AddNumberToObject(o, k, q > 0 ? (double)(long long)(v / q + (v >= 0 ? 0.5 : -0.5)) * q : v);
}

static void add_vertebrae(const ph_model *m, cJSON *t, double z_lo, double z_hi) {
    cJSON *arr = cJSON_AddArrayToObject(t, "vertebrae");
    for (int l = 0; l < OS_PHANTOM_LEVELS; l++) {
        const ph_vertebra *v = &m->v[PH_V_T10 + l];
        cJSON *o = cJSON_CreateObject();
        double c[3];
        ph_vertebra_center(v, c);
        cJSON_AddStringToObject(o, "label", os_phantom_level_name(l));
        cJSON_AddBoolToObject(o, "in_scan", c[2] >= z_lo && c[2] <= z_hi);
        cJSON_AddItemToObject(o, "center_lps_mm", cJSON_CreateDoubleArray(c, 3));
        static const double u[3] = {0.85, 0.50, 0.15};
        static const char *const k[3] = {"height_anterior_mm", "height_middle_mm",
                                         "height_posterior_mm"};
        for (int i = 0; i < 3; i++)
            cJSON_AddNumberToObject(o, k[i], ph_endplate_sup(v, u[i]) - ph_endplate_inf(v, u[i]));
        cJSON_AddNumberToObject(o, "ap_depth_mm", v->D);
        cJSON_AddNumberToObject(o, "width_mm", v->W);
        cJSON_AddNumberToObject(o, "trabecular_hu", v->trab_hu);
        cJSON_AddStringToObject(o, "deformity", os_phantom_deformity_name(v->deformity));
        cJSON_AddNumberToObject(o, "height_loss", v->loss);
        cJSON_AddNumberToObject(o, "genant_grade", v->deformity ? os_phantom_genant_grade(v->loss) : 0);
        double tilt[3] = {v->ax[0], v->ax[1], v->ax[2]};
        cJSON_AddItemToObject(o, "axis_lps", cJSON_CreateDoubleArray(tilt, 3));
        cJSON_AddItemToArray(arr, o);
    }
}

static void add_group(cJSON *parent, const char *name, const ph_slice_stats *s, const int *cls,
                      int ncls, double pix_area) {
    long n = 0;
    double hu = 0;
    for (int i = 0; i < ncls; i++) n += s->n[cls[i]], hu += s->hu_sum[cls[i]];
    cJSON *g = parent;
    if (name) g = cJSON_AddObjectToObject(parent, name);
    add_num_r(g, "area_cm2", n * pix_area / 100.0, 1e-4);
    if (n) add_num_r(g, "mean_hu", hu / n, 1e-3);
    else cJSON_AddNullToObject(g, "mean_hu");
}

static void add_levels(const ph_model *m, cJSON *t, const ph_level_truth *lv, int nlv) {
    cJSON *mus = cJSON_AddObjectToObject(t, "muscle"), *fat = cJSON_AddObjectToObject(t, "fat");
    double pa = m->o.pixel_mm * m->o.pixel_mm;
    for (int i = 0; i < nlv; i++) {
        if (lv[i].slice < 0) continue;
        const ph_slice_stats *s = &lv[i].stats;
        cJSON *o = cJSON_AddObjectToObject(mus, lv[i].name);
        cJSON_AddNumberToObject(o, "slice_z_mm", m->z_first - lv[i].slice * m->o.slice_spacing_mm);
        cJSON_AddNumberToObject(o, "slice_index", lv[i].slice);
        cJSON_AddNumberToObject(o, "vertebra_center_z_mm", lv[i].center_z);
        static const int all[5] = {PH_C_PSOAS, PH_C_ERECTOR, PH_C_QL, PH_C_WALL, PH_C_MUSCLE_OTHER};
        add_group(o, NULL, s, all, 5, pa);
        cJSON *g = cJSON_AddObjectToObject(o, "groups");
        static const char *const names[5] = {"psoas", "erector_spinae", "quadratus_lumborum",
                                             "abdominal_wall", "other"};
        for (int k = 0; k < 5; k++) add_group(g, names[k], s, &all[k], 1, pa);
        cJSON *f = cJSON_AddObjectToObject(fat, lv[i].name);
        add_num_r(f, "sat_cm2", s->n[PH_C_SAT] * pa / 100, 1e-4);
        add_num_r(f, "vat_cm2", s->n[PH_C_VAT] * pa / 100, 1e-4);
        add_num_r(f, "imat_cm2", s->n[PH_C_IMAT] * pa / 100, 1e-4);
    }
}

static void add_tissues(const ph_model *m, cJSON *t) {
    cJSON *h = cJSON_AddObjectToObject(t, "tissues_hu");
    static const struct { const char *name; int lab; } k[] = {
        {"air", L_AIR}, {"skin", L_SKIN}, {"subcutaneous_fat", L_SAT}, {"visceral_fat", L_VAT},
        {"intermuscular_fat", L_IMAT}, {"psoas", L_PSOAS}, {"erector_spinae", L_ERECTOR},
        {"quadratus_lumborum", L_QL}, {"abdominal_wall", L_WALL}, {"other_muscle", L_MUSCLE_OTHER},
        {"liver", L_LIVER}, {"spleen", L_SPLEEN}, {"kidney_cortex", L_KIDNEY_CORTEX},
        {"kidney_medulla", L_KIDNEY_MEDULLA}, {"bowel_wall", L_BOWEL_WALL},
        {"bowel_fluid", L_BOWEL_FLUID}, {"gas", L_GAS}, {"feces", L_FECES}, {"aorta", L_AORTA},
        {"ivc", L_IVC}, {"disc", L_DISC}, {"csf", L_CSF}, {"cortical_bone", L_CORTICAL},
        {"other_trabecular_bone", L_TRAB_OTHER}, {"basivertebral_vein", L_VEIN},
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        cJSON_AddNumberToObject(h, k[i].name, m->hu[k[i].lab]);
}

int ph_truth_write(const ph_model *m, const os_ct_write *w, const ph_level_truth *lv, int nlv,
                   double clean_min, double clean_max, cJSON *files, const char *out_dir,
                   os_error *err) {
    const os_phantom_opts *o = &m->o;
    cJSON *t = cJSON_CreateObject();
    if (!t) return os_error_set(err, -ENOMEM, "out of memory for truth.json");
    char seed[24];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)o->seed);
    cJSON_AddBoolToObject(t, "synthetic", 1);
    cJSON_AddStringToObject(t, "generator", "OsteoScout phantom");
    cJSON_AddNumberToObject(t, "generator_version", 4);
    cJSON_AddStringToObject(t, "seed", seed); /* a string: JSON numbers lose 64-bit seeds */
    cJSON_AddStringToObject(t, "study_uid", w->study_uid);
    cJSON_AddStringToObject(t, "series_uid", w->series_uid);
    cJSON_AddNumberToObject(t, "series_number", w->series_number);
    cJSON_AddStringToObject(t, "transfer_syntax_uid", w->transfer_syntax_uid);
    cJSON_AddNumberToObject(t, "rows", o->rows);
    cJSON_AddNumberToObject(t, "cols", o->cols);
    cJSON_AddNumberToObject(t, "pixel_mm", o->pixel_mm);
    cJSON_AddNumberToObject(t, "slice_spacing_mm", o->slice_spacing_mm);
    cJSON_AddNumberToObject(t, "slice_thickness_mm", o->slice_thickness_mm);
    cJSON_AddNumberToObject(t, "n_slices", m->n_slices);
    cJSON_AddNumberToObject(t, "noise_sd_hu", o->noise_sd_hu);
    cJSON_AddNumberToObject(t, "patient_height_m", m->height_m);
    char sex[2] = {m->sex, 0};
    cJSON_AddStringToObject(t, "sex", sex);
    cJSON_AddStringToObject(t, "habitus", os_phantom_habitus_name(o->habitus));
    cJSON_AddStringToObject(t, "phase", os_phantom_phase_name(o->phase));
    cJSON_AddNumberToObject(t, "muscle_hu_shift", o->muscle_hu_shift);
    cJSON_AddNumberToObject(t, "muscle_scale", o->muscle_scale > 0 ? o->muscle_scale : 1.0);
    cJSON_AddNumberToObject(t, "aorta_hu", m->hu[L_AORTA]);
    cJSON_AddStringToObject(t, "z_from", os_phantom_level_name(o->z_from));
    cJSON_AddStringToObject(t, "z_to", os_phantom_level_name(o->z_to));
    int n_sub_xy, n_sub_z;
    ph_sampling(m, &n_sub_xy, &n_sub_z);
    cJSON *smp = cJSON_AddObjectToObject(t, "sampling");
    cJSON_AddNumberToObject(smp, "in_plane", n_sub_xy);
    cJSON_AddNumberToObject(smp, "through_slice", n_sub_z);
    double z_last = m->z_first - (m->n_slices - 1) * o->slice_spacing_mm;
    add_vertebrae(m, t, z_last, m->z_first);
    add_levels(m, t, lv, nlv);
    cJSON *ribs = cJSON_AddArrayToObject(t, "ribs_on");
    for (int vi = PH_V_T10; vi < PH_NV; vi++)
        if (m->rib_of[vi]) cJSON_AddItemToArray(ribs, cJSON_CreateString(os_phantom_level_name(vi - PH_V_T10)));
    cJSON_AddBoolToObject(t, "sacrum", m->sacrum.o[2] >= z_last);
    add_tissues(m, t);
    cJSON *hr = cJSON_AddObjectToObject(t, "clean_hu");
    cJSON_AddNumberToObject(hr, "min", clean_min);
    cJSON_AddNumberToObject(hr, "max", clean_max);
    cJSON *g = cJSON_AddObjectToObject(t, "geometry");
    double first[3] = {m->x0, m->y0, m->z_first};
    cJSON_AddItemToObject(g, "orientation", cJSON_CreateDoubleArray(w->orientation, 6));
    cJSON_AddItemToObject(g, "first_position_mm", cJSON_CreateDoubleArray(first, 3));
    cJSON_AddNumberToObject(g, "z_first_mm", m->z_first);
    cJSON_AddNumberToObject(g, "z_last_mm", z_last);
    cJSON_AddNumberToObject(g, "z_extent_mm", m->z_first - z_last);
    cJSON_AddItemToObject(t, "files", files);

    char path[4096];
    snprintf(path, sizeof path, "%s/truth.json", out_dir);
    char *text = cJSON_Print(t);
    cJSON_Delete(t);
    if (!text) return os_error_set(err, -ENOMEM, "out of memory writing truth.json");
    FILE *f = fopen(path, "w");
    if (!f) {
        int e = errno;
        free(text);
        return os_error_set(err, -e, "cannot create %s: %s", path, strerror(e));
    }
    int bad = fputs(text, f) < 0 || fputc('\n', f) == EOF;
    bad |= fclose(f) != 0;
    free(text);
    return bad ? os_error_set(err, -EIO, "cannot write %s", path) : 0;
}
