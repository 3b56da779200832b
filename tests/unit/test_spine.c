/* lib/anatomy, spine half: level names, the result object, an empty scan, the real Siemens
 * CT (partial coverage around T11–T12: only what is seen may be reported) and a phantom
 * with known truth (labels and body centres, when its truth.json lists vertebrae). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "osteoscout/anatomy.h"
#include "osteoscout/dicom.h"
#include "osteoscout/measure.h"
#include "osteoscout/phantom.h"
#include "osteoscout/pipeline.h"
#include "osteoscout/volume.h"
#include "test_tmpdir.h"

static int load_dir(const char *dir, os_volume *vol) {
    os_error err;
    os_error_clear(&err);
    int rc = os_pipeline_load_dir(dir, vol, &err);
    if (rc) print_error("%s\n", err.msg);
    return rc;
}

static void check_consistent(const os_anatomy *a, const os_volume *vol) {
    assert_true(a->n_vertebrae >= 0 && a->n_vertebrae <= OS_MAX_VERTEBRAE);
    size_t n = (size_t)vol->nx * (size_t)vol->ny * (size_t)vol->nz;
    for (size_t p = 0; p < n; p++) {
        assert_true(a->body_mask[p] <= a->n_vertebrae);
        if (a->trab_mask[p]) assert_int_equal(a->trab_mask[p], a->body_mask[p]); /* ROI inside its body */
    }
    for (int i = 0; i < a->n_vertebrae; i++) {
        const os_vertebra *v = &a->vertebrae[i];
        assert_true(v->z_first <= v->z_last && v->z_first >= 0 && v->z_last < vol->nz);
        assert_true(v->volume_ml > 0);
        assert_true(fabs(v->axis_lps[0] * v->axis_lps[0] + v->axis_lps[1] * v->axis_lps[1] +
                         v->axis_lps[2] * v->axis_lps[2] - 1) < 1e-6);
        assert_true(v->axis_lps[2] > 0.7); /* cranial is +S in LPS */
        assert_true(v->ap_lps[1] < -0.7);  /* anterior is −P */
        double dot = v->axis_lps[0] * v->ap_lps[0] + v->axis_lps[1] * v->ap_lps[1] + v->axis_lps[2] * v->ap_lps[2];
        assert_true(fabs(dot) < 1e-6);
        if (i > 0) assert_true(v->center_lps[2] < a->vertebrae[i - 1].center_lps[2]); /* cranial → caudal */
        if (v->level >= 0) assert_int_equal(os_anatomy_vertebra_of(a, v->level), i);
        assert_true(v->confidence >= 0 && v->confidence <= 1);
    }
    assert_true(a->labelling[0] != '\0');
}

static void test_level_names(void **state) {
    (void)state;
    assert_string_equal(os_level_name(OS_T10), "T10");
    assert_string_equal(os_level_name(OS_L3), "L3");
    assert_string_equal(os_level_name(OS_S1), "S1");
    assert_string_equal(os_level_name(-1), "?");
    assert_string_equal(os_level_name(OS_LEVEL_COUNT), "?");
    for (int i = 0; i < OS_LEVEL_COUNT; i++) assert_int_equal(os_level_parse(os_level_name(i)), i);
    assert_int_equal(os_level_parse("l1"), OS_L1);
    assert_int_equal(os_level_parse("C7"), -1);
    assert_int_equal(os_level_parse(NULL), -1);
}

static void test_result_object(void **state) {
    (void)state;
    os_anatomy a;
    memset(&a, 0, sizeof a);
    a.n_vertebrae = 2;
    a.vertebrae[0].level = OS_T12;
    a.vertebrae[1].level = -1;
    assert_int_equal(os_anatomy_vertebra_of(&a, OS_T12), 0);
    assert_int_equal(os_anatomy_vertebra_of(&a, OS_L1), -1);
    assert_int_equal(os_anatomy_vertebra_of(&a, -1), -1);
    for (int i = 0; i < OS_ANATOMY_MAX_WARNINGS + 4; i++) os_anatomy_warn(&a, "warning %d", i);
    os_anatomy_warn(&a, "warning %d", 0);
    assert_int_equal(a.n_warnings, OS_ANATOMY_MAX_WARNINGS);
    assert_string_equal(a.warnings[3], "warning 3");
    os_anatomy_free(&a);
    os_anatomy_free(&a); /* twice is harmless */
}

