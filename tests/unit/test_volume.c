/* lib/volume: slice ordering, the geometry checks and their sentences, voxel → patient
 * coordinates, and exact HU statistics. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "osteoscout/volume.h"

#define N_MAX 64

static void axial(os_slice_geom *g, double z) {
    memset(g, 0, sizeof *g);
    const double o[6] = {1, 0, 0, 0, 1, 0};
    memcpy(g->orientation, o, sizeof o);
    g->position[0] = -100;
    g->position[1] = -120;
    g->position[2] = z;
    g->pixel_spacing[0] = 0.8; /* between rows: along y */
    g->pixel_spacing[1] = 0.7; /* between columns: along x */
    g->thickness = 2.0;
    g->rows = 40;
    g->cols = 32;
    g->rescale_slope = 1;
}

/* n slices from z0 upwards at 2 mm, in a fixed shuffled order. */
static size_t stack(os_slice_geom *g, size_t n, double z0) {
    for (size_t i = 0; i < n; i++) axial(&g[(i * 7 + 3) % n], z0 + 2.0 * (double)i);
    return n;
}

static int has_warning(const os_volume_plan *p, const char *needle) {
    for (int i = 0; i < p->n_warnings; i++)
        if (strstr(p->warnings[i], needle)) return 1;
    return 0;
}

static void test_sorts_shuffled(void **state) {
    (void)state;
    os_slice_geom g[N_MAX];
    size_t n = stack(g, 20, 100.0); /* 20 coprime with 7: a permutation */
    os_volume_plan p;
    os_error err;
    os_error_clear(&err);
    assert_int_equal(os_volume_plan_make(g, n, &p, &err), 0);
    assert_int_equal(p.n_order, 20);
    assert_int_equal(p.nx, 32);
    assert_int_equal(p.ny, 40);
    assert_int_equal(p.nz, 20);
    for (size_t i = 0; i < p.n_order; i++)
        assert_true(fabs(g[p.order[i]].position[2] - (100.0 + 2.0 * (double)i)) < 1e-9);
    assert_true(fabs(p.spacing[0] - 0.7) < 1e-12);
    assert_true(fabs(p.spacing[1] - 0.8) < 1e-12);
    assert_true(fabs(p.spacing[2] - 2.0) < 1e-9);
    assert_true(fabs(p.origin[2] - 100.0) < 1e-9);
    assert_true(fabs(p.normal[2] - 1.0) < 1e-12);
    assert_true(fabs(p.z_min - 100.0) < 1e-9 && fabs(p.z_max - 138.0) < 1e-9);
    assert_true(p.tilt_deg < 1e-6);
    assert_int_equal(p.n_warnings, 0);
    os_volume_plan_free(&p);
}

static void test_duplicates_warn_and_keep_first(void **state) {
    (void)state;
    os_slice_geom g[N_MAX];
    size_t n = stack(g, 10, 0.0);
    axial(&g[n], 4.0); /* a re-send of z=4 */
    g[n].rescale_slope = 2; /* mark it */
    n++;
    os_volume_plan p;
    os_error err;
    assert_int_equal(os_volume_plan_make(g, n, &p, &err), 0);
    assert_int_equal(p.n_order, 10);
    assert_true(has_warning(&p, "1 duplicate slice position (first at z=4.0 mm)"));
    for (size_t i = 0; i < p.n_order; i++) assert_true(g[p.order[i]].rescale_slope == 1);
    os_volume_plan_free(&p);
}

static void test_gap_warns(void **state) {
    (void)state;
    os_slice_geom g[N_MAX];
    size_t n = 0;
    for (int i = 0; i < 10; i++) axial(&g[n++], 90.0 + 2.0 * i); /* 90 … 108 */
    /* Remove z=104 and z=106: a 6 mm gap between 102 and 108. */
    g[7] = g[9];
    n -= 2;
    os_volume_plan p;
    os_error err;
    assert_int_equal(os_volume_plan_make(g, n, &p, &err), 0);
    assert_true(has_warning(&p, "gap of 6.0 mm between slices at z=102.0 and z=108.0 mm "
                                "(median spacing 2.0 mm)"));
    assert_false(has_warning(&p, "inconsistent"));
    os_volume_plan_free(&p);
}

