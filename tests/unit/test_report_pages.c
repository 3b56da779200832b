/* lib/report: the Secondary Capture pages drawn from a small synthetic spine — three pages of
 * the documented sizes, the banner on every page, a grade-3 vertebra in red on the sagittal
 * page, and the cases with pieces missing (no vertebrae, no L3, nothing at all) still drawing.
 * The pages are written as PNG to $OS_BUILD_DIR/report-pages/ (or /tmp) to be looked at. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cairo/cairo.h>
#include <cmocka.h>

#include "osteoscout/report.h"

#define NX 96
#define NY 96
#define NZ 80
#define SP 1.5
#define NV 5 /* T12 … L4, cranial first */
#define LEVEL_SLICES 14
#define BODY_SLICES 11

/* The banner colour (lib/report/draw_util.h) and the grade-3 red. */
static const int BANNER[3] = {255, 196, 0};
static const int RED[3] = {235, 30, 30};

typedef struct fixture {
    os_volume vol;
    os_anatomy a;
    os_measurements m;
    cJSON *result;
} fixture;

static size_t idx(int x, int y, int z) { return (size_t)x + (size_t)NX * ((size_t)y + (size_t)NY * (size_t)z); }

/* Vertebra k (0 = most cranial): its first slice, and its x centre drifting a little (the
 * plane must follow it). */
static int vert_z0(int k) { return 6 + (NV - 1 - k) * LEVEL_SLICES; }
static int vert_xc(int k) { return 44 + k * 2; }
static int vert_height(int k) { return k == 2 ? 5 : BODY_SLICES; } /* L2: crushed */

