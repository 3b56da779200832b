/* lib/modelinput against docs/model-inputs.md: on a hand-made volume and anatomy where every
 * expected number is known (patch centring 35 mm behind the body, clipping to [0, 1000] HU
 * and scaling, masks zero outside, the muscle mask limited to the vertebra's slices, absent
 * and cut levels all zero, other spacings), then on a phantom through the real anatomy, and
 * the files written for training read back bit for bit. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
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
#include "osteoscout/fs.h"
#include "osteoscout/modelinput.h"
#include "osteoscout/volume.h"
#include "model_fixture.h"

#define AT(arr, l, d, h, w) \
    (arr)[(((size_t)(l) * OS_MI_D + (size_t)(d)) * OS_MI_H + (size_t)(h)) * OS_MI_W + (size_t)(w)]

enum { NX = 200, NY = 220, NZ = 40 };

/* Axial volume, 1 × 1 × 3 mm, identity directions, -1000 HU air. */
static void make_volume(os_volume *vol, double sx, double sy, double sz) {
    memset(vol, 0, sizeof *vol);
    vol->nx = NX;
    vol->ny = NY;
    vol->nz = NZ;
    vol->spacing[0] = sx;
    vol->spacing[1] = sy;
    vol->spacing[2] = sz;
    vol->origin[0] = -100;
    vol->origin[1] = -120;
    vol->origin[2] = 500;
    vol->row_dir[0] = 1;
    vol->col_dir[1] = 1;
    vol->normal[2] = 1;
    vol->hu = malloc((size_t)NX * NY * NZ * sizeof *vol->hu);
    assert_non_null(vol->hu);
    for (size_t p = 0; p < (size_t)NX * NY * NZ; p++) vol->hu[p] = -1000;
}

static size_t idx(int x, int y, int z) {
    return (size_t)x + (size_t)NX * ((size_t)y + (size_t)NY * (size_t)z);
}

static void make_anatomy(os_anatomy *a) {
    memset(a, 0, sizeof *a);
    a->nx = NX;
    a->ny = NY;
    a->nz = NZ;
    size_t n = (size_t)NX * NY * NZ;
    a->body_mask = calloc(n, 1);
    a->trab_mask = calloc(n, 1);
    a->muscle_mask = calloc(n, 1);
    assert_non_null(a->body_mask);
    assert_non_null(a->trab_mask);
    assert_non_null(a->muscle_mask);
}

static os_vertebra *add_vertebra(os_anatomy *a, int level, double cx, double cy, double cz, int z_first, int z_last) {
    os_vertebra *v = &a->vertebrae[a->n_vertebrae++];
    memset(v, 0, sizeof *v);
    v->level = level;
    v->confidence = 1;
    v->center_vox[0] = cx;
    v->center_vox[1] = cy;
    v->center_vox[2] = cz;
    v->axis_lps[2] = 1;
    v->ap_lps[1] = -1; /* anterior is -y in LPS */
    v->z_first = z_first;
    v->z_last = z_last;
    v->volume_ml = 30;
    return v;
}

/* The hand-made scene, 1 × 1 × 3 mm:
 *  - vertebra 0: T12, body box x 90..110, y 60..79, z 25..39 (above L1, inside L1's patch,
 *    another label);
 *  - vertebra 1: L1, centre voxel (100.5, 100.5, 20.5): body box x 90..110, y 90..110,
 *    z 17..24; HU 500 (x < 100) and 2500 (x ≥ 100, clipped to 1000); a -300 HU hole;
 *  - erector spinae box behind it, x 95..105, y 130..140, z 10..30, 60 HU, labelled only in
 *    z 14..27 while L1's z range is 16..25;
 *  - L3 present but cut by the field of view; L2 and L4 absent.
 * Patch sampling points then fall on voxel centres: x = 21 + w, y = 56 + h, z = 15 + d. */