static void test_inconsistent_spacing_warns(void **state) {
    (void)state;
    os_slice_geom g[N_MAX];
    double z = 0;
    for (int i = 0; i < 10; i++) {
        axial(&g[i], z);
        z += (i % 2) ? 2.0 : 2.5;
    }
    os_volume_plan p;
    os_error err;
    assert_int_equal(os_volume_plan_make(g, 10, &p, &err), 0);
    assert_true(has_warning(&p, "inconsistent slice spacing: 2.00 to 2.50 mm"));
    os_volume_plan_free(&p);
}

static void test_tilt_warns(void **state) {
    (void)state;
    os_slice_geom g[N_MAX];
    size_t n = stack(g, 20, 0.0);
    /* A 12° gantry tilt shifts each slice along y by spacing·tan(12°). */
    for (size_t i = 0; i < n; i++) g[i].position[1] += g[i].position[2] * tan(12.0 * M_PI / 180.0);
    os_volume_plan p;
    os_error err;
    assert_int_equal(os_volume_plan_make(g, n, &p, &err), 0);
    assert_true(fabs(p.tilt_deg - 12.0) < 1e-6);
    assert_true(has_warning(&p, "gantry tilt of 12.0° (slices displaced off the normal)"));
    os_volume_plan_free(&p);
}

static void test_thickness_warns(void **state) {
    (void)state;
    os_slice_geom g[N_MAX];
    size_t n = stack(g, 10, 0.0);
    for (size_t i = 0; i < n; i++) g[i].thickness = 5.0;
    os_volume_plan p;
    os_error err;
    assert_int_equal(os_volume_plan_make(g, n, &p, &err), 0);
    assert_true(has_warning(&p, "slice thickness 5.00 mm differs from slice spacing 2.00 mm"));
    os_volume_plan_free(&p);
}

static void test_mixed_size_is_error(void **state) {
    (void)state;
    os_slice_geom g[N_MAX];
    size_t n = stack(g, 10, 0.0);
    g[5].rows = 64;
    g[5].cols = 64;
    os_volume_plan p;
    os_error err;
    os_error_clear(&err);
    assert_true(os_volume_plan_make(g, n, &p, &err) < 0);
    assert_string_equal(err.msg, "mixed matrix sizes: 32×40 and 64×64 in one series");
    assert_null(p.order);
}

static void test_mixed_orientation_is_error(void **state) {
    (void)state;
    os_slice_geom g[N_MAX];
    size_t n = stack(g, 10, 0.0);
    const double coronal[6] = {1, 0, 0, 0, 0, -1};
    memcpy(g[3].orientation, coronal, sizeof coronal);
    os_volume_plan p;
    os_error err;
    assert_true(os_volume_plan_make(g, n, &p, &err) < 0);
    assert_non_null(strstr(err.msg, "mixed orientations: 1\\0\\0\\0\\1\\0 and 1\\0\\0\\0\\0\\-1"));
}

static void test_mixed_spacing_is_error(void **state) {
    (void)state;
    os_slice_geom g[N_MAX];
    size_t n = stack(g, 10, 0.0);
    g[2].pixel_spacing[0] = 0.9;
    os_volume_plan p;
    os_error err;
    assert_true(os_volume_plan_make(g, n, &p, &err) < 0);
    assert_non_null(strstr(err.msg, "mixed pixel spacing"));
}

static void test_too_few_positions_is_error(void **state) {
    (void)state;
    os_slice_geom g[3];
    os_volume_plan p;
    os_error err;
    assert_true(os_volume_plan_make(NULL, 0, &p, &err) < 0);
    assert_string_equal(err.msg, "no slices to make a volume from");
    axial(&g[0], 5);
    axial(&g[1], 5);
    assert_true(os_volume_plan_make(g, 2, &p, &err) < 0);
    assert_string_equal(err.msg, "fewer than 2 distinct slice positions (2 slices, all at z=5.0 mm)");
}

