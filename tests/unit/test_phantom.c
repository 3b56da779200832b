/* lib/phantom: a small coarse phantom (128 × 128 at 3 mm, 3 mm slices, T12–L4) read back
 * through lib/dicom: air outside the body, the set trabecular HU at the truth centre of L1,
 * a wedge fracture's truth heights, the keys of truth.json, slice order, and the same pixels
 * from the same seed. */
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
#include "../../lib/phantom/model.h"

#define N 128
#define PIXEL 3.0
#define NOISE 10.0
#define L1 3
#define L2 4

static char tmpdir[256];

static int setup(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/os_test_phantom_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void small_opts(os_phantom_opts *o, uint64_t seed) {
    os_phantom_defaults(o);
    o->seed = seed;
    o->rows = o->cols = N;
    o->pixel_mm = PIXEL;
    o->slice_spacing_mm = o->slice_thickness_mm = 3.0;
    o->noise_sd_hu = NOISE;
    o->z_from = os_phantom_level_parse("T12");
    o->z_to = os_phantom_level_parse("L4");
    o->trab_hu[L1] = 150;
    o->deformity[L2] = OS_PHANTOM_WEDGE;
    o->height_loss[L2] = 0.30;
}

static void write_phantom(const char *name, uint64_t seed, char *dir, size_t len) {
    snprintf(dir, len, "%s/%s", tmpdir, name);
    os_phantom_opts o;
    small_opts(&o, seed);
    os_error err;
    os_error_clear(&err);
    if (os_phantom_write_series(&o, dir, &err) != 0) fail_msg("phantom: %s", err.msg);
}

static cJSON *read_truth(const char *dir) {
    char path[600];
    snprintf(path, sizeof path, "%s/truth.json", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char buf[1 << 20];
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    cJSON *t = cJSON_Parse(buf);
    assert_non_null(t);
    return t;
}

static double num(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItem(o, key);
    if (!cJSON_IsNumber(v)) fail_msg("no number %s", key);
    return v->valuedouble;
}

static void read_slice(const char *dir, int index0, int16_t *hu) {
    char path[600];
    snprintf(path, sizeof path, "%s/IM%04d.dcm", dir, index0 + 1);
    os_error err;
    os_error_clear(&err);
    if (os_dicom_read_frame_hu(path, 0, hu, N, N, &err) != 0) fail_msg("%s: %s", path, err.msg);
}

static const cJSON *vertebra(const cJSON *t, const char *label) {
    const cJSON *v;
    cJSON_ArrayForEach(v, cJSON_GetObjectItem(t, "vertebrae")) {
        if (strcmp(cJSON_GetObjectItem(v, "label")->valuestring, label) == 0) return v;
    }
    fail_msg("no vertebra %s", label);
    return NULL;
}

static void test_series(void **state) {
    (void)state;
    char dir[512];
    write_phantom("a", 11, dir, sizeof dir);
    cJSON *t = read_truth(dir);

    static const char *const keys[] = {
        "synthetic", "generator", "seed", "study_uid", "series_uid", "rows", "cols", "pixel_mm",
        "slice_spacing_mm", "slice_thickness_mm", "n_slices", "noise_sd_hu", "patient_height_m",
        "sex", "habitus", "phase", "aorta_hu", "vertebrae", "muscle", "fat", "ribs_on", "sacrum"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!cJSON_GetObjectItem(t, keys[i])) fail_msg("truth.json lacks %s", keys[i]);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(t, "synthetic")));
    assert_string_equal(cJSON_GetObjectItem(t, "seed")->valuestring, "11");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(t, "vertebrae")), 8);

    /* exactly n_slices files, the first the most superior */
    int n = (int)num(t, "n_slices");
    assert_true(n > 20 && n < 80);
    char path[600];
    snprintf(path, sizeof path, "%s/IM%04d.dcm", dir, n);
    assert_int_equal(access(path, R_OK), 0);
    snprintf(path, sizeof path, "%s/IM%04d.dcm", dir, n + 1);
    assert_int_not_equal(access(path, R_OK), 0);
    os_slice_geom *g1, *g2;
    size_t k;
    os_error err;
    snprintf(path, sizeof path, "%s/IM0001.dcm", dir);
    assert_int_equal(os_dicom_read_geometry(path, &g1, &k, &err), 0);
    snprintf(path, sizeof path, "%s/IM0002.dcm", dir);
    assert_int_equal(os_dicom_read_geometry(path, &g2, &k, &err), 0);
    assert_true(fabs(g1->position[2] - g2->position[2] - 3.0) < 1e-6);
    assert_true(fabs(g1->pixel_spacing[0] - PIXEL) < 1e-9);
    free(g1);
    free(g2);

    /* the scan covers T12 … L4 and not T10 */
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(vertebra(t, "T12"), "in_scan")));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(vertebra(t, "L4"), "in_scan")));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(vertebra(t, "T10"), "in_scan")));

    /* air in the corners of every slice we read */
    int16_t *hu = malloc(N * N * sizeof *hu);
    read_slice(dir, 0, hu);
    assert_true(abs(hu[0] + 1000) < 6 * NOISE);
    assert_true(abs(hu[N * N - 1] + 1000) < 6 * NOISE);

    /* L1's trabecular HU at its truth centre, mean of 3 × 3 voxels within noise */
    const cJSON *l1 = vertebra(t, "L1");
    const cJSON *c = cJSON_GetObjectItem(l1, "center_lps_mm");
    const cJSON *first = cJSON_GetObjectItem(cJSON_GetObjectItem(t, "geometry"), "first_position_mm");
    double x0 = cJSON_GetArrayItem(first, 0)->valuedouble, y0 = cJSON_GetArrayItem(first, 1)->valuedouble;
    double z0 = cJSON_GetArrayItem(first, 2)->valuedouble;
    int slice = (int)lround((z0 - cJSON_GetArrayItem(c, 2)->valuedouble) / 3.0);
    int col = (int)lround((cJSON_GetArrayItem(c, 0)->valuedouble - x0) / PIXEL);
    int row = (int)lround((cJSON_GetArrayItem(c, 1)->valuedouble - y0) / PIXEL);
    assert_true(num(l1, "trabecular_hu") == 150);
    read_slice(dir, slice, hu);
    double sum = 0;
    for (int dy = -1; dy <= 1; dy++)
        for (int dx = -1; dx <= 1; dx++) sum += hu[(row + dy) * N + col + dx];
    if (fabs(sum / 9 - 150) > 5 * NOISE / 3) fail_msg("L1 centre %.1f HU, set 150", sum / 9);

    /* wedge L2: anterior = posterior × (1 − loss), grade 2 */
    const cJSON *l2 = vertebra(t, "L2");
    assert_string_equal(cJSON_GetObjectItem(l2, "deformity")->valuestring, "wedge");
    double ha = num(l2, "height_anterior_mm"), hp = num(l2, "height_posterior_mm");
    assert_true(fabs(ha / hp - 0.70) < 1e-9);
    assert_true(num(l2, "height_middle_mm") < hp && num(l2, "height_middle_mm") > ha);
    assert_int_equal((int)num(l2, "genant_grade"), 2);
    const cJSON *l3 = vertebra(t, "L3");
    assert_int_equal((int)num(l3, "genant_grade"), 0);
    assert_true(fabs(num(l3, "height_anterior_mm") - num(l3, "height_posterior_mm")) < 1e-9);

    /* muscle and fat at mid-L3 and mid-L1 */
    const cJSON *m3 = cJSON_GetObjectItem(cJSON_GetObjectItem(t, "muscle"), "L3");
    assert_non_null(m3);
    assert_true(num(m3, "area_cm2") > 50 && num(m3, "area_cm2") < 400);
    assert_true(num(m3, "mean_hu") > 20 && num(m3, "mean_hu") < 70);
    const cJSON *ps = cJSON_GetObjectItem(cJSON_GetObjectItem(m3, "groups"), "psoas");
    assert_true(num(ps, "area_cm2") > 5);
    assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(t, "muscle"), "L1"));
    const cJSON *f3 = cJSON_GetObjectItem(cJSON_GetObjectItem(t, "fat"), "L3");
    assert_true(num(f3, "sat_cm2") > 20 && num(f3, "vat_cm2") > 10);
    free(hu);
    cJSON_Delete(t);
}