static void make_scene(os_volume *vol, os_anatomy *a) {
    make_volume(vol, 1, 1, 3);
    make_anatomy(a);
    os_vertebra *t12 = add_vertebra(a, OS_T12, 100.5, 70.5, 32.5, 25, 39);
    (void)t12;
    add_vertebra(a, OS_L1, 100.5, 100.5, 20.5, 16, 25);
    os_vertebra *l3 = add_vertebra(a, OS_L3, 100, 100, 5, 0, 8);
    l3->cut_by_fov = 1;
    for (int z = 0; z < NZ; z++)
        for (int y = 0; y < NY; y++)
            for (int x = 0; x < NX; x++) {
                size_t p = idx(x, y, z);
                if (x >= 90 && x <= 110 && y >= 60 && y <= 79 && z >= 25) {
                    a->body_mask[p] = 1;
                    vol->hu[p] = 300;
                }
                if (x >= 90 && x <= 110 && y >= 90 && y <= 110 && z >= 17 && z <= 24) {
                    a->body_mask[p] = 2;
                    vol->hu[p] = x < 100 ? 500 : 2500;
                    if (x == 95 && y == 95) vol->hu[p] = -300;
                }
                if (x >= 90 && x <= 110 && y >= 90 && y <= 110 && z <= 8) {
                    a->body_mask[p] = 3;
                    vol->hu[p] = 400;
                }
                if (x >= 95 && x <= 105 && y >= 130 && y <= 140 && z >= 10 && z <= 30) {
                    vol->hu[p] = 60;
                    if (z >= 14 && z <= 27) a->muscle_mask[p] = OS_TISSUE_ERECTOR;
                }
            }
}

static void test_scene(void **state) {
    (void)state;
    os_volume vol;
    os_anatomy a;
    make_scene(&vol, &a);
    os_model_inputs mi;
    os_error err;
    os_error_clear(&err);
    assert_int_equal(os_model_inputs_build(&vol, &a, &mi, &err), 0);

    /* levels and presence: T12 and L1 whole, L3 cut by the field of view, L2 and L4 not found */
    const int want_levels[5] = {OS_T12, OS_L1, OS_L2, OS_L3, OS_L4};
    const int want_present[5] = {1, 1, 0, 0, 0}; /* L3 is cut by the field of view */
    for (int l = 0; l < 5; l++) {
        assert_int_equal(mi.levels[l], want_levels[l]);
        assert_int_equal(mi.present[l], want_present[l]);
    }
    assert_int_equal(os_model_inputs_n_present(&mi), 2);

    /* centring: L1's patch centre is 35 mm posterior (+y) of the centroid, same z */
    double want[3];
    os_volume_voxel_to_lps(&vol, 100.5, 135.5, 20.5, want);
    for (int k = 0; k < 3; k++) assert_true(fabs(mi.center_lps[1][k] - want[k]) < 1e-9);

    /* every voxel of L1's patch against the scene: x = 21 + w, y = 56 + h, z = 15 + d */
    size_t n_bone = 0, n_muscle = 0;
    for (int d = 0; d < OS_MI_D; d++)
        for (int h = 0; h < OS_MI_H; h++)
            for (int w = 0; w < OS_MI_W; w++) {
                int x = 21 + w, y = 56 + h, z = 15 + d;
                float b = AT(mi.bone, 1, d, h, w), m = AT(mi.muscle, 1, d, h, w);
                float want_b = 0, want_m = 0;
                if (x < NX && y < NY) {
                    size_t p = idx(x, y, z);
                    double hu = vol.hu[p] < 0 ? 0 : vol.hu[p] > 1000 ? 1000 : vol.hu[p];
                    if (a.body_mask[p] == 2) want_b = (float)(hu / 1000.0);
                    if (a.muscle_mask[p] == OS_TISSUE_ERECTOR && z >= 16 && z <= 25) want_m = (float)(hu / 1000.0);
                }
                assert_true(fabsf(b - want_b) < 1e-6f);
                assert_true(fabsf(m - want_m) < 1e-6f);
                n_bone += b > 0;
                n_muscle += m > 0;
            }
    /* 21 × 21 body voxels less the hole, on the 8 slices 17..24 */
    assert_int_equal(n_bone, (size_t)(21 * 21 - 1) * 8);
    /* muscle only on slices 16..25 of the erector box (labelled 14..27, L1 is 16..25) */
    assert_int_equal(n_muscle, (size_t)11 * 11 * 10);
    /* clipping and scaling at known points: 500 → 0.5, 2500 → 1.0, -300 → 0 */
    assert_true(fabsf(AT(mi.bone, 1, 17 - 15, 100 - 56, 95 - 21) - 0.5f) < 1e-6f);
    assert_true(fabsf(AT(mi.bone, 1, 17 - 15, 100 - 56, 105 - 21) - 1.0f) < 1e-6f);
    assert_true(AT(mi.bone, 1, 17 - 15, 95 - 56, 95 - 21) == 0.0f);
    assert_true(fabsf(AT(mi.muscle, 1, 20 - 15, 135 - 56, 100 - 21) - 0.06f) < 1e-6f);

    /* T12's patch holds T12's body only, never L1's voxels below it */
    for (size_t i = 0; i < OS_MI_LEVEL_VOXELS; i++) {
        float b = mi.bone[0 * OS_MI_LEVEL_VOXELS + i];
        assert_true(b == 0.0f || fabsf(b - 0.3f) < 1e-6f);
    }
    /* absent and cut levels are all zero */
    for (int l = 2; l < 5; l++)
        for (size_t i = 0; i < OS_MI_LEVEL_VOXELS; i++) {
            assert_true(mi.bone[(size_t)l * OS_MI_LEVEL_VOXELS + i] == 0.0f);
            assert_true(mi.muscle[(size_t)l * OS_MI_LEVEL_VOXELS + i] == 0.0f);
        }
    for (int k = 0; k < 3; k++) assert_true(mi.center_lps[3][k] == 0.0);
    os_model_inputs_free(&mi);
    os_model_inputs_free(&mi); /* twice is harmless */
    os_anatomy_free(&a);
    os_volume_free(&vol);
}