static void test_sagittal_normal(void **state) {
    (void)state;
    /* Sagittal: rows along y (posterior), columns along -z (feet); normal = +x... sorted by x. */
    os_slice_geom g[N_MAX];
    const double sag[6] = {0, 1, 0, 0, 0, -1};
    for (int i = 0; i < 10; i++) {
        axial(&g[i], 0);
        memcpy(g[i].orientation, sag, sizeof sag);
        g[i].position[0] = 30.0 - 3.0 * i; /* given in descending x */
    }
    os_volume_plan p;
    os_error err;
    assert_int_equal(os_volume_plan_make(g, 10, &p, &err), 0);
    assert_true(fabs(p.normal[0] + 1.0) < 1e-12); /* (0,1,0)×(0,0,-1) = (-1,0,0) */
    assert_true(fabs(g[p.order[0]].position[0] - 30.0) < 1e-9);
    assert_true(fabs(p.spacing[2] - 3.0) < 1e-9);
    os_volume_plan_free(&p);
}

static void test_voxel_to_lps(void **state) {
    (void)state;
    os_slice_geom g[N_MAX];
    size_t n = stack(g, 5, 10.0);
    os_volume_plan p;
    os_volume v;
    os_error err;
    assert_int_equal(os_volume_plan_make(g, n, &p, &err), 0);
    assert_int_equal(os_volume_alloc(&p, &v, &err), 0);
    assert_int_equal(v.nx * v.ny * v.nz, 32 * 40 * 5);
    double out[3];
    os_volume_voxel_to_lps(&v, 0, 0, 0, out);
    assert_true(fabs(out[0] + 100) < 1e-9 && fabs(out[1] + 120) < 1e-9 && fabs(out[2] - 10) < 1e-9);
    os_volume_voxel_to_lps(&v, 10, 5, 2, out);
    assert_true(fabs(out[0] - (-100 + 10 * 0.7)) < 1e-9);
    assert_true(fabs(out[1] - (-120 + 5 * 0.8)) < 1e-9);
    assert_true(fabs(out[2] - 14.0) < 1e-9);
    /* Slices are contiguous, x fastest. */
    assert_ptr_equal(os_volume_slice(&v, 2), v.hu + 2 * 32 * 40);
    os_volume_free(&v);
    os_volume_plan_free(&p);
}

static void test_stats_exact(void **state) {
    (void)state;
    /* 1000 voxels valued -500 … 499: every percentile is known exactly. */
    int16_t data[1000];
    for (int i = 0; i < 1000; i++) data[(i * 37) % 1000] = (int16_t)(i - 500);
    os_volume v;
    memset(&v, 0, sizeof v);
    v.nx = 10;
    v.ny = 10;
    v.nz = 10;
    v.hu = data;
    os_volume_stats s;
    os_error err;
    assert_int_equal(os_volume_stats_compute(&v, &s, &err), 0);
    assert_int_equal(s.min, -500);
    assert_int_equal(s.max, 499);
    assert_true(fabs(s.mean - (-0.5)) < 1e-12);
    assert_int_equal(s.p1, -491);  /* 10th smallest */
    assert_int_equal(s.p5, -451);  /* 50th */
    assert_int_equal(s.p50, -1);   /* 500th */
    assert_int_equal(s.p95, 449);  /* 950th */
    assert_int_equal(s.p99, 489);  /* 990th */

    /* Extremes of int16 land in the first and last bins. */
    data[0] = INT16_MIN;
    data[1] = INT16_MAX;
    assert_int_equal(os_volume_stats_compute(&v, &s, &err), 0);
    assert_int_equal(s.min, INT16_MIN);
    assert_int_equal(s.max, INT16_MAX);

    v.hu = NULL;
    assert_true(os_volume_stats_compute(&v, &s, &err) < 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sorts_shuffled),
        cmocka_unit_test(test_duplicates_warn_and_keep_first),
        cmocka_unit_test(test_gap_warns),
        cmocka_unit_test(test_inconsistent_spacing_warns),
        cmocka_unit_test(test_tilt_warns),
        cmocka_unit_test(test_thickness_warns),
        cmocka_unit_test(test_mixed_size_is_error),
        cmocka_unit_test(test_mixed_orientation_is_error),
        cmocka_unit_test(test_mixed_spacing_is_error),
        cmocka_unit_test(test_too_few_positions_is_error),
        cmocka_unit_test(test_sagittal_normal),
        cmocka_unit_test(test_voxel_to_lps),
        cmocka_unit_test(test_stats_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