/* Air and soft tissue only: an honest empty result, not an error. */
static void test_no_spine(void **state) {
    (void)state;
    os_volume vol;
    memset(&vol, 0, sizeof vol);
    vol.nx = vol.ny = 96;
    vol.nz = 12;
    vol.spacing[0] = vol.spacing[1] = 1.0;
    vol.spacing[2] = 3.0;
    vol.row_dir[0] = 1;
    vol.col_dir[1] = 1;
    vol.normal[2] = 1;
    vol.hu = calloc((size_t)vol.nx * vol.ny * vol.nz, sizeof *vol.hu);
    assert_non_null(vol.hu);
    for (int z = 0; z < vol.nz; z++)
        for (int y = 0; y < vol.ny; y++)
            for (int x = 0; x < vol.nx; x++) {
                double r = hypot(x - 48, y - 48);
                vol.hu[x + vol.nx * (y + vol.ny * z)] = (int16_t)(r < 40 ? 40 + (x * 7 + y * 3 + z) % 20 : -1000);
            }
    os_anatomy a;
    os_error err;
    os_error_clear(&err);
    assert_int_equal(os_anatomy_find_spine(&vol, NULL, &a, &err), 0);
    assert_int_equal(a.n_vertebrae, 0);
    assert_true(a.n_warnings > 0);
    assert_true(a.labelling[0] != '\0');
    os_anatomy_free(&a);
    /* a sagittal stack is refused with a sentence */
    vol.normal[2] = 0;
    vol.normal[0] = 1;
    assert_true(os_anatomy_find_spine(&vol, NULL, &a, &err) < 0);
    assert_true(strstr(err.msg, "axial") != NULL);
    free(vol.hu);
}

static void test_real_siemens(void **state) {
    (void)state;
    const char *shared = getenv("OS_SHARED_DIR");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/data/ct-siemens-j2k", shared ? shared : "../shared");
    struct stat st;
    if (stat(dir, &st) != 0) {
        print_message("skipped: %s is absent\n", dir);
        skip();
    }
    os_volume vol;
    assert_int_equal(load_dir(dir, &vol), 0);
    os_anatomy a;
    os_error err;
    os_error_clear(&err);
    assert_int_equal(os_anatomy_find_spine(&vol, NULL, &a, &err), 0);
    check_consistent(&a, &vol);
    assert_true(a.n_vertebrae >= 1);
    for (int i = 0; i < a.n_vertebrae; i++) {
        const os_vertebra *v = &a.vertebrae[i];
        print_message("real CT: vertebra %d %s conf %.2f z %d-%d rib %d cut %d %.1f ml\n", i,
                      os_level_name(v->level), v->confidence, v->z_first, v->z_last, v->has_rib,
                      v->cut_by_fov, v->volume_ml);
        if (v->level >= 0) {
            assert_true(v->level >= OS_T10 && v->level <= OS_L1);
            assert_true(v->level < OS_L2); /* nothing lumbar below L1 may be invented */
        }
        /* 40 mm of scan: any body is cut by it or very nearly so; a cut body says so */
        if (v->z_first == 0 || v->z_last == vol.nz - 1) assert_true(v->cut_by_fov);
    }
    print_message("real CT: %s\n", a.labelling);
    os_anatomy_free(&a);
    os_volume_free(&vol);
}

/* Truth vertebrae as the phantom writes them; NULL when this phantom has none. */
static cJSON *truth_vertebrae(cJSON *truth) {
    cJSON *v = cJSON_GetObjectItem(truth, "vertebrae");
    if (!cJSON_IsArray(v)) {
        cJSON *spine = cJSON_GetObjectItem(truth, "spine");
        v = spine ? cJSON_GetObjectItem(spine, "vertebrae") : NULL;
    }
    return cJSON_IsArray(v) ? v : NULL;
}

static const char *truth_label(const cJSON *t) {
    const cJSON *l = cJSON_GetObjectItem(t, "label");
    if (!cJSON_IsString(l)) l = cJSON_GetObjectItem(t, "level");
    return cJSON_IsString(l) ? l->valuestring : NULL;
}

static int truth_center(const cJSON *t, double c[3]) {
    const cJSON *a = cJSON_GetObjectItem(t, "center_lps_mm");
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != 3) return -1;
    for (int k = 0; k < 3; k++) c[k] = cJSON_GetArrayItem(a, k)->valuedouble;
    return 0;
}

/* check_labels: 0 only reports the label accuracy (5 mm slices: disc finding is not reliable
 * there yet, see lib/anatomy/discs.c). */