/* Another grid: 0.5 × 0.5 × 1.5 mm voxels. The patch stays 1 × 1 × 3 mm, so the 21-voxel
 * (10.5 mm) wide body covers about 10.5 patch columns, and trilinear values stay in [0, 1]. */
static void test_spacing(void **state) {
    (void)state;
    os_volume vol;
    os_anatomy a;
    make_volume(&vol, 0.5, 0.5, 1.5);
    make_anatomy(&a);
    add_vertebra(&a, OS_L2, 100, 60, 20, 10, 30);
    for (int z = 10; z <= 30; z++)
        for (int y = 50; y <= 70; y++)
            for (int x = 90; x <= 110; x++) {
                a.body_mask[idx(x, y, z)] = 1;
                vol.hu[idx(x, y, z)] = (int16_t)(200 + 10 * (x - 90));
            }
    os_model_inputs mi;
    os_error err;
    os_error_clear(&err);
    assert_int_equal(os_model_inputs_build(&vol, &a, &mi, &err), 0);
    assert_int_equal(mi.present[2], 1);
    assert_int_equal(os_model_inputs_n_present(&mi), 1);
    /* posterior shift: 35 mm = 70 voxels of 0.5 mm */
    double want[3];
    os_volume_voxel_to_lps(&vol, 100, 130, 20, want);
    for (int k = 0; k < 3; k++) assert_true(fabs(mi.center_lps[2][k] - want[k]) < 1e-9);
    int d = OS_MI_D / 2, h = (int)((60 - 130) * 0.5 + 79.5); /* the row through the body's centre */
    int first = -1, last = -1;
    float prev = 0;
    for (int w = 0; w < OS_MI_W; w++) {
        float b = AT(mi.bone, 2, d, h, w);
        assert_true(b >= 0.0f && b <= 1.0f);
        if (b > 0) {
            if (first < 0) first = w;
            last = w;
            assert_true(b >= prev); /* HU rises with x */
            prev = b;
        }
    }
    assert_true(first >= 0);
    int width = last - first + 1;
    print_message("body 10.5 mm wide covers %d patch columns\n", width);
    assert_true(width >= 10 && width <= 11);
    os_model_inputs_free(&mi);
    os_anatomy_free(&a);
    os_volume_free(&vol);
}