static void test_deterministic(void **state) {
    (void)state;
    char a[512], b[512], c[512];
    write_phantom("d1", 42, a, sizeof a);
    write_phantom("d2", 42, b, sizeof b);
    write_phantom("d3", 43, c, sizeof c);
    int16_t *ha = malloc(N * N * sizeof *ha), *hb = malloc(N * N * sizeof *hb);
    for (int s = 0; s < 30; s += 7) {
        read_slice(a, s, ha);
        read_slice(b, s, hb);
        assert_memory_equal(ha, hb, N * N * sizeof *ha);
    }
    read_slice(c, 14, hb);
    read_slice(a, 14, ha);
    assert_memory_not_equal(ha, hb, N * N * sizeof *ha);
    free(ha);
    free(hb);
}

static void test_names_and_grades(void **state) {
    (void)state;
    assert_int_equal(os_phantom_level_parse("T10"), 0);
    assert_int_equal(os_phantom_level_parse("L5"), 7);
    assert_int_equal(os_phantom_level_parse("S1"), OS_PHANTOM_S1);
    assert_int_equal(os_phantom_level_parse("C7"), -1);
    assert_string_equal(os_phantom_level_name(5), "L3");
    assert_int_equal(os_phantom_deformity_parse("biconcave"), OS_PHANTOM_BICONCAVE);
    assert_int_equal(os_phantom_genant_grade(0.19), 0);
    assert_int_equal(os_phantom_genant_grade(0.22), 1);
    assert_int_equal(os_phantom_genant_grade(0.30), 2);
    assert_int_equal(os_phantom_genant_grade(0.45), 3);
    /* --random: the same seed draws the same patient */
    os_phantom_opts a, b;
    os_phantom_defaults(&a);
    os_phantom_defaults(&b);
    a.seed = b.seed = 99;
    os_phantom_randomize(&a);
    os_phantom_randomize(&b);
    assert_memory_equal(&a, &b, sizeof a);
    assert_true(a.noise_sd_hu >= 10 && a.noise_sd_hu <= 30);
    for (int l = 0; l < OS_PHANTOM_LEVELS; l++)
        assert_true(a.trab_hu[l] >= 60 && a.trab_hu[l] <= 260);
    /* default range T10 … S1 at 2 mm */
    os_phantom_defaults(&a);
    os_error err;
    int n = os_phantom_slice_count(&a, &err);
    assert_true(n > 100 && n < 200);
    a.slices = 37;
    assert_int_equal(os_phantom_slice_count(&a, &err), 37);
}