/* Writes the phantom series to dir, loads it and finds the spine. */
static void render_and_find(const os_phantom_opts *o, const char *dir, os_volume *vol, os_anatomy *a) {
    os_error err;
    os_error_clear(&err);
    assert_int_equal(os_phantom_write_series(o, dir, &err), 0);
    assert_int_equal(load_dir(dir, vol), 0);
    assert_int_equal(os_anatomy_find_spine(vol, NULL, a, &err), 0);
}

/* The phantom's truth.json in dir, parsed (the caller deletes it). */
static cJSON *read_truth(const char *dir) {
    char path[1200];
    snprintf(path, sizeof path, "%s/truth.json", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char text[4 << 20];
    size_t len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[len] = 0;
    cJSON *truth = cJSON_Parse(text);
    assert_non_null(truth);
    return truth;
}

/* Set by a test: every body not cut by the view must span at least this many mm along z. */
static double min_body_extent_mm;

static void check_phantom(const os_phantom_opts *o, int check_labels) {
    char tmpl[] = "/tmp/os_test_spine_XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    double pixel = o->pixel_mm, spacing = o->slice_spacing_mm, noise = o->noise_sd_hu;
    os_volume vol;
    os_anatomy a;
    render_and_find(o, dir, &vol, &a);
    check_consistent(&a, &vol);

    cJSON *truth = read_truth(dir);
    cJSON *tv = truth_vertebrae(truth);
    if (!tv) {
        print_message("phantom without vertebra truth: %d bodies found, labels not checked\n", a.n_vertebrae);
    } else {
        int labelled = 0;
        for (int i = 0; i < a.n_vertebrae; i++) {
            const os_vertebra *v = &a.vertebrae[i];
            if (v->level < 0 || v->level == OS_S1) continue; /* the phantom's truth ends at L5 */
            /* the truth vertebra nearest to this body must carry the same label */
            double best = 1e9;
            const char *best_label = NULL;
            const cJSON *t;
            cJSON_ArrayForEach(t, tv) {
                double c[3];
                if (truth_center(t, c)) continue;
                double d = sqrt(pow(c[0] - v->center_lps[0], 2) + pow(c[1] - v->center_lps[1], 2) +
                                pow(c[2] - v->center_lps[2], 2));
                if (d < best) {
                    best = d;
                    best_label = truth_label(t);
                }
            }
            print_message("phantom %.1f mm/%.1f mm/%.0f HU: %s centre off by %.1f mm (truth %s)%s\n", pixel,
                          spacing, noise, os_level_name(v->level), best, best_label ? best_label : "-",
                          v->cut_by_fov ? " cut" : "");
            if (!v->cut_by_fov && min_body_extent_mm > 0)
                assert_true((v->z_last - v->z_first + 1) * spacing >= min_body_extent_mm);
            if (check_labels) {
                assert_non_null(best_label);
                assert_string_equal(best_label, os_level_name(v->level));
                if (!v->cut_by_fov) assert_true(best < 8.0);
            }
            labelled++;
        }
        if (check_labels) assert_true(labelled >= 3);
        assert_true(a.n_vertebrae >= 3);
    }
    cJSON_Delete(truth);
    os_anatomy_free(&a);
    os_volume_free(&vol);
    remove_dir(dir);
}

static void set_geometry(os_phantom_opts *o, int z_from, int z_to, double pixel, double spacing, double noise) {
    o->slices = 0;
    o->z_from = z_from;
    o->z_to = z_to;
    o->pixel_mm = pixel;
    o->rows = o->cols = (int)lround(400.0 / pixel);
    o->slice_spacing_mm = o->slice_thickness_mm = spacing;
    o->noise_sd_hu = noise;
}

static void run_phantom(uint64_t seed, int z_from, int z_to, double pixel, double spacing, double noise,
                        int fractured, int check_labels) {
    os_phantom_opts o;
    os_phantom_defaults(&o);
    o.seed = seed;
    set_geometry(&o, z_from, z_to, pixel, spacing, noise);
    if (fractured >= 0) {
        o.deformity[fractured] = OS_PHANTOM_CRUSH;
        o.height_loss[fractured] = 0.45;
        o.trab_hu[fractured] = 70; /* osteoporotic */
    }
    check_phantom(&o, check_labels);
}

/* A phantom drawn as the bench draws one (os_phantom_randomize from the seed), then pinned to
 * the geometry of the bench case being rebuilt. */
static void bench_phantom(os_phantom_opts *o, uint64_t seed, int z_from, int z_to, double pixel, double spacing,
                          double noise, int matrix) {
    os_phantom_defaults(o);
    o->seed = seed;
    os_phantom_randomize(o);
    set_geometry(o, z_from, z_to, pixel, spacing, noise);
    o->rows = o->cols = matrix;
}

/* The bench's draw with its own deformities cleared and one fracture set. */
static void only_fracture(os_phantom_opts *o, int level, int deformity, double loss) {
    for (int l = 0; l < OS_PHANTOM_LEVELS; l++) o->deformity[l] = OS_PHANTOM_INTACT;
    o->deformity[level] = deformity;
    o->height_loss[level] = loss;
}

static void test_phantom_fine(void **state) {
    (void)state;
    run_phantom(7, OS_T11, OS_PHANTOM_S1, 0.8, 2.5, 15, -1, 1);
}

static void test_phantom_coarse_thick_noisy(void **state) {
    (void)state;
    run_phantom(11, OS_T12, OS_PHANTOM_S1, 2.0, 5.0, 30, OS_L1, 1);
}

/* A crushed L5 on thick slices of coarse pixels: its dips are shallow and its pitch short, so
 * the L5/S1 disc has to come from the top of the sacrum (sacral alae), not from the profile. */
static void test_phantom_lumbosacral_fracture(void **state) {
    (void)state;
    run_phantom(23, OS_T12, OS_PHANTOM_S1, 2.7, 4.8, 25, OS_L5, 1);
}

/* Neighbouring fractures at the thoracolumbar junction: the middle of a crushed body dips
 * like a disc, at about a normal disc spacing, while the real discs around the short bodies
 * dip only faintly; taking the dip in the body merges T11 with half of T12 and shifts every
 * label above L1 by one. */
static void test_phantom_junction_fractures(void **state) {
    (void)state;
    os_phantom_opts o;
    bench_phantom(&o, 1003, OS_T11, OS_PHANTOM_S1, 2.85, 2.52, 14.3, 133);
    o.deformity[OS_T11] = OS_PHANTOM_WEDGE;
    o.height_loss[OS_T11] = 0.42;
    o.deformity[OS_T12] = OS_PHANTOM_BICONCAVE;
    o.height_loss[OS_T12] = 0.33;
    o.deformity[OS_L1] = OS_PHANTOM_WEDGE;
    o.height_loss[OS_L1] = 0.34;
    check_phantom(&o, 1);
}

/* A severe biconcave T12 on thick slices: the profile's dips around it are faint and one
 * inside T11 is not, so the pedicles (one run per vertebra) must still give T10, T11 and
 * T12 a body each. */
static void test_phantom_biconcave_thick(void **state) {
    (void)state;
    os_phantom_opts o;
    bench_phantom(&o, 1012, OS_T11, OS_PHANTOM_S1, 2.04, 4.22, 22.7, 186);
    only_fracture(&o, OS_T12, OS_PHANTOM_BICONCAVE, 0.434);
    check_phantom(&o, 1);
}

/* An osteoporotic T11 (95 HU, no brighter than a disc) at the top of 4.9 mm slices, with a
 * sliver of T10 above it: bone on the one top slice beside the canal once counted as T10's
 * pedicles, so a disc was put inside T11 and its upper half was reported as T10 and its
 * lower half graded a severe fracture. */
static void test_phantom_osteoporotic_top(void **state) {
    (void)state;
    os_phantom_opts o;
    bench_phantom(&o, 1005, OS_T11, OS_PHANTOM_S1, 2.749, 4.89, 20.0, 138);
    o.deformity[OS_L4] = OS_PHANTOM_BICONCAVE;
    o.height_loss[OS_L4] = 0.335;
    o.deformity[OS_L1] = OS_PHANTOM_CRUSH;
    o.height_loss[OS_L1] = 0.313;
    min_body_extent_mm = 16;
    check_phantom(&o, 1);
    min_body_extent_mm = 0;
}

/* Osteoporotic T11 and T12 (81-84 HU) on 4.5 mm slices with a portal-phase aorta in front:
 * the inside of T11, ringed by its cortex, is a hole like the canal with "bone" in front,
 * and the canal track once jumped into it; the body was then looked for in front of the
 * wrong hole and T11 came out in pieces, the top one labelled T10. */
static void test_phantom_osteoporotic_canal(void **state) {
    (void)state;
    os_phantom_opts o;
    bench_phantom(&o, 1007, OS_T11, OS_PHANTOM_S1, 1.449, 4.53, 28.0, 262);
    o.deformity[OS_L2] = OS_PHANTOM_CRUSH;
    o.height_loss[OS_L2] = 0.294;
    o.deformity[OS_L3] = OS_PHANTOM_CRUSH;
    o.height_loss[OS_L3] = 0.362;
    check_phantom(&o, 1);
}

/* An osteoporotic T10 (99 HU) whose lower half ends a 2.4 mm series: the inside of the body,
 * ringed by its cortex, offered a hole on the last slices next to the canal, and the canal
 * track took it; the pedicle box then sat on the body's back wall, its "pedicles" asked for a
 * disc inside T11's pedicles, and T11's upper half was reported as T10. */
static void test_phantom_osteoporotic_body_at_top(void **state) {
    (void)state;
    os_phantom_opts o;
    bench_phantom(&o, 1005, OS_T11, OS_PHANTOM_S1, 1.526, 2.40, 21.7, 249);
    only_fracture(&o, OS_L2, OS_PHANTOM_WEDGE, 0.533);
    check_phantom(&o, 1);
}

/* Osteoporotic T11-L1 (76-87 HU) on 3.05 mm slices, the view ending in T10's lower half: past
 * T11's last closed ring the canal was followed by ray counts, which tied across the canal
 * and tipped towards the body each slice. The track drifted 4-7 mm forward, the pedicle box
 * counted the back of T10's lower half as pedicles just below the T10/T11 disc, and the disc
 * chain split T11 there, calling its top 3 mm T10. */
static void test_phantom_canal_end_drifts_forward(void **state) {
    (void)state;
    os_phantom_opts o;
    bench_phantom(&o, 1012, OS_T11, OS_PHANTOM_S1, 1.100, 3.05, 17.3, 345);
    o.deformity[OS_L2] = OS_PHANTOM_CRUSH;
    o.height_loss[OS_L2] = 0.330;
    check_phantom(&o, 1);
}

/* A wedged, osteoporotic T11 (22 %, 88 HU) on 4.6 mm slices of 2.5 mm pixels: one slice through
 * its pedicles held too little bone to count, so they came as two runs, the disc chain put a
 * disc between them, and T11 and T12 were labelled a level high. */
static void test_phantom_pedicles_with_a_weak_slice(void **state) {
    (void)state;
    os_phantom_opts o;
    bench_phantom(&o, 1044, OS_T11, OS_PHANTOM_S1, 2.481, 4.59, 13.1, 153); /* T11 wedged by the draw */
    o.deformity[OS_L1] = OS_PHANTOM_WEDGE;
    o.height_loss[OS_L1] = 0.376;
    check_phantom(&o, 1);
}

/* Heights on 5 mm slices without noise, so what is left is the method's own error: where the
 * endplate profile cannot tell the rim's brightness from its position, the rim's excess came
 * from one vertebra's walls (±20 %) and a free disc level traded its HU for an endplate's
 * position (L1's middle height was 3.7 mm short), and the phantom's 0.5 mm sub-planes gave
 * each endplate 2 or 3 sub-planes of cortex. MAE 0.31 mm with all three fixed; 0.96 mm
 * without the two in lib/measure, 1.06 mm on the old sub-planes. */
/* Renders o, measures it and compares every height with the truth: mean and worst error. */
static void heights_against_truth(const os_phantom_opts *o, double *mae, double *worst, int *n) {
    char tmpl[] = "/tmp/os_test_spine_XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    os_volume vol;
    os_anatomy a;
    render_and_find(o, dir, &vol, &a);
    os_error err;
    os_error_clear(&err);
    static os_measurements m;
    assert_int_equal(os_measure_all(&vol, &a, NULL, &m, &err), 0);
    cJSON *truth = read_truth(dir);
    static const char *const KEYS[3] = {"height_anterior_mm", "height_middle_mm", "height_posterior_mm"};
    double sum = 0;
    *worst = 0, *n = 0;
    for (int i = 0; i < m.n_vertebrae; i++) {
        const os_vertebra_measure *v = &m.vertebrae[i];
        const double h[3] = {v->h_ant, v->h_mid, v->h_post};
        const cJSON *t;
        cJSON_ArrayForEach(t, truth_vertebrae(truth)) {
            if (strcmp(truth_label(t), os_level_name(v->level))) continue;
            for (int k = 0; k < 3; k++) {
                if (isnan(h[k])) continue;
                double e = fabs(h[k] - cJSON_GetObjectItem(t, KEYS[k])->valuedouble);
                if (e > 3) print_message("  %s %s off by %.1f mm\n", os_level_name(v->level), KEYS[k], e);
                sum += e, (*n)++, *worst = fmax(*worst, e);
            }
        }
    }
    *mae = *n ? sum / *n : NAN;
    cJSON_Delete(truth);
    os_anatomy_free(&a);
    os_volume_free(&vol);
    remove_dir(dir);
}

/* A rebuilt bench case: at least min_n heights measured, none off by more than max_worst. */
static void check_heights(const os_phantom_opts *o, int min_n, double max_worst) {
    double mae, worst;
    int n;
    heights_against_truth(o, &mae, &worst, &n);
    print_message("%.2f mm pixels, %.2f mm slices, %.0f HU noise: height MAE %.2f mm, worst %.2f mm over %d heights\n",
                  o->pixel_mm, o->slice_spacing_mm, o->noise_sd_hu, mae, worst, n);
    assert_true(n >= min_n);
    assert_true(worst <= max_worst);
}

static void test_heights_noise_free_5mm(void **state) {
    (void)state;
    os_phantom_opts o;
    os_phantom_defaults(&o);
    o.seed = 1;
    set_geometry(&o, OS_T11, OS_PHANTOM_S1, 0.8, 5.0, 0);
    o.rows = o.cols = 480;
    double mae, worst;
    int n;
    heights_against_truth(&o, &mae, &worst, &n);
    print_message("noise-free 5 mm phantom: height MAE %.2f mm, worst %.2f mm over %d heights\n", mae, worst, n);
    assert_true(n >= 15);
    assert_true(mae <= 0.6);
    assert_true(worst <= 1.5);
}

/* Coarse pixels (2.9 mm) and 4.3 mm slices: at L3's mid-height the basivertebral vein's
 * hole in the midline cortex let the walk from the canal run on through the body, which was
 * then cut 16 mm in front of its back wall on those slices: its posterior height read
 * 16.9 mm for 25.6 (graded a moderate fracture). */
static void test_heights_vein_at_coarse_pixels(void **state) {
    (void)state;
    os_phantom_opts o;
    bench_phantom(&o, 1006, OS_T11, OS_PHANTOM_S1, 2.867, 4.27, 28.8, 133); /* L2 wedged by the draw */
    o.deformity[OS_T12] = OS_PHANTOM_CRUSH;
    o.height_loss[OS_T12] = 0.348;
    check_heights(&o, 18, 4.0);
}

/* Fresh bench seed 8, p019: 0.86 mm pixels, 3.9 mm slices. The L5/S1 disc is thin at the
 * back, the L5 mask ran across it into S1's top, and S1's mask (the sacrum's top, poorly
 * outlined) did not reach L5's posterior line: with no neighbour in the model the fit held
 * L5's bottom beyond S1's endplate and the posterior height read 32.9 mm for 24.6 (a normal
 * L5 graded 2). The lower neighbour is now searched for in the profile itself. */
static void test_heights_sacrum_out_of_the_mask(void **state) {
    (void)state;
    os_phantom_opts o;
    bench_phantom(&o, 1019, OS_T11, OS_PHANTOM_S1, 0.860, 3.90, 24.2, 442);
    check_heights(&o, 18, 2.5);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_level_names),
        cmocka_unit_test(test_result_object),
        cmocka_unit_test(test_no_spine),
        cmocka_unit_test(test_real_siemens),
        cmocka_unit_test(test_phantom_fine),
        cmocka_unit_test(test_phantom_coarse_thick_noisy),
        cmocka_unit_test(test_phantom_lumbosacral_fracture),
        cmocka_unit_test(test_phantom_junction_fractures),
        cmocka_unit_test(test_phantom_biconcave_thick),
        cmocka_unit_test(test_phantom_osteoporotic_top),
        cmocka_unit_test(test_phantom_osteoporotic_canal),
        cmocka_unit_test(test_phantom_osteoporotic_body_at_top),
        cmocka_unit_test(test_phantom_canal_end_drifts_forward),
        cmocka_unit_test(test_phantom_pedicles_with_a_weak_slice),
        cmocka_unit_test(test_heights_noise_free_5mm),
        cmocka_unit_test(test_heights_vein_at_coarse_pixels),
        cmocka_unit_test(test_heights_sacrum_out_of_the_mask),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