static void test_errors(void **state) {
    (void)state;
    os_volume vol;
    os_anatomy a;
    os_model_inputs mi;
    os_error err;
    os_error_clear(&err);
    make_volume(&vol, 1, 1, 3);
    make_anatomy(&a);
    add_vertebra(&a, OS_L1, 100, 100, 20, 15, 25);
    a.nx = NX - 1; /* anatomy of another volume */
    assert_true(os_model_inputs_build(&vol, &a, &mi, &err) < 0);
    assert_non_null(strstr(err.msg, "does not belong"));
    assert_null(mi.bone);
    a.nx = NX;
    assert_true(os_model_inputs_build(NULL, &a, &mi, &err) < 0);
    /* no vertebra at all: not an error, nothing present */
    os_anatomy empty;
    memset(&empty, 0, sizeof empty);
    assert_int_equal(os_model_inputs_build(&vol, &empty, &mi, &err), 0);
    assert_int_equal(os_model_inputs_n_present(&mi), 0);
    os_model_inputs_free(&mi);
    os_anatomy_free(&a);
    os_volume_free(&vol);
}

static void test_files(void **state) {
    (void)state;
    os_volume vol;
    os_anatomy a;
    make_scene(&vol, &a);
    os_model_inputs mi;
    os_error err;
    os_error_clear(&err);
    assert_int_equal(os_model_inputs_build(&vol, &a, &mi, &err), 0);

    char tmpl[] = "/tmp/os_test_modelinput_XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    char study[1200], path[1300];
    snprintf(study, sizeof study, "%s/study-1", dir);
    os_model_inputs_meta meta = {.study_instance_uid = "1.2.3.4", .series_instance_uid = "1.2.3.4.5", .synthetic = 1};
    assert_int_equal(os_model_inputs_write(&mi, study, &meta, &err), 0);

    struct stat st;
    snprintf(path, sizeof path, "%s/bone.f32", study);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal((size_t)st.st_size, (size_t)5 * 12 * 160 * 160 * 4);
    /* little-endian float32, C order: read one known value by hand */
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t offset = ((((size_t)1 * OS_MI_D + 2) * OS_MI_H + 44) * OS_MI_W + 74) * 4; /* L1, z 17, y 100, x 95 */
    assert_int_equal(fseek(f, (long)offset, SEEK_SET), 0);
    unsigned char b[4];
    assert_int_equal(fread(b, 1, 4, f), 4);
    fclose(f);
    uint32_t bits = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    float v;
    memcpy(&v, &bits, 4);
    assert_true(fabsf(v - 0.5f) < 1e-6f);

    os_model_inputs back;
    assert_int_equal(os_model_inputs_read(study, &back, &err), 0);
    assert_memory_equal(back.bone, mi.bone, OS_MI_VOXELS * sizeof(float));
    assert_memory_equal(back.muscle, mi.muscle, OS_MI_VOXELS * sizeof(float));
    assert_memory_equal(back.present, mi.present, sizeof mi.present);
    os_model_inputs_free(&back);

    snprintf(path, sizeof path, "%s/inputs.json", study);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(os_fs_read_all(path, &text, &len, &err), 0);
    cJSON *j = cJSON_Parse(text);
    free(text);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "format")->valuestring, "osteoscout-model-inputs");
    assert_int_equal(cJSON_GetObjectItem(j, "version")->valueint, 1);
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "levels"), 0)->valuestring, "T12");
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "levels"), 4)->valuestring, "L4");
    assert_int_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "present"), 1)->valueint, 1);
    assert_int_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "present"), 3)->valueint, 0);
    const int shape[4] = {5, 12, 160, 160};
    for (int k = 0; k < 4; k++)
        assert_int_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "shape"), k)->valueint, shape[k]);
    const double spacing[3] = {3, 1, 1};
    for (int k = 0; k < 3; k++)
        assert_true(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "spacing_mm"), k)->valuedouble == spacing[k]);
    assert_string_equal(cJSON_GetObjectItem(j, "study_instance_uid")->valuestring, "1.2.3.4");
    assert_string_equal(cJSON_GetObjectItem(j, "series_instance_uid")->valuestring, "1.2.3.4.5");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "synthetic")));
    cJSON_Delete(j);

    /* the manifest: header once, a row per study, CSV quoting */
    char manifest[1300];
    snprintf(manifest, sizeof manifest, "%s/manifest.csv", dir);
    assert_int_equal(os_model_inputs_manifest_append(manifest, "study-1", "1.2.3.4", "study-1", mi.present, &err), 0);
    assert_int_equal(os_model_inputs_manifest_append(manifest, "odd,\"name\"", "1.2.9", "odd", NULL, &err), 0);
    assert_int_equal(os_fs_read_all(manifest, &text, &len, &err), 0);
    assert_string_equal(text, "study,study_instance_uid,path,present_levels\n"
                              "study-1,1.2.3.4,study-1,T12 L1\n"
                              "\"odd,\"\"name\"\"\",1.2.9,odd,\n");
    free(text);
    /* a study folder that cannot be created fails with a sentence */
    snprintf(path, sizeof path, "%s/bone.f32/x", study);
    assert_true(os_model_inputs_write(&mi, path, &meta, &err) < 0);
    assert_true(err.msg[0] != '\0');
    fixture_rm_rf(dir);
    os_model_inputs_free(&mi);
    os_anatomy_free(&a);
    os_volume_free(&vol);
}

