/* The public entry: builds the model from the options (spine, soft tissue, ribs, HU table,
 * scan range and field of view), renders the slices in threaded batches, adds each slice's
 * reproducible Gaussian noise, writes CT Image Storage files through lib/dicom from the top
 * down, and writes truth.json. */
#include "osteoscout/phantom.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cjson/cJSON.h>

#include "osteoscout/dicom.h"
#include "osteoscout/fs.h"
#include "model.h"
#include "rng.h"
#include "truth.h"

#define PH_INTERCEPT (-1024.0)
#define MARGIN_MM 10.0
#define BATCH 16
#define THREADS 2

static double clampd(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }

static int check_opts(const os_phantom_opts *o, os_error *err) {
    if (o->rows < 8 || o->rows > 4096 || o->cols < 8 || o->cols > 4096)
        return os_error_set(err, -EINVAL, "phantom matrix %d×%d is outside 8…4096", o->cols, o->rows);
    if (o->slices < 0 || o->slices > 9999)
        return os_error_set(err, -EINVAL, "phantom slice count %d is outside 1…9999", o->slices);
    if (!(o->pixel_mm >= 0.05 && o->pixel_mm <= 20) || !(o->slice_spacing_mm >= 0.1) ||
        !(o->slice_thickness_mm >= 0.1) || o->slice_spacing_mm > 50 || o->slice_thickness_mm > 50)
        return os_error_set(err, -EINVAL,
                            "phantom pixel size, slice spacing and thickness must be positive "
                            "(%g, %g, %g mm)",
                            o->pixel_mm, o->slice_spacing_mm, o->slice_thickness_mm);
    if (!(o->noise_sd_hu >= 0) || o->noise_sd_hu > 1000)
        return os_error_set(err, -EINVAL, "phantom noise %g HU is outside 0…1000", o->noise_sd_hu);
    if (o->z_from < 0 || o->z_to > OS_PHANTOM_S1 || o->z_from > o->z_to)
        return os_error_set(err, -EINVAL, "phantom z range %s…%s is not top to bottom",
                            os_phantom_level_name(o->z_from), os_phantom_level_name(o->z_to));
    if (o->habitus < 0 || o->habitus > 2 || o->phase < 0 || o->phase > 2)
        return os_error_set(err, -EINVAL, "phantom habitus or phase is out of range");
    for (int l = 0; l < OS_PHANTOM_LEVELS; l++)
        if (o->deformity[l] < 0 || o->deformity[l] > 3 ||
            (o->deformity[l] && !(o->height_loss[l] >= 0 && o->height_loss[l] <= 0.8)) ||
            o->trab_hu[l] < -200 || o->trab_hu[l] > 1500)
            return os_error_set(err, -EINVAL, "phantom %s: deformity, loss (0…0.8) or trabecular "
                                "HU out of range", os_phantom_level_name(l));
    return 0;
}

/* Axial extent of a body: half its height along the tilted axis plus half its depth. */
static double half_z(const ph_vertebra *v) {
    return v->H / 2 * fabs(v->ax[2]) + v->D / 2 * fabs(v->ap[2]);
}

static void scan_range(ph_model *m) {
    const os_phantom_opts *o = &m->o;
    double c[3];
    if (o->z_from < OS_PHANTOM_S1) {
        const ph_vertebra *v = &m->v[PH_V_T10 + o->z_from];
        ph_vertebra_center(v, c);
        m->z_top_scan = c[2] + half_z(v);
    } else {
        m->z_top_scan = m->sacrum.o[2];
    }
    if (o->z_to < OS_PHANTOM_S1) {
        const ph_vertebra *v = &m->v[PH_V_T10 + o->z_to];
        ph_vertebra_center(v, c);
        m->z_bot_scan = c[2] - half_z(v);
    } else {
        m->z_bot_scan = m->sacrum.o[2] - 28 * m->bone_scale;
    }
    double top = m->z_top_scan + MARGIN_MM, bot = m->z_bot_scan - MARGIN_MM, sp = o->slice_spacing_mm;
    m->n_slices = o->slices > 0 ? o->slices : (int)floor((top - bot) / sp + 1e-9) + 1;
    m->z_first = (top + bot) / 2 + (m->n_slices - 1) / 2.0 * sp;
}

