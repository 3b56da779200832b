/* lib/anatomy, muscle-and-fat half: a drawn volume whose every pixel's tissue is known (with a
 * CT table and both arms in the field, and a muscle-dense organ that is not muscle), the
 * realistic phantom against its truth.json at L3 and L1, and the real Siemens CT (upper
 * abdomen: muscle found, none of it on the liver). The spine half is not under test here: the
 * drawn volume carries a hand-made anatomy, and the phantom's vertebrae are relabelled from
 * its truth. */
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

static void areas(const os_volume *vol, const os_level_slice *s, double cm2[OS_TISSUE_COUNT],
                  double *muscle_cm2, double *muscle_hu) {
    double px = vol->spacing[0] * vol->spacing[1] / 100.0, hu = 0;
    long nm = 0;
    const int16_t *h = vol->hu + (size_t)vol->nx * vol->ny * s->z;
    for (int k = 0; k < OS_TISSUE_COUNT; k++) cm2[k] = 0;
    for (size_t p = 0; p < (size_t)vol->nx * vol->ny; p++) {
        cm2[s->tissue[p]] += px;
        if (s->tissue[p] >= 1 && s->tissue[p] <= OS_MUSCLE_GROUPS) nm++, hu += h[p];
    }
    *muscle_cm2 = nm * px;
    *muscle_hu = nm ? hu / nm : 0;
}

/* ---- a drawn volume: 2 mm pixels, 3 mm slices, every pixel's tissue known ---- */

enum { D_AIR, D_SKIN, D_SAT, D_WALL, D_VAT, D_ORGAN, D_BONE, D_BODY, D_PSOAS, D_ERECTOR, D_TABLE, D_ARM };

static int in_ell(double x, double y, double cx, double cy, double rx, double ry) {
    double dx = (x - cx) / rx, dy = (y - cy) / ry;
    return dx * dx + dy * dy <= 1;
}

/* Tissue at (x, y) mm; the trunk is centred at (200, 190), posterior is +y. */
static int drawn_label(double x, double y) {
    const double cx = 200, cy = 190, vy = cy + 20;
    if (y >= 300 && y <= 310 && x >= 60 && x <= 340) return D_TABLE;
    if (in_ell(x, y, 30, cy, 38, 38) || in_ell(x, y, 370, cy, 38, 38)) return D_ARM;
    if (!in_ell(x, y, cx, cy, 125, 90)) return D_AIR;
    if (!in_ell(x, y, cx, cy, 123, 88)) return D_SKIN;
    if (in_ell(x, y, cx, vy, 16, 16)) return D_BODY;
    if (in_ell(x, y, cx, vy + 25, 13, 13) && !in_ell(x, y, cx, vy + 25, 8, 8)) return D_BONE;
    if (x > cx - 3 && x < cx + 3 && y > vy + 36 && y < vy + 52) return D_BONE;
    if (in_ell(x, y, cx - 31, vy, 13, 13) || in_ell(x, y, cx + 31, vy, 13, 13)) return D_PSOAS;
    if (in_ell(x, y, cx - 24, vy + 40, 18, 12) || in_ell(x, y, cx + 24, vy + 40, 18, 12)) return D_ERECTOR;
    if (!in_ell(x, y, cx, cy, 100, 70)) return D_SAT;
    if (!in_ell(x, y, cx, cy, 90, 60) && y < cy + 15) return D_WALL;
    if (in_ell(x, y, cx - 35, cy - 25, 22, 22)) return D_ORGAN;
    return D_VAT;
}

static const int drawn_hu[] = {-1000, 40, -100, 45, -90, 60, 600, 250, 50, 45, 300, 30};

typedef struct drawn {
    os_volume vol;
    os_anatomy a;
    double truth_cm2[D_ARM + 1];
} drawn;