static void phantom_from_t11(os_phantom_opts *o) {
    o->z_from = OS_T11;
}

/* The real chain: phantom → anatomy → inputs. T12–L4 all present; each bone image's centre of
 * mass lies about 35 mm anterior of the patch centre; muscle images hold psoas and erector
 * spinae (not empty, not the bone). */
static void test_phantom(void **state) {
    (void)state;
    os_volume vol;
    assert_int_equal(fixture_phantom_volume(5, phantom_from_t11, &vol), 0);
    os_anatomy a;
    os_error err;
    os_error_clear(&err);
    assert_int_equal(os_anatomy_find(&vol, NULL, &a, &err), 0);
    os_model_inputs mi;
    assert_int_equal(os_model_inputs_build(&vol, &a, &mi, &err), 0);
    for (int l = 0; l < OS_MI_LEVELS; l++) {
        int vi = os_anatomy_vertebra_of(&a, mi.levels[l]);
        print_message("%s: present %d (vertebra %d%s)\n", os_level_name(mi.levels[l]), mi.present[l], vi,
                      vi >= 0 && a.vertebrae[vi].cut_by_fov ? ", cut" : "");
        assert_int_equal(mi.present[l], 1);
        double sb = 0, sh = 0, sw = 0, sd = 0;
        size_t nm = 0, n_both = 0;
        for (int d = 0; d < OS_MI_D; d++)
            for (int h = 0; h < OS_MI_H; h++)
                for (int w = 0; w < OS_MI_W; w++) {
                    float b = AT(mi.bone, l, d, h, w), m = AT(mi.muscle, l, d, h, w);
                    assert_true(b >= 0.0f && b <= 1.0f);
                    assert_true(m >= 0.0f && m <= 1.0f);
                    n_both += b > 0 && m > 0;
                    sb += b;
                    sh += b * h;
                    sw += b * w;
                    sd += b * d;
                    nm += m > 0;
                }
        assert_true(sb > 100);
        /* the patch centre sits 35 mm posterior: the body's mass is 35 patch rows anterior */
        const os_vertebra *v = &a.vertebrae[vi];
        double post_h = -v->ap_lps[1], post_w = -v->ap_lps[0]; /* identity directions */
        double norm = hypot(post_h, post_w);
        double ch = 79.5 - 35 * post_h / norm, cw = 79.5 - 35 * post_w / norm;
        print_message("%s: bone centre (d %.1f, h %.1f, w %.1f), expected (5.5, %.1f, %.1f); muscle voxels %zu\n",
                      os_level_name(mi.levels[l]), sd / sb, sh / sb, sw / sb, ch, cw, nm);
        assert_true(fabs(sh / sb - ch) < 4);
        assert_true(fabs(sw / sb - cw) < 4);
        assert_true(fabs(sd / sb - 5.5) < 1.5);
        assert_true(nm > 500);
        assert_true(n_both * 100 < nm); /* body and muscle masks hardly ever claim the same voxel */
    }
    os_model_inputs_free(&mi);
    os_anatomy_free(&a);
    os_volume_free(&vol);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scene),
        cmocka_unit_test(test_spacing),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_phantom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
