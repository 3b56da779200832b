/* Writes a synthetic CT series with known truth: the noise-free cross-section is rendered
 * once, each slice adds its own reproducible Gaussian noise, and lib/dicom writes it as
 * real CT Image Storage files. truth.json beside the files says what every tissue is, so
 * tests, demos and model training can check measurements against it. */
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
#include "body.h"
#include "rng.h"

#define PH_INTERCEPT (-1024.0)

void os_phantom_defaults(os_phantom_opts *o) {
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->rows = 512;
    o->cols = 512;
    o->pixel_mm = 0.7;
    o->slices = 200;
    o->slice_spacing_mm = 2.0;
    o->slice_thickness_mm = 2.0;
    o->noise_sd_hu = 15;
    o->transfer_syntax_uid = OS_TS_EXPLICIT_LE;
    o->convolution_kernel = "B30f";
    o->series_number = 2;
    o->patient_size_m = 1.70;
    o->patient_sex = 'F';
}

static int check_opts(const os_phantom_opts *o, os_error *err) {
    if (o->rows < 8 || o->rows > 4096 || o->cols < 8 || o->cols > 4096)
        return os_error_set(err, -EINVAL, "phantom matrix %d×%d is outside 8…4096", o->cols, o->rows);
    if (o->slices < 1 || o->slices > 9999)
        return os_error_set(err, -EINVAL, "phantom slice count %d is outside 1…9999", o->slices);
    if (!(o->pixel_mm > 0) || !(o->slice_spacing_mm > 0) || !(o->slice_thickness_mm > 0))
        return os_error_set(err, -EINVAL,
                            "phantom pixel size, slice spacing and thickness must be positive "
                            "(%g, %g, %g mm)",
                            o->pixel_mm, o->slice_spacing_mm, o->slice_thickness_mm);
    if (!(o->noise_sd_hu >= 0) || o->noise_sd_hu > 1000)
        return os_error_set(err, -EINVAL, "phantom noise %g HU is outside 0…1000", o->noise_sd_hu);
    return 0;
}

/* Stored value = HU − intercept, plus noise, rounded and clamped to int16. */
static void noisy_slice(const int16_t *clean, size_t n, double sd, uint64_t seed, int slice,
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

static int write_truth(cJSON *truth, const char *out_dir, os_error *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/truth.json", out_dir);
    char *text = cJSON_Print(truth);
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
    if (bad) return os_error_set(err, -EIO, "cannot write %s", path);
    return 0;
}

static cJSON *truth_header(const os_phantom_opts *o, const os_ct_write *w, const double first[3]) {
    cJSON *t = cJSON_CreateObject();
    cJSON_AddBoolToObject(t, "synthetic", 1);
    cJSON_AddStringToObject(t, "generator", "OsteoScout phantom (simple cross-section, v1)");
    char seed[24];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)o->seed);
    cJSON_AddStringToObject(t, "seed", seed); /* a string: JSON numbers lose 64-bit seeds */
    cJSON_AddNumberToObject(t, "rows", o->rows);
    cJSON_AddNumberToObject(t, "cols", o->cols);
    cJSON_AddNumberToObject(t, "slices", o->slices);
    cJSON_AddNumberToObject(t, "pixel_mm", o->pixel_mm);
    cJSON_AddNumberToObject(t, "slice_spacing_mm", o->slice_spacing_mm);
    cJSON_AddNumberToObject(t, "slice_thickness_mm", o->slice_thickness_mm);
    cJSON_AddNumberToObject(t, "noise_sd_hu", o->noise_sd_hu);
    cJSON_AddNumberToObject(t, "rescale_intercept", PH_INTERCEPT);
    cJSON_AddNumberToObject(t, "rescale_slope", 1);
    cJSON_AddStringToObject(t, "transfer_syntax_uid", w->transfer_syntax_uid);
    cJSON_AddStringToObject(t, "convolution_kernel", w->convolution_kernel ? w->convolution_kernel : "");
    cJSON_AddStringToObject(t, "study_uid", w->study_uid);
    cJSON_AddStringToObject(t, "series_uid", w->series_uid);
    cJSON_AddNumberToObject(t, "series_number", w->series_number);
    cJSON *p = cJSON_AddObjectToObject(t, "patient");
    cJSON_AddStringToObject(p, "name", w->patient_name);
    cJSON_AddStringToObject(p, "id", w->patient_id);
    if (w->patient_sex) cJSON_AddStringToObject(p, "sex", w->patient_sex);
    if (w->patient_size_m > 0) cJSON_AddNumberToObject(p, "size_m", w->patient_size_m);
    cJSON *g = cJSON_AddObjectToObject(t, "geometry");
    cJSON_AddItemToObject(g, "orientation", cJSON_CreateDoubleArray(w->orientation, 6));
    cJSON_AddItemToObject(g, "first_position_mm", cJSON_CreateDoubleArray(first, 3));
    cJSON_AddNumberToObject(g, "z_first_mm", first[2]);
    cJSON_AddNumberToObject(g, "z_last_mm", first[2] - (o->slices - 1) * o->slice_spacing_mm);
    cJSON_AddNumberToObject(g, "z_extent_mm", (o->slices - 1) * o->slice_spacing_mm);
    return t;
}