static void draw(drawn *d) {
    memset(d, 0, sizeof *d);
    os_volume *v = &d->vol;
    v->nx = v->ny = 200;
    v->nz = 3;
    v->spacing[0] = v->spacing[1] = 2;
    v->spacing[2] = 3;
    v->row_dir[0] = v->col_dir[1] = v->normal[2] = 1;
    size_t plane = (size_t)v->nx * v->ny;
    v->hu = malloc(plane * v->nz * sizeof *v->hu);
    os_anatomy *a = &d->a;
    a->nx = v->nx, a->ny = v->ny, a->nz = v->nz;
    a->body_mask = calloc(plane * v->nz, 1);
    assert_non_null(v->hu);
    assert_non_null(a->body_mask);
    uint32_t rng = 12345;
    for (int z = 0; z < v->nz; z++)
        for (int y = 0; y < v->ny; y++)
            for (int x = 0; x < v->nx; x++) {
                int l = drawn_label(x * 2.0 + 1, y * 2.0 + 1);
                size_t p = (size_t)x + v->nx * ((size_t)y + v->ny * (size_t)z);
                rng = rng * 1664525u + 1013904223u;
                int noise = (int)((rng >> 16) % 21) - 10; /* uniform ±10 HU */
                v->hu[p] = (int16_t)(drawn_hu[l] + (l == D_AIR ? 0 : noise));
                if (l == D_BODY) a->body_mask[p] = 1;
                if (z == 1) d->truth_cm2[l] += 0.04;
            }
    a->n_vertebrae = 1;
    os_vertebra *vt = &a->vertebrae[0];
    vt->level = OS_L3;
    vt->center_vox[0] = 99.5;
    vt->center_vox[1] = 104.5;
    vt->center_vox[2] = 1;
    vt->ap_lps[1] = -1;
    vt->axis_lps[2] = 1;
    vt->z_first = 0;
    vt->z_last = 2;
    a->t12_by_ribs = a->l5_by_sacrum = -1;
}

static void near(double got, double want, double rel, const char *what) {
    print_message("  %-10s %7.2f cm2, drawn %7.2f\n", what, got, want);
    assert_true(fabs(got - want) <= rel * want);
}

static void test_drawn(void **state) {
    (void)state;
    static drawn d;
    draw(&d);
    os_error err;
    os_error_clear(&err);
    assert_int_equal(os_anatomy_find_muscles(&d.vol, NULL, &d.a, &err), 0);
    const os_level_slice *s = &d.a.slices[OS_L3];
    assert_true(s->present);
    assert_int_equal(s->z, 1);
    assert_non_null(s->tissue);
    assert_non_null(s->body);
    for (int l = 0; l < OS_LEVEL_COUNT; l++)
        if (l != OS_L3) assert_false(d.a.slices[l].present);
    double cm2[OS_TISSUE_COUNT], mus, hu;
    areas(&d.vol, s, cm2, &mus, &hu);
    near(cm2[OS_TISSUE_PSOAS], d.truth_cm2[D_PSOAS], 0.10, "psoas");
    near(cm2[OS_TISSUE_ERECTOR], d.truth_cm2[D_ERECTOR], 0.10, "erector");
    near(cm2[OS_TISSUE_WALL], d.truth_cm2[D_WALL], 0.10, "wall");
    /* subcutaneous against visceral fat where the wall separates them (in front of the spine;
     * behind it the drawing has no wall, only fat beside the erectors) */
    long sat_n = 0, sat_ok = 0, vat_n = 0, vat_ok = 0;
    for (int y = 0; y < d.vol.ny; y++)
        for (int x = 0; x < d.vol.nx; x++) {
            if (y * 2.0 + 1 > 190) continue;
            int l = drawn_label(x * 2.0 + 1, y * 2.0 + 1), t = s->tissue[(size_t)y * d.vol.nx + x];
            if (l == D_SAT) sat_n++, sat_ok += t == OS_TISSUE_SAT;
            if (l == D_VAT) vat_n++, vat_ok += t == OS_TISSUE_VAT;
        }
    print_message("  SAT %.1f %% and VAT %.1f %% of the drawn pixels found as such\n",
                  100.0 * sat_ok / sat_n, 100.0 * vat_ok / vat_n);
    assert_true(sat_ok >= 0.95 * sat_n);
    assert_true(vat_ok >= 0.95 * vat_n);
    /* table, arms and the muscle-dense organ are nothing; skin is not muscle */
    for (int y = 0; y < d.vol.ny; y++)
        for (int x = 0; x < d.vol.nx; x++) {
            int l = drawn_label(x * 2.0 + 1, y * 2.0 + 1);
            size_t p = (size_t)y * d.vol.nx + x;
            if (l == D_TABLE || l == D_ARM || l == D_AIR) {
                assert_int_equal(s->body[p], 0);
                assert_int_equal(s->tissue[p], OS_TISSUE_NONE);
            }
            if (l == D_ORGAN || l == D_SKIN) assert_true(s->tissue[p] == OS_TISSUE_NONE || s->tissue[p] > OS_MUSCLE_GROUPS);
        }
    /* the 3D mask: psoas and erector on every slice of the vertebra, nothing else */
    assert_non_null(d.a.muscle_mask);
    for (int z = 0; z < d.vol.nz; z++) {
        long n[3] = {0};
        for (size_t p = 0; p < (size_t)d.vol.nx * d.vol.ny; p++) {
            size_t q = (size_t)z * d.vol.nx * d.vol.ny + p;
            int m = d.a.muscle_mask[q];
            assert_true(m == 0 || m == OS_TISSUE_PSOAS || m == OS_TISSUE_ERECTOR);
            /* the mask is anatomical (fat inside it too): compare its muscle */
            if (d.vol.hu[q] >= OS_MUSCLE_HU_MIN && d.vol.hu[q] <= OS_MUSCLE_HU_MAX) n[m]++;
        }
        print_message("  3D mask z=%d: psoas %.2f erector %.2f cm2\n", z, n[1] * 0.04, n[2] * 0.04);
        assert_true(fabs(n[1] * 0.04 - d.truth_cm2[D_PSOAS]) < 0.15 * d.truth_cm2[D_PSOAS]);
        assert_true(fabs(n[2] * 0.04 - d.truth_cm2[D_ERECTOR]) < 0.15 * d.truth_cm2[D_ERECTOR]);
    }
    os_anatomy_free(&d.a);
    os_volume_free(&d.vol);
}