static void hu_table(ph_model *m) {
    int ph = m->o.phase;
    static const double liver[3] = {60, 80, 110}, spleen[3] = {45, 120, 120};
    static const double kc[3] = {35, 180, 150}, km[3] = {35, 70, 140}, aorta[3] = {40, 300, 160};
    static const double ivc[3] = {40, 70, 140}, wall[3] = {40, 70, 80};
    double *h = m->hu, ms = m->o.muscle_hu_shift;
    for (int i = 0; i < L_COUNT; i++) h[i] = 40;
    h[L_AIR] = -1000, h[L_SKIN] = 40, h[L_SAT] = -100, h[L_VAT] = -90, h[L_IMAT] = -85;
    h[L_PSOAS] = 52 + ms, h[L_ERECTOR] = 45 + ms, h[L_QL] = 48 + ms, h[L_WALL] = 42 + ms;
    h[L_MUSCLE_OTHER] = 45 + ms;
    h[L_LIVER] = liver[ph], h[L_SPLEEN] = spleen[ph], h[L_KIDNEY_CORTEX] = kc[ph];
    h[L_KIDNEY_MEDULLA] = km[ph], h[L_BOWEL_WALL] = wall[ph], h[L_BOWEL_FLUID] = 15;
    h[L_GAS] = -1000, h[L_FECES] = -20, h[L_AORTA] = aorta[ph], h[L_IVC] = ivc[ph];
    h[L_DISC] = 80, h[L_CSF] = 10, h[L_CORTICAL] = 850, h[L_VEIN] = 40;
    double lumbar = 0;
    for (int i = 0; i < PH_NV; i++) {
        h[L_TRAB_V0 + i] = m->v[i].trab_hu;
        if (i >= PH_V_T10 + 3) lumbar += m->v[i].trab_hu / 5;
    }
    h[L_TRAB_OTHER] = 0.8 * lumbar + 60;
}

static void model_free(ph_model *m) {
    free(m->blobs);
    for (int t = 0; t < m->n_tubes; t++) free(m->tubes[t].p);
    memset(m, 0, sizeof *m);
}

static int model_build(ph_model *m, const os_phantom_opts *o, int full, os_error *err) {
    memset(m, 0, sizeof *m);
    int rc = check_opts(o, err);
    if (rc) return rc;
    m->o = *o;
    m->height_m = o->patient_size_m > 0 ? clampd(o->patient_size_m, 1.2, 2.3) : 1.70;
    m->sex = o->patient_sex == 'M' ? 'M' : 'F';
    m->bone_scale = (1 + 0.8 * (m->height_m / 1.70 - 1)) * (m->sex == 'M' ? 1.03 : 0.97);
    ph_spine_layout(m);
    scan_range(m);
    if (m->n_slices < 1 || m->n_slices > 9999)
        return os_error_set(err, -EINVAL, "phantom would need %d slices (1…9999)", m->n_slices);
    if (!full) return 0;
    hu_table(m);
    if (ph_soft_plan(m) || ph_ribs_build(m)) {
        model_free(m);
        return os_error_set(err, -ENOMEM, "out of memory laying out the phantom");
    }
    /* field of view centred on the body at L3 */
    ph_plane pl;
    memset(&pl, 0, sizeof pl);
    pl.m = m;
    pl.z = m->v[PH_V_T10 + 5].o[2];
    ph_plane_setup(&pl);
    double yc = ((pl.f_front - m->sat_a) + (pl.f_back + m->sat_p)) / 2;
    m->x0 = -(o->cols - 1) / 2.0 * o->pixel_mm;
    m->y0 = yc - (o->rows - 1) / 2.0 * o->pixel_mm;
    return 0;
}

int os_phantom_slice_count(const os_phantom_opts *o, os_error *err) {
    ph_model m;
    int rc = model_build(&m, o, 0, err);
    return rc ? rc : m.n_slices;
}

/* Stored value = HU − intercept, plus noise, rounded and clamped to int16. */
static void noisy_slice(const float *clean, size_t n, double sd, uint64_t seed, int slice,
                        int16_t *stored) {
    os_rng rng;
    os_rng_seed(&rng, seed, (uint64_t)slice + 1);
    for (size_t i = 0; i < n; i++) {
        double v = clean[i] - PH_INTERCEPT;
        if (sd > 0) v += sd * os_rng_gauss(&rng);
        v = nearbyint(v);
        stored[i] = (int16_t)(v < INT16_MIN ? INT16_MIN : v > INT16_MAX ? INT16_MAX : v);
    }
}

static void today(char date[9], char clock[7]) {
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(date, 9, "%Y%m%d", &tm);
    strftime(clock, 7, "%H%M%S", &tm);
}

/* The slice whose centre is nearest the vertebral body's centre, and its muscle and fat. */
static int level_truth(const ph_model *m, int level, const char *name, ph_level_truth *lt) {
    double c[3];
    ph_vertebra_center(&m->v[PH_V_T10 + level], c);
    memset(lt, 0, sizeof *lt);
    lt->name = name;
    lt->center_z = c[2];
    double z_last = m->z_first - (m->n_slices - 1) * m->o.slice_spacing_mm;
    lt->slice = -1;
    if (c[2] < z_last || c[2] > m->z_first) return 0;
    lt->slice = (int)lround((m->z_first - c[2]) / m->o.slice_spacing_mm);
    if (lt->slice >= m->n_slices) lt->slice = m->n_slices - 1;
    float *tmp = malloc((size_t)m->o.rows * m->o.cols * sizeof *tmp);
    if (!tmp) return -1;
    int rc = ph_render_slice(m, lt->slice, tmp, &lt->stats);
    free(tmp);
    return rc;
}

