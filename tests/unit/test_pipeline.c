/* lib/pipeline end to end on real files: a small phantom written through lib/dicom in two
 * transfer syntaxes is read back into a volume whose geometry and HU range must match the
 * phantom's truth. Also cancellation and a file that is not DICOM. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "osteoscout/dicom.h"
#include "osteoscout/phantom.h"
#include "osteoscout/pipeline.h"

#define ROWS 64
#define COLS 48
#define SLICES 40
#define PIXEL 6.0
#define SPACING 2.5
#define NOISE 10.0

static char tmpdir[256];

static int setup(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/os_test_pipeline_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_phantom(const char *dir, const char *syntax) {
    os_phantom_opts o;
    os_phantom_defaults(&o);
    o.seed = 7;
    o.rows = ROWS;
    o.cols = COLS;
    o.slices = SLICES;
    o.pixel_mm = PIXEL;
    o.slice_spacing_mm = SPACING;
    o.slice_thickness_mm = SPACING;
    o.noise_sd_hu = NOISE;
    o.transfer_syntax_uid = syntax;
    os_error err;
    os_error_clear(&err);
    if (os_phantom_write_series(&o, dir, &err) != 0) fail_msg("phantom: %s", err.msg);
}

/* Reverse order, so the pipeline has to sort. */
static char **phantom_paths(const char *dir) {
    char **p = calloc(SLICES, sizeof *p);
    for (int i = 0; i < SLICES; i++) {
        p[i] = malloc(512);
        snprintf(p[i], 512, "%s/IM%04d.dcm", dir, SLICES - i);
    }
    return p;
}

static void free_paths(char **p) {
    for (int i = 0; i < SLICES; i++) free(p[i]);
    free(p);
}

static double num(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItem(o, key);
    if (!cJSON_IsNumber(v)) fail_msg("no number %s", key);
    return v->valuedouble;
}

static double truth_num(const cJSON *truth, const char *obj, const char *key) {
    return num(cJSON_GetObjectItem(truth, obj), key);
}

static void check_series(const char *syntax, const char *name) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", tmpdir, name);
    write_phantom(dir, syntax);

    char truth_path[600];
    snprintf(truth_path, sizeof truth_path, "%s/truth.json", dir);
    FILE *f = fopen(truth_path, "r");
    assert_non_null(f);
    static char buf[1 << 16];
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    cJSON *truth = cJSON_Parse(buf);
    assert_non_null(truth);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(truth, "synthetic")));

    char **paths = phantom_paths(dir);
    cJSON *r = NULL;
    os_error err;
    os_error_clear(&err);
    if (os_pipeline_run_files((const char *const *)paths, SLICES, NULL, &r, &err) != 0)
        fail_msg("%s: %s", syntax, err.msg);
    free_paths(paths);

    assert_int_equal((int)num(r, "result_version"), 1);
    const cJSON *v = cJSON_GetObjectItem(r, "volume");
    const cJSON *dims = cJSON_GetObjectItem(v, "dimensions");
    assert_int_equal(cJSON_GetArrayItem(dims, 0)->valueint, COLS);
    assert_int_equal(cJSON_GetArrayItem(dims, 1)->valueint, ROWS);
    assert_int_equal(cJSON_GetArrayItem(dims, 2)->valueint, SLICES);
    const cJSON *sp = cJSON_GetObjectItem(v, "spacing_mm");
    assert_true(fabs(cJSON_GetArrayItem(sp, 0)->valuedouble - PIXEL) < 1e-6);
    assert_true(fabs(cJSON_GetArrayItem(sp, 1)->valuedouble - PIXEL) < 1e-6);
    assert_true(fabs(cJSON_GetArrayItem(sp, 2)->valuedouble - SPACING) < 1e-6);
    double z_first = truth_num(truth, "geometry", "z_first_mm");
    double z_last = truth_num(truth, "geometry", "z_last_mm");
    assert_true(fabs(num(v, "z_max_mm") - z_first) < 1e-6);
    assert_true(fabs(num(v, "z_min_mm") - z_last) < 1e-6);
    assert_true(fabs(num(v, "z_extent_mm") - (SLICES - 1) * SPACING) < 1e-6);
    assert_true(num(v, "tilt_deg") < 1e-6);
    assert_int_equal((int)num(v, "n_files"), SLICES);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(v, "warnings")), 0);
    /* Every step ran and said what it found, even on a phantom too coarse for anatomy. */
    assert_true(cJSON_IsObject(cJSON_GetObjectItem(r, "anatomy")));
    assert_true(cJSON_IsArray(cJSON_GetObjectItem(r, "vertebrae")));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(r, "synthetic")));

    /* HU range: the extremes are air and the brightest voxel, widened by at most ~6 SD of
     * noise over 40 × 64 × 48 voxels. */
    const cJSON *hu = cJSON_GetObjectItem(v, "hu");
    double air = truth_num(truth, "tissues_hu", "air");
    /* at 6 mm pixels no voxel is all cortical bone: the brightest noise-free voxel is */
    double brightest = truth_num(truth, "clean_hu", "max");
    double lo = num(hu, "min"), hi = num(hu, "max");
    if (!(lo <= air && lo >= air - 7 * NOISE)) fail_msg("%s: min %g vs air %g", syntax, lo, air);
    if (!(hi >= brightest - 2 * NOISE && hi <= brightest + 7 * NOISE))
        fail_msg("%s: max %g vs brightest noise-free voxel %g", syntax, hi, brightest);
    /* The corners are air: the 1st percentile is air within noise. */
    assert_true(fabs(num(hu, "p1") - air) < 4 * NOISE);

    cJSON_Delete(r);
    cJSON_Delete(truth);
}

static void test_explicit(void **state) {
    (void)state;
    check_series(OS_TS_EXPLICIT_LE, "explicit");
}

static void test_jpeg_ls(void **state) {
    (void)state;
    check_series(OS_TS_JPEG_LS_LOSSLESS, "jpegls");
}

static void test_cancel(void **state) {
    (void)state;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/cancel", tmpdir);
    write_phantom(dir, OS_TS_EXPLICIT_LE);
    char **paths = phantom_paths(dir);
    volatile int stop = 1;
    os_pipeline_opts opts = {.cancel = &stop};
    cJSON *r = NULL;
    os_error err;
    assert_int_equal(os_pipeline_run_files((const char *const *)paths, SLICES, &opts, &r, &err),
                     -ECANCELED);
    assert_string_equal(err.msg, "cancelled");
    assert_null(r);
    free_paths(paths);
}

static void test_bad_file_named(void **state) {
    (void)state;
    char dir[512], bad[600];
    snprintf(dir, sizeof dir, "%s/bad", tmpdir);
    write_phantom(dir, OS_TS_EXPLICIT_LE);
    snprintf(bad, sizeof bad, "%s/IM0042.dcm", dir);
    FILE *f = fopen(bad, "w");
    assert_non_null(f);
    fputs("not DICOM at all", f);
    fclose(f);
    char **paths = phantom_paths(dir);
    free(paths[0]);
    paths[0] = strdup(bad);
    cJSON *r = NULL;
    os_error err;
    os_error_clear(&err);
    assert_true(os_pipeline_run_files((const char *const *)paths, SLICES, NULL, &r, &err) < 0);
    if (strncmp(err.msg, "IM0042.dcm: ", 12) != 0) fail_msg("error not named: %s", err.msg);
    assert_null(r);
    free_paths(paths);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_explicit),
        cmocka_unit_test(test_jpeg_ls),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_bad_file_named),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