static void build(fixture *f) {
    memset(f, 0, sizeof *f);
    os_volume *v = &f->vol;
    v->nx = NX;
    v->ny = NY;
    v->nz = NZ;
    v->spacing[0] = v->spacing[1] = v->spacing[2] = SP;
    v->origin[0] = -72;
    v->origin[1] = -72;
    v->origin[2] = 0;
    v->row_dir[0] = 1;
    v->col_dir[1] = 1;
    v->normal[2] = 1;
    v->hu = calloc((size_t)NX * NY * NZ, sizeof *v->hu);
    assert_non_null(v->hu);

    os_anatomy *a = &f->a;
    a->nx = NX;
    a->ny = NY;
    a->nz = NZ;
    a->body_mask = calloc((size_t)NX * NY * NZ, 1);
    assert_non_null(a->body_mask);
    a->t12_by_ribs = 0;
    a->l5_by_sacrum = -1;
    snprintf(a->labelling, sizeof a->labelling,
             "T12 is the last rib-bearing vertebra; labels counted down from it (synthetic test fixture).");

    /* Body: an ellipse of soft tissue with a fat rim, air outside. */
    for (int z = 0; z < NZ; z++)
        for (int y = 0; y < NY; y++)
            for (int x = 0; x < NX; x++) {
                double ex = (x - 48) / 44.0, ey = (y - 50) / 38.0, r = ex * ex + ey * ey;
                int16_t hu = -1000;
                if (r < 1) hu = r > 0.72 ? -100 : 40;
                v->hu[idx(x, y, z)] = hu;
            }
    /* Vertebral bodies: bright boxes, with discs between them. */
    const int level0 = OS_T12;
    for (int k = 0; k < NV; k++) {
        int z0 = vert_z0(k), h = vert_height(k), xc = vert_xc(k);
        for (int z = z0; z < z0 + h; z++)
            for (int y = 48; y < 66; y++)
                for (int x = xc - 9; x <= xc + 9; x++) {
                    /* The crushed one keeps its posterior wall taller. */
                    v->hu[idx(x, y, z)] = (int16_t)(y == 48 || y == 65 || x == xc - 9 || x == xc + 9 ? 450 : 180);
                    a->body_mask[idx(x, y, z)] = (uint8_t)(k + 1);
                }
        /* Spinous process and canal, for a spine-like look. */
        for (int z = z0; z < z0 + BODY_SLICES; z++)
            for (int y = 70; y < 84; y++)
                for (int x = xc - 2; x <= xc + 2; x++) v->hu[idx(x, y, z)] = 350;
        os_vertebra *vt = &a->vertebrae[k];
        vt->level = level0 + k;
        vt->confidence = k == 4 ? 0.4 : 0.9;
        vt->center_vox[0] = xc;
        vt->center_vox[1] = 56.5;
        vt->center_vox[2] = z0 + (h - 1) / 2.0;
        vt->z_first = z0;
        vt->z_last = z0 + h - 1;
        vt->has_rib = k == 0;
        vt->cut_by_fov = 0;
        vt->volume_ml = 19 * 18 * h * SP * SP * SP / 1000.0;
        for (int d = 0; d < 3; d++) vt->axis_lps[d] = d == 2 ? 1 : 0;
        vt->ap_lps[1] = -1;
    }
    a->n_vertebrae = NV;

    /* L3 slice (k = 3) with a tissue map. */
    int k3 = OS_L3 - level0;
    os_level_slice *ls = &a->slices[OS_L3];
    ls->present = 1;
    ls->z = (int)a->vertebrae[k3].center_vox[2];
    ls->z_mm = ls->z * SP;
    ls->tissue = calloc((size_t)NX * NY, 1);
    ls->body = calloc((size_t)NX * NY, 1);
    assert_non_null(ls->tissue);
    assert_non_null(ls->body);
    int16_t *slice = v->hu + (size_t)NX * NY * (size_t)ls->z;
    for (int y = 0; y < NY; y++)
        for (int x = 0; x < NX; x++) {
            size_t i = (size_t)y * NX + (size_t)x;
            double ex = (x - 48) / 44.0, ey = (y - 50) / 38.0, r = ex * ex + ey * ey;
            if (r >= 1) continue;
            ls->body[i] = 1;
            uint8_t t = 0;
            int xc = vert_xc(k3);
            double dl = hypot((x - (xc - 16)) / 6.0, (y - 56) / 8.0), dr = hypot((x - (xc + 16)) / 6.0, (y - 56) / 8.0);
            if (r > 0.72) t = OS_TISSUE_SAT;
            else if (r > 0.6 && y < 50) t = OS_TISSUE_WALL;
            else if (dl < 1 || dr < 1) t = OS_TISSUE_PSOAS;
            else if (y >= 68 && y < 82 && abs(x - xc) > 3 && abs(x - xc) < 16) t = OS_TISSUE_ERECTOR;
            else if (y >= 60 && y < 72 && abs(x - xc) >= 22 && abs(x - xc) < 30) t = OS_TISSUE_QL;
            else if (y < 46 && ((x / 6 + y / 6) % 3 == 0)) t = OS_TISSUE_VAT;
            if (a->body_mask[idx(x, y, ls->z)]) t = 0;
            ls->tissue[i] = t;
            if (t >= OS_TISSUE_PSOAS && t <= OS_TISSUE_WALL) slice[i] = 55;
            else if (t == OS_TISSUE_VAT) slice[i] = -95;
        }

    /* Measurements. */
    os_measurements *m = &f->m;
    m->n_vertebrae = NV;
    for (int k = 0; k < NV; k++) {
        os_vertebra_measure *vm = &m->vertebrae[k];
        vm->level = level0 + k;
        vm->confidence = a->vertebrae[k].confidence;
        double h = vert_height(k) * SP;
        vm->h_ant = h;
        vm->h_mid = h + 0.4;
        vm->h_post = k == 2 ? BODY_SLICES * SP : h + 0.9;
        vm->ap_depth_mm = 18 * SP;
        vm->ratio_min_max = vm->h_ant / vm->h_post;
        vm->ratio_neighbours = NAN;
        vm->genant_grade = k == 2 ? 3 : 0;
        snprintf(vm->deformity, sizeof vm->deformity, "%s", k == 2 ? "wedge" : "none");
        vm->trab_hu_mean = 180 - 5 * k;
        vm->trab_hu_median = 178 - 5 * k;
        vm->trab_voxels = 900;
    }
    m->vertebrae[4].genant_grade = -1; /* not measurable */
    m->vertebrae[4].h_ant = NAN;
    snprintf(m->vertebrae[4].note, sizeof m->vertebrae[4].note, "anterior wall not found");
    os_muscle_measure *mm = &m->muscle[OS_L3];
    mm->present = 1;
    mm->slice_z_mm = ls->z_mm;
    mm->area_cm2 = 142.3;
    mm->mean_hu = 38.2;
    mm->index_cm2_m2 = 46.5;
    mm->group_area_cm2[OS_TISSUE_PSOAS] = 18.4;
    mm->group_area_cm2[OS_TISSUE_ERECTOR] = 44.0;
    mm->group_area_cm2[OS_TISSUE_QL] = 12.1;
    mm->group_area_cm2[OS_TISSUE_WALL] = 67.8;
    mm->group_mean_hu[OS_TISSUE_PSOAS] = 45;
    mm->group_mean_hu[OS_TISSUE_ERECTOR] = 36;
    mm->group_mean_hu[OS_TISSUE_QL] = NAN;
    mm->group_mean_hu[OS_TISSUE_WALL] = 35;
    mm->sat_cm2 = 180.5;
    mm->vat_cm2 = 95.2;
    mm->imat_cm2 = 8.3;
    mm->sarcopenia = 1;
    os_bmd *b = &m->bmd;
    b->present = 1;
    b->l1_hu_mean = 98.4;
    b->l1_hu_median = 97.0;
    b->air_hu = -1003;
    b->sat_hu = -104;
    b->l1_hu_calibrated = 101.2;
    b->aorta_hu = 165;
    b->phase = OS_PHASE_PORTAL;
    b->threshold_hu_used = 98.4;
    snprintf(b->category, sizeof b->category, "likely osteoporosis");

    f->result = cJSON_Parse("{\"software\":{\"name\":\"OsteoScout\",\"version\":\"0.1.0-test\"},"
                            "\"synthetic\":true,"
                            "\"bone_density\":{\"thresholds\":{\"osteoporosis_hu\":110,\"low_bone_mass_hu\":160}},"
                            "\"models\":{\"multitask\":{\"version\":\"1.0\",\"detection_probability\":0.23,"
                            "\"risk\":{\"risk_2y\":0.05,\"risk_3y\":0.08,\"risk_5y\":0.12}}}}");
    assert_non_null(f->result);
}