static void test_no_spine(void **state) {
    (void)state;
    static drawn d;
    draw(&d);
    d.a.n_vertebrae = 0;
    os_error err;
    os_error_clear(&err);
    assert_int_equal(os_anatomy_find_muscles(&d.vol, NULL, &d.a, &err), 0);
    assert_true(d.a.n_warnings >= 1);
    for (int l = 0; l < OS_LEVEL_COUNT; l++) assert_false(d.a.slices[l].present);
    d.a.nx = 7; /* an anatomy of another volume is refused */
    assert_true(os_anatomy_find_muscles(&d.vol, NULL, &d.a, &err) < 0);
    os_anatomy_free(&d.a);
    os_volume_free(&d.vol);
}

/* ---- the realistic phantom ---- */

static cJSON *read_json(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    b[n] = 0;
    fclose(f);
    cJSON *j = cJSON_Parse(b);
    free(b);
    return j;
}

static double num(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItem(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* tol: allowed relative error of the total muscle area (the goal is 3 %; see the callers). */
static void check_phantom(const os_phantom_opts *o, double tol) {
    char tmpl[] = "/tmp/os_test_muscle_XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    double pixel = o->pixel_mm, spacing = o->slice_spacing_mm, noise = o->noise_sd_hu;
    int habitus = o->habitus;
    os_error err;
    os_error_clear(&err);
    assert_int_equal(os_phantom_write_series(o, dir, &err), 0);
    os_volume vol;
    assert_int_equal(load_dir(dir, &vol), 0);
    char path[1200];
    snprintf(path, sizeof path, "%s/truth.json", dir);
    cJSON *truth = read_json(path);
    assert_non_null(truth);

    os_anatomy a;
    assert_int_equal(os_anatomy_find_spine(&vol, NULL, &a, &err), 0);
    /* levels from the truth, so that only the muscle half is under test */
    const cJSON *tv = cJSON_GetObjectItem(truth, "vertebrae"), *t;
    for (int i = 0; i < a.n_vertebrae; i++) {
        double best = 15;
        a.vertebrae[i].level = -1;
        cJSON_ArrayForEach(t, tv) {
            double zc = cJSON_GetArrayItem(cJSON_GetObjectItem(t, "center_lps_mm"), 2)->valuedouble;
            if (fabs(zc - a.vertebrae[i].center_lps[2]) < best) {
                best = fabs(zc - a.vertebrae[i].center_lps[2]);
                a.vertebrae[i].level = os_level_parse(cJSON_GetObjectItem(t, "label")->valuestring);
            }
        }
    }
    assert_int_equal(os_anatomy_find_muscles(&vol, NULL, &a, &err), 0);
    static const char *const groups[] = {"", "psoas", "erector_spinae", "quadratus_lumborum", "abdominal_wall"};
    static const int levels[] = {OS_L3, OS_L1};
    for (int li = 0; li < 2; li++) {
        int l = levels[li];
        const cJSON *m = cJSON_GetObjectItem(cJSON_GetObjectItem(truth, "muscle"), os_level_name(l));
        const cJSON *f = cJSON_GetObjectItem(cJSON_GetObjectItem(truth, "fat"), os_level_name(l));
        if (!m || !f) continue;
        const os_level_slice *s = &a.slices[l];
        assert_true(s->present);
        /* the spine half's body centre may round to the next slice from the truth's */
        assert_true(fabs(s->z_mm - num(m, "slice_z_mm")) <= 1.01 * spacing);
        double cm2[OS_TISSUE_COUNT], mus, hu;
        areas(&vol, s, cm2, &mus, &hu);
        double ta = num(m, "area_cm2"), th = num(m, "mean_hu");
        print_message("phantom %.2f mm/%.0f mm/SD %.0f/%s %s: muscle %.1f cm2 (truth %.1f, %+.1f %%), "
                      "%.1f HU (truth %.1f); SAT %.0f (%.0f) VAT %.0f (%.0f)\n",
                      pixel, spacing, noise, os_phantom_habitus_name(habitus), os_level_name(l), mus, ta,
                      100 * (mus - ta) / ta, hu, th, cm2[OS_TISSUE_SAT], num(f, "sat_cm2"),
                      cm2[OS_TISSUE_VAT], num(f, "vat_cm2"));
        assert_true(fabs(mus - ta) <= tol * ta);
        assert_true(fabs(hu - th) <= (tol > 0.05 ? 5 : 3));
        for (int g = 1; g <= 4; g++) {
            double tg = num(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "groups"), groups[g]), "area_cm2");
            print_message("  %s %.1f cm2 (truth %.1f)\n", groups[g], cm2[g], tg);
            /* per group only where the groups' borders are sharp enough to judge: on ~3 mm
             * pixels the psoas takes in part of the pixels it shares with the body and crus
             * (a known excess, about +2 cm2), the total is what is held there */
            if (tg > 8 && (tol <= 0.05 || (g != OS_TISSUE_WALL && pixel <= 2))) assert_true(fabs(cm2[g] - tg) <= 0.15 * tg);
        }
        assert_true(fabs(cm2[OS_TISSUE_SAT] - num(f, "sat_cm2")) <= 0.15 * num(f, "sat_cm2"));
        assert_true(fabs(cm2[OS_TISSUE_VAT] - num(f, "vat_cm2")) <= 0.20 * num(f, "vat_cm2"));
    }
    assert_non_null(a.muscle_mask);
    os_anatomy_free(&a);
    os_volume_free(&vol);
    cJSON_Delete(truth);
    remove_dir(dir);
}