int os_phantom_write_series(const os_phantom_opts *o, const char *out_dir, os_error *err) {
    ph_model *m = calloc(1, sizeof *m);
    if (!m) return os_error_set(err, -ENOMEM, "out of memory for the phantom");
    int rc = model_build(m, o, 1, err);
    if (rc) {
        free(m);
        return rc;
    }
    rc = os_fs_mkdirs(out_dir, 0755, err);
    if (rc) {
        model_free(m);
        free(m);
        return rc;
    }
    char study[OS_UID_MAX], series[OS_UID_MAX], sop[OS_UID_MAX];
    snprintf(study, sizeof study, "%s", o->study_uid ? o->study_uid : "");
    snprintf(series, sizeof series, "%s", o->series_uid ? o->series_uid : "");
    if (!study[0]) os_dicom_new_uid(study);
    if (!series[0]) os_dicom_new_uid(series);
    char date[9], clock[7], patient_id[32], description[64], sex[2] = {m->sex, 0};
    today(date, clock);
    snprintf(patient_id, sizeof patient_id, "PHANTOM-%llu", (unsigned long long)o->seed);
    snprintf(description, sizeof description, "SYNTHETIC phantom seed %llu",
             (unsigned long long)o->seed);

    os_ct_write w;
    memset(&w, 0, sizeof w);
    w.transfer_syntax_uid = o->transfer_syntax_uid ? o->transfer_syntax_uid : OS_TS_EXPLICIT_LE;
    w.patient_name = "SYNTHETIC^PHANTOM";
    w.patient_id = patient_id;
    w.patient_sex = sex;
    w.patient_size_m = o->patient_size_m;
    w.study_uid = study;
    w.series_uid = series;
    w.sop_uid = sop;
    w.study_date = date;
    w.study_time = clock;
    w.accession_number = "SYNTHETIC";
    w.study_description = "SYNTHETIC phantom study";
    w.series_description = description;
    w.manufacturer = "OsteoScout phantom (synthetic)";
    w.convolution_kernel = o->convolution_kernel;
    w.series_number = o->series_number;
    const double axial[6] = {1, 0, 0, 0, 1, 0};
    memcpy(w.orientation, axial, sizeof axial);
    w.pixel_spacing[0] = w.pixel_spacing[1] = o->pixel_mm;
    w.slice_thickness = o->slice_thickness_mm;
    w.kvp = 120;
    w.rows = o->rows;
    w.cols = o->cols;
    w.rescale_slope = 1;
    w.rescale_intercept = PH_INTERCEPT;

    size_t npix = (size_t)o->rows * (size_t)o->cols;
    float *clean = malloc((size_t)BATCH * npix * sizeof *clean);
    int16_t *stored = malloc(npix * sizeof *stored);
    cJSON *files = cJSON_CreateArray();
    double lo = 1e9, hi = -1e9;
    ph_level_truth lv[2];
    if (!clean || !stored || !files) {
        rc = os_error_set(err, -ENOMEM, "out of memory for %d×%d phantom slices", o->cols, o->rows);
        goto done;
    }
    for (int b = 0; b < m->n_slices && !rc; b += BATCH) {
        int count = m->n_slices - b < BATCH ? m->n_slices - b : BATCH;
        if (ph_render_batch(m, b, count, clean, THREADS)) {
            rc = os_error_set(err, -ENOMEM, "out of memory rendering the phantom");
            break;
        }
        for (int k = 0; k < count; k++) {
            int i = b + k;
            const float *cs = clean + (size_t)k * npix;
            for (size_t v = 0; v < npix; v++) {
                if (cs[v] < lo) lo = cs[v];
                if (cs[v] > hi) hi = cs[v];
            }
            char name[32], path[4096];
            snprintf(name, sizeof name, "IM%04d.dcm", i + 1);
            if (snprintf(path, sizeof path, "%s/%s", out_dir, name) >= (int)sizeof path) {
                rc = os_error_set(err, -ENAMETOOLONG, "output directory name is too long");
                break;
            }
            os_dicom_new_uid(sop);
            w.instance_number = i + 1;
            w.position[0] = m->x0;
            w.position[1] = m->y0;
            w.position[2] = m->z_first - i * o->slice_spacing_mm;
            noisy_slice(cs, npix, o->noise_sd_hu, o->seed, i, stored);
            rc = os_dicom_write_ct(&w, stored, path, err);
            if (rc) {
                os_error_wrap(err, "%s", name);
                break;
            }
            cJSON *f = cJSON_CreateObject();
            cJSON_AddStringToObject(f, "file", name);
            cJSON_AddStringToObject(f, "sop_uid", sop);
            cJSON_AddNumberToObject(f, "z_mm", w.position[2]);
            cJSON_AddItemToArray(files, f);
        }
    }
    if (rc) goto done;
    if (level_truth(m, 5, "L3", &lv[0]) || level_truth(m, 3, "L1", &lv[1])) {
        rc = os_error_set(err, -ENOMEM, "out of memory measuring the phantom's truth");
        goto done;
    }
    rc = ph_truth_write(m, &w, lv, 2, lo, hi, files, out_dir, err);
    files = NULL;

done:
    cJSON_Delete(files);
    free(clean);
    free(stored);
    model_free(m);
    free(m);
    return rc;
}