static void teardown_fixture(fixture *f) {
    free(f->vol.hu);
    free(f->a.body_mask);
    for (int l = 0; l < OS_LEVEL_COUNT; l++) {
        free(f->a.slices[l].tissue);
        free(f->a.slices[l].body);
    }
    cJSON_Delete(f->result);
}

static void write_png(const os_report_page *p, const char *name) {
    const char *bd = getenv("OS_BUILD_DIR");
    char dir[512], path[640];
    snprintf(dir, sizeof dir, "%s/report-pages", bd && *bd ? bd : "/tmp/osteoscout");
    mkdir(bd && *bd ? bd : "/tmp/osteoscout", 0755);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/%s.png", dir, name);
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, p->cols, p->rows);
    assert_int_equal(cairo_surface_status(s), CAIRO_STATUS_SUCCESS);
    cairo_surface_flush(s);
    unsigned char *d = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    for (int y = 0; y < p->rows; y++)
        for (int x = 0; x < p->cols; x++) {
            const unsigned char *c = p->rgb + 3 * ((size_t)y * (size_t)p->cols + (size_t)x);
            uint32_t v = 0xFF000000u | ((uint32_t)c[0] << 16) | ((uint32_t)c[1] << 8) | c[2];
            memcpy(d + (size_t)y * (size_t)stride + 4 * (size_t)x, &v, 4);
        }
    cairo_surface_mark_dirty(s);
    cairo_status_t st = cairo_surface_write_to_png(s, path);
    cairo_surface_destroy(s);
    if (st != CAIRO_STATUS_SUCCESS) fprintf(stderr, "could not write %s: %s\n", path, cairo_status_to_string(st));
    else fprintf(stderr, "wrote %s\n", path);
}