static void run_phantom(uint64_t seed, double pixel, double spacing, double noise, int habitus, double tol) {
    os_phantom_opts o;
    os_phantom_defaults(&o);
    o.seed = seed;
    o.pixel_mm = pixel;
    o.rows = o.cols = (int)ceil(400 / pixel);
    o.slice_spacing_mm = o.slice_thickness_mm = spacing;
    o.noise_sd_hu = noise;
    o.habitus = habitus;
    o.z_from = 2; /* T12 … L4 */
    o.z_to = 6;
    check_phantom(&o, tol);
}

static void test_phantom_average(void **state) {
    (void)state;
    run_phantom(1, 0.75, 3, 15, OS_PHANTOM_AVERAGE, 0.05);
}

static void test_phantom_coarse_noisy(void **state) {
    (void)state;
    /* 1.5 mm pixels, 5 mm slices, SD 30: the wall's layers blur into bands with fat-looking
     * gaps, and the wall's inner edge runs a little into the bowel lying on it (about +5 … +8 %
     * of total muscle): a known excess, guarded here against getting worse */
    run_phantom(2, 1.5, 5, 30, OS_PHANTOM_OBESE, 0.11);
}

static void test_phantom_coarse_pixels(void **state) {
    (void)state;
    /* 2.9 mm pixels, as downsampled research data has: the wall's layers are a pixel thick,
     * fainter than muscle once smoothed, and every edge pixel is part fat */
    run_phantom(7, 2.9, 3, 20, OS_PHANTOM_AVERAGE, 0.08);
}

/* A phantom drawn as the bench draws one (os_phantom_randomize from the seed), pinned to the
 * geometry of the bench case being rebuilt and to the vertebrae z_from … z_to. */
static void bench_phantom(os_phantom_opts *o, uint64_t seed, double pixel, int matrix, double spacing, double noise,
                          int z_from, int z_to) {
    os_phantom_defaults(o);
    o->seed = seed;
    os_phantom_randomize(o);
    o->pixel_mm = pixel;
    o->rows = o->cols = matrix;
    o->slice_spacing_mm = o->slice_thickness_mm = spacing;
    o->noise_sd_hu = noise;
    o->z_from = z_from;
    o->z_to = z_to;
}

/* A slim woman (bench seed 6, study 33) on 0.96 mm pixels and 2.1 mm slices: beside the back,
 * rays from the trunk's centre cross the wall's layers obliquely, and the thin fat planes
 * between them, smoothed to near water, read as bowel content lying on the wall. Only the
 * outer layer was kept there: L1's muscle came out 16.6 % short on the bench, and L3's 8 %
 * short on this render of T12-L4. */