/* Disc thickness between vertebra i (above) and i + 1 at AP fraction u, along the lower
 * body's axis. */
static double disc_gap(const ph_model *m, int i, double u) {
    const ph_vertebra *up = &m->v[i], *lo = &m->v[i + 1];
    double d = 0;
    for (int k = 0; k < 3; k++) {
        double pu = up->o[k] + (u - 0.5) * up->D * up->ap[k] + ph_endplate_inf(up, u) * up->ax[k];
        double pl = lo->o[k] + (u - 0.5) * lo->D * lo->ap[k] + ph_endplate_sup(lo, u) * lo->ax[k];
        d += (pu - pl) * lo->ax[k];
    }
    return d;
}

/* A biconcave fracture caves the endplates in and keeps the rim: the discs keep their
 * thickness at the rim, and the neighbours do not move into the body (stacked at the
 * caved-in middle, the rim of a 60 % one closed the disc above it and ran into T11). */
static void test_biconcave_keeps_discs(void **state) {
    (void)state;
    ph_model intact, frac;
    memset(&intact, 0, sizeof intact);
    intact.bone_scale = 1;
    frac = intact;
    int t12 = os_phantom_level_parse("T12");
    frac.o.deformity[t12] = OS_PHANTOM_BICONCAVE;
    frac.o.height_loss[t12] = 0.6;
    ph_spine_layout(&intact);
    ph_spine_layout(&frac);
    int i = PH_V_T10 + t12;
    for (int side = 0; side < 2; side++) { /* T11/T12 above, T12/L1 below */
        int up = i - 1 + side;
        for (double u = 0.1; u <= 0.9; u += 0.4)
            assert_true(fabs(disc_gap(&frac, up, u) - disc_gap(&intact, up, u)) < 0.3 || u == 0.5);
        assert_true(disc_gap(&frac, up, 0.5) > disc_gap(&intact, up, 0.5) + 3);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_series),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_names_and_grades),
        cmocka_unit_test(test_biconcave_keeps_discs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