static size_t count_colour(const os_report_page *p, int y0, int y1, const int rgb[3], int tol) {
    size_t n = 0;
    for (int y = y0; y < y1 && y < p->rows; y++)
        for (int x = 0; x < p->cols; x++) {
            const unsigned char *c = p->rgb + 3 * ((size_t)y * (size_t)p->cols + (size_t)x);
            if (abs(c[0] - rgb[0]) <= tol && abs(c[1] - rgb[1]) <= tol && abs(c[2] - rgb[2]) <= tol) n++;
        }
    return n;
}

/* Every page: the banner band across the top in the banner colour (the first pixel exactly,
 * in R G B order), and nothing of it below the banner. */
static void check_common(const os_report_page *pages, int n) {
    for (int i = 0; i < n; i++) {
        const os_report_page *p = &pages[i];
        assert_non_null(p->rgb);
        assert_true(p->title[0] != '\0');
        assert_int_equal(p->rgb[0], BANNER[0]);
        assert_int_equal(p->rgb[1], BANNER[1]);
        assert_int_equal(p->rgb[2], BANNER[2]);
        size_t band = count_colour(p, 0, 40, BANNER, 2);
        assert_true(band > (size_t)p->cols * 40 / 2);
        /* The footer is dark grey at its left edge. */
        const unsigned char *f = p->rgb + 3 * ((size_t)(p->rows - 2) * (size_t)p->cols + 2);
        assert_true(f[0] < 80 && f[1] < 80 && f[2] < 80);
    }
}