static void test_phantom_slim_oblique_layers(void **state) {
    (void)state;
    os_phantom_opts o;
    bench_phantom(&o, 1033, 0.961, 396, 2.13, 13, OS_T12, OS_L4);
    o.deformity[OS_L1] = OS_PHANTOM_CRUSH; /* as the bench drew it: moves L1's middle slice */
    o.height_loss[OS_L1] = 0.516;
    check_phantom(&o, 0.05);
}

/* Fresh bench seed 8, study 4: 3 mm pixels, 1.25 mm slices, a body of 80 HU. At mid-L3 the
 * osteoporotic cortex fell under the bone threshold and the body mask was a sliver, so the
 * psoas seeds (a few mm from the body's side) landed against the sliver, inside the body:
 * the psoas was not found and L3's muscle came out 12.6 % short on the bench. */
static void test_phantom_body_mask_a_sliver(void **state) {
    (void)state;
    os_phantom_opts o;
    bench_phantom(&o, 1004, 2.980, 128, 1.25, 22.4, OS_T11, OS_PHANTOM_S1); /* as the bench drew it */
    o.deformity[OS_T12] = OS_PHANTOM_WEDGE; /* as the bench drew them */
    o.height_loss[OS_T12] = 0.346;
    o.deformity[OS_L4] = OS_PHANTOM_CRUSH;
    o.height_loss[OS_L4] = 0.327;
    check_phantom(&o, 0.08);
}

/* ---- the real CT ---- */

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
    if (a.n_vertebrae < 1) {
        print_message("skipped: the spine half found no vertebra\n");
        os_anatomy_free(&a);
        os_volume_free(&vol);
        skip();
    }
    /* the series lies around T11–T12 (its README); the spine half may leave it unlabelled */
    for (int i = 0; i < a.n_vertebrae; i++)
        if (a.vertebrae[i].level < 0) a.vertebrae[i].level = OS_T12 - (a.n_vertebrae - 1 - i);
    assert_int_equal(os_anatomy_find_muscles(&vol, NULL, &a, &err), 0);
    int seen = 0;
    for (int l = 0; l < OS_LEVEL_COUNT; l++) {
        const os_level_slice *s = &a.slices[l];
        if (!s->present) continue;
        seen++;
        double cm2[OS_TISSUE_COUNT], mus, hu;
        areas(&vol, s, cm2, &mus, &hu);
        print_message("real CT %s: muscle %.1f cm2 %.1f HU (psoas %.1f erector %.1f QL %.1f wall %.1f), "
                      "SAT %.1f VAT %.1f IMAT %.1f\n",
                      os_level_name(l), mus, hu, cm2[1], cm2[2], cm2[3], cm2[4], cm2[5], cm2[6], cm2[7]);
        assert_true(cm2[OS_TISSUE_ERECTOR] > 20);
        assert_true(cm2[OS_TISSUE_WALL] > 15);
        assert_true(cm2[OS_TISSUE_SAT] > 20 && cm2[OS_TISSUE_VAT] > 20);
        assert_true(hu > 10 && hu < 80);
        /* the liver fills the patient's right upper abdomen (image left, in front of the right
         * kidney): none of it is muscle */
        long on_liver = 0;
        for (int y = 210; y < 300; y++)
            for (int x = 150; x < 210; x++) {
                int t = s->tissue[(size_t)y * vol.nx + x];
                on_liver += t >= 1 && t <= OS_MUSCLE_GROUPS;
            }
        print_message("real CT %s: %ld muscle pixels on the liver\n", os_level_name(l), on_liver);
        assert_true(on_liver * vol.spacing[0] * vol.spacing[1] < 100); /* < 1 cm² */
        /* arms lie at the image's left and right edges: outside the trunk */
        for (int y = 0; y < vol.ny; y++)
            for (int x = 0; x < 60; x++) {
                assert_int_equal(s->body[(size_t)y * vol.nx + x], 0);
                assert_int_equal(s->body[(size_t)y * vol.nx + vol.nx - 1 - x], 0);
            }
    }
    assert_true(seen >= 1);
    os_anatomy_free(&a);
    os_volume_free(&vol);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_drawn),
        cmocka_unit_test(test_no_spine),
        cmocka_unit_test(test_phantom_average),
        cmocka_unit_test(test_phantom_coarse_noisy),
        cmocka_unit_test(test_phantom_coarse_pixels),
        cmocka_unit_test(test_phantom_slim_oblique_layers),
        cmocka_unit_test(test_phantom_body_mask_a_sliver),
        cmocka_unit_test(test_real_siemens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