int os_phantom_write_series(const os_phantom_opts *o, const char *out_dir, os_error *err) {
    int rc = check_opts(o, err);
    if (rc) return rc;
    rc = os_fs_mkdirs(out_dir, 0755, err);
    if (rc) return rc;

    char study[OS_UID_MAX], series[OS_UID_MAX], sop[OS_UID_MAX];
    snprintf(study, sizeof study, "%s", o->study_uid ? o->study_uid : "");
    snprintf(series, sizeof series, "%s", o->series_uid ? o->series_uid : "");
    if (!study[0]) os_dicom_new_uid(study);
    if (!series[0]) os_dicom_new_uid(series);
    char date[9], clock[7], patient_id[32], description[64], sex[2] = {o->patient_sex, 0};
    today(date, clock);
    snprintf(patient_id, sizeof patient_id, "PHANTOM-%llu", (unsigned long long)o->seed);
    snprintf(description, sizeof description, "SYNTHETIC phantom seed %llu",
             (unsigned long long)o->seed);

    os_ct_write w;
    memset(&w, 0, sizeof w);
    w.transfer_syntax_uid = o->transfer_syntax_uid ? o->transfer_syntax_uid : OS_TS_EXPLICIT_LE;
    w.patient_name = "SYNTHETIC^PHANTOM";
    w.patient_id = patient_id;
    w.patient_sex = o->patient_sex ? sex : NULL;
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

    /* Centred on the patient axis; the first instance is the most cranial (LPS: +z is
     * head), later ones step towards the feet. */
    double first[3] = {-o->cols * o->pixel_mm / 2, -o->rows * o->pixel_mm / 2, 0};
    ph_body body;
    ph_body_layout(&body, o->cols * o->pixel_mm, o->rows * o->pixel_mm, o->pixel_mm);

    size_t npix = (size_t)o->rows * (size_t)o->cols;
    int16_t *clean = malloc(npix * sizeof *clean), *stored = malloc(npix * sizeof *stored);
    cJSON *truth = truth_header(o, &w, first);
    cJSON *files = cJSON_AddArrayToObject(truth, "files");
    if (!clean || !stored || !files) {
        rc = os_error_set(err, -ENOMEM, "out of memory for a %d×%d phantom slice", o->cols, o->rows);
        goto done;
    }
    ph_body_render(&body, o->rows, o->cols, o->pixel_mm, first[0], first[1], clean);
    ph_body_truth(&body, truth);

    for (int i = 0; i < o->slices; i++) {
        char name[32], path[4096];
        snprintf(name, sizeof name, "IM%04d.dcm", i + 1);
        if (snprintf(path, sizeof path, "%s/%s", out_dir, name) >= (int)sizeof path) {
            rc = os_error_set(err, -ENAMETOOLONG, "output directory name is too long");
            goto done;
        }
        os_dicom_new_uid(sop);
        w.instance_number = i + 1;
        w.position[0] = first[0];
        w.position[1] = first[1];
        w.position[2] = first[2] - i * o->slice_spacing_mm;
        noisy_slice(clean, npix, o->noise_sd_hu, o->seed, i, stored);
        rc = os_dicom_write_ct(&w, stored, path, err);
        if (rc) {
            os_error_wrap(err, "%s", name);
            goto done;
        }
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "file", name);
        cJSON_AddStringToObject(f, "sop_uid", sop);
        cJSON_AddNumberToObject(f, "z_mm", w.position[2]);
        cJSON_AddItemToArray(files, f);
    }
    rc = write_truth(truth, out_dir, err);

done:
    cJSON_Delete(truth);
    free(clean);
    free(stored);
    return rc;
}