static void draw(fixture *f, const os_volume *vol, const os_anatomy *a, const os_measurements *m,
                 const cJSON *result, os_report_page pages[OS_REPORT_MAX_PAGES], const char *name) {
    (void)f;
    int n = -1;
    os_error err;
    os_error_clear(&err);
    int rc = os_report_draw_pages(vol, a, m, result, pages, &n, &err);
    if (rc) fprintf(stderr, "draw failed: %s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(n, 3);
    assert_int_equal(pages[0].cols, 1024);
    assert_int_equal(pages[0].rows, 1024);
    assert_int_equal(pages[1].cols, 1024);
    assert_int_equal(pages[1].rows, 1024);
    assert_int_equal(pages[2].cols, 1024);
    assert_int_equal(pages[2].rows, 768);
    check_common(pages, n);
    static const char *const suffix[3] = {"1-sagittal", "2-axial", "3-summary"};
    char file[128];
    for (int i = 0; i < n; i++) {
        snprintf(file, sizeof file, "%s-%s", name, suffix[i]);
        write_png(&pages[i], file);
    }
}

static void test_full(void **state) {
    (void)state;
    fixture f;
    build(&f);
    os_report_page pages[OS_REPORT_MAX_PAGES];
    draw(&f, &f.vol, &f.a, &f.m, f.result, pages, "full");
    /* The grade-3 vertebra's outline in red on the sagittal page, none on a page without
     * fractures' colours (the axial one has no red of that exact shade in its overlays). */
    size_t red = count_colour(&pages[0], 50, 930, RED, 0);
    assert_true(red > 50);
    /* Green (grade 0) outlines too. */
    const int green[3] = {60, 200, 80};
    assert_true(count_colour(&pages[0], 50, 930, green, 0) > 50);
    /* Summary: the L1 value's zone (red-brown of "likely osteoporosis") is drawn. */
    const int zone[3] = {215, 80, 70};
    assert_true(count_colour(&pages[2], 50, 300, zone, 0) > 1000);
    os_report_free_pages(pages, 3);
    for (int i = 0; i < 3; i++) assert_null(pages[i].rgb);
    teardown_fixture(&f);
}

static void test_no_vertebrae(void **state) {
    (void)state;
    fixture f;
    build(&f);
    os_anatomy a = f.a;
    a.n_vertebrae = 0;
    a.body_mask = NULL;
    for (int l = 0; l < OS_LEVEL_COUNT; l++) memset(&a.slices[l], 0, sizeof a.slices[l]);
    os_measurements *m = calloc(1, sizeof *m);
    assert_non_null(m);
    m->bmd.present = 0;
    snprintf(m->bmd.note, sizeof m->bmd.note, "L1 not found");
    os_report_page pages[OS_REPORT_MAX_PAGES];
    draw(&f, &f.vol, &a, m, NULL, pages, "no-vertebrae");
    assert_int_equal(count_colour(&pages[0], 50, 930, RED, 0), 0);
    os_report_free_pages(pages, 3);
    free(m);
    teardown_fixture(&f);
}

static void test_no_l3_uses_l1(void **state) {
    (void)state;
    fixture f;
    build(&f);
    /* Move the L3 slice to L1 and drop L3 (and L4) as if the scan stopped above. */
    f.a.slices[OS_L1] = f.a.slices[OS_L3];
    memset(&f.a.slices[OS_L3], 0, sizeof f.a.slices[OS_L3]);
    f.a.slices[OS_L1].z = (int)f.a.vertebrae[OS_L1 - OS_T12].center_vox[2];
    f.m.muscle[OS_L1] = f.m.muscle[OS_L3];
    f.m.muscle[OS_L1].index_cm2_m2 = NAN;
    f.m.muscle[OS_L1].sarcopenia = -1;
    memset(&f.m.muscle[OS_L3], 0, sizeof f.m.muscle[OS_L3]);
    f.a.vertebrae[3].cut_by_fov = 1;
    f.a.n_vertebrae = 4;
    f.m.n_vertebrae = 4;
    cJSON_DeleteItemFromObject(f.result, "models");
    os_report_page pages[OS_REPORT_MAX_PAGES];
    draw(&f, &f.vol, &f.a, &f.m, f.result, pages, "no-l3");
    assert_string_equal(pages[1].title, "Axial L1 muscle and fat");
    os_report_free_pages(pages, 3);
    teardown_fixture(&f);
}

static void test_nothing(void **state) {
    (void)state;
    os_report_page pages[OS_REPORT_MAX_PAGES];
    draw(NULL, NULL, NULL, NULL, NULL, pages, "nothing");
    os_report_free_pages(pages, 3);

    /* A volume but no L3 or L1 at all, and NaN everywhere. */
    fixture f;
    build(&f);
    os_anatomy a = f.a;
    for (int l = 0; l < OS_LEVEL_COUNT; l++) memset(&a.slices[l], 0, sizeof a.slices[l]);
    os_measurements *m = calloc(1, sizeof *m);
    assert_non_null(m);
    m->n_vertebrae = NV;
    for (int k = 0; k < NV; k++) {
        os_vertebra_measure *vm = &m->vertebrae[k];
        vm->level = OS_T12 + k;
        vm->h_ant = vm->h_mid = vm->h_post = vm->ratio_min_max = vm->trab_hu_mean = NAN;
        vm->ap_depth_mm = NAN;
        vm->genant_grade = -1;
    }
    m->bmd.present = 1;
    m->bmd.l1_hu_mean = m->bmd.l1_hu_median = m->bmd.l1_hu_calibrated = m->bmd.threshold_hu_used = NAN;
    m->bmd.air_hu = m->bmd.sat_hu = m->bmd.aorta_hu = NAN;
    draw(&f, &f.vol, &a, m, f.result, pages, "nan");
    os_report_free_pages(pages, 3);
    free(m);
    teardown_fixture(&f);
}

static void test_bad_args(void **state) {
    (void)state;
    int n = 7;
    os_error err;
    os_error_clear(&err);
    assert_int_equal(os_report_draw_pages(NULL, NULL, NULL, NULL, NULL, &n, &err), -EINVAL);
    os_report_free_pages(NULL, 3);
}

/* fontconfig (under cairo's toy font API) keeps its configuration for the life of the process;
 * release it at exit so LeakSanitizer sees no leak. Weak: resolved through libcairo's own
 * dependency on libfontconfig, absent (NULL) if cairo was built without it. */
extern void FcFini(void) __attribute__((weak));

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_no_vertebrae),
        cmocka_unit_test(test_no_l3_uses_l1),
        cmocka_unit_test(test_nothing),
        cmocka_unit_test(test_bad_args),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    cairo_debug_reset_static_data();
    if (FcFini) FcFini();
    return rc;
}
