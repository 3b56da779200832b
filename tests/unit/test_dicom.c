/* Unit tests for lib/dicom's reading and writing half: UIDs, a lossless round trip
 * through every transfer syntax the node accepts, native sample formats, files that
 * are truncated or garbled, and real Siemens JPEG 2000 slices when the shared data
 * folder is present. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "osteoscout/dicom.h"

enum { ROWS = 64, COLS = 48 };

static char tmpdir[256];

static int setup_dir(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/os_test_dicom_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_dir(void **state) {
    (void)state;
    DIR *d = opendir(tmpdir);
    if (!d) return 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[600];
        snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(tmpdir);
    return 0;
}

static void tmp_path(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s", tmpdir, name);
}

/* A body-like pattern: air, a ramp through soft tissue to bone, and noise, so that
 * predictive and wavelet coders see realistic as well as awkward values. */
static void make_pattern(int16_t *px, int rows, int cols, unsigned seed) {
    for (int y = 0; y < rows; y++)
        for (int x = 0; x < cols; x++) {
            seed = seed * 1103515245u + 12345u;
            int noise = (int)((seed >> 16) % 41) - 20;
            int v = -1024 + (3024 * (x + y * cols)) / (rows * cols) + noise;
            if ((x + y) % 17 == 0) v = -1024;
            if (x == cols - 1 && y == rows - 1) v = 2000;
            px[y * cols + x] = (int16_t)(v + 1024); /* stored, intercept -1024 */
        }
}

static void fill_write(os_ct_write *w, const char *ts, char uids[3][OS_UID_MAX]) {
    memset(w, 0, sizeof *w);
    for (int i = 0; i < 3; i++) os_dicom_new_uid(uids[i]);
    w->transfer_syntax_uid = ts;
    w->patient_name = "Phantom^Test";
    w->patient_id = "PH0001";
    w->patient_sex = "F";
    w->patient_size_m = 1.68;
    w->patient_age = "065Y";
    w->study_uid = uids[0];
    w->series_uid = uids[1];
    w->sop_uid = uids[2];
    w->study_date = "20240102";
    w->study_time = "101500";
    w->accession_number = "ACC1";
    w->study_description = "CT ABDOMEN";
    w->series_description = "Body 1.0";
    w->manufacturer = "OsteoScout";
    w->convolution_kernel = "Br40f\\3";
    w->series_number = 3;
    w->instance_number = 17;
    w->position[0] = -120.5;
    w->position[1] = -200.25;
    w->position[2] = -33.125;
    double o[6] = {1, 0, 0, 0, 1, 0};
    memcpy(w->orientation, o, sizeof o);
    w->pixel_spacing[0] = 0.78125;
    w->pixel_spacing[1] = 0.8;
    w->slice_thickness = 1.25;
    w->kvp = 120;
    w->rows = ROWS;
    w->cols = COLS;
    w->rescale_slope = 1;
    w->rescale_intercept = -1024;
}

static void roundtrip(const char *ts) {
    char uids[3][OS_UID_MAX], path[512];
    os_ct_write w;
    fill_write(&w, ts, uids);
    int16_t *px = malloc(sizeof *px * ROWS * COLS);
    int16_t *hu = malloc(sizeof *hu * ROWS * COLS);
    make_pattern(px, ROWS, COLS, 7);
    tmp_path(path, sizeof path, ts);
    os_error err = {0};
    int rc = os_dicom_write_ct(&w, px, path, &err);
    if (rc != 0) print_error("write %s: %s\n", ts, err.msg);
    assert_int_equal(rc, 0);

    os_dicom_header h;
    rc = os_dicom_read_header(path, &h, &err);
    if (rc != 0) print_error("header %s: %s\n", ts, err.msg);
    assert_int_equal(rc, 0);
    assert_string_equal(h.sop_class_uid, OS_SOP_CT);
    assert_string_equal(h.sop_instance_uid, uids[2]);
    assert_string_equal(h.study_uid, uids[0]);
    assert_string_equal(h.series_uid, uids[1]);
    assert_string_equal(h.transfer_syntax_uid, ts);
    assert_string_equal(h.modality, "CT");
    assert_string_equal(h.series_description, "Body 1.0");
    assert_string_equal(h.convolution_kernel, "Br40f\\3");
    assert_string_equal(h.image_type, "ORIGINAL\\PRIMARY\\AXIAL");
    assert_string_equal(h.patient_sex, "F");
    assert_int_equal(h.series_number, 3);
    assert_int_equal(h.instance_number, 17);
    assert_true(h.has_position && h.has_orientation);
    for (int i = 0; i < 3; i++) assert_true(h.position[i] == w.position[i]);
    for (int i = 0; i < 6; i++) assert_true(h.orientation[i] == w.orientation[i]);
    assert_true(h.slice_thickness == 1.25);
    assert_true(h.pixel_spacing[0] == 0.78125 && h.pixel_spacing[1] == 0.8);
    assert_true(h.patient_size_m == 1.68);
    assert_int_equal(h.rows, ROWS);
    assert_int_equal(h.cols, COLS);
    assert_int_equal(h.frames, 1);
    assert_int_equal(h.pixel_data_ok, 1);

    os_slice_geom *g = NULL;
    size_t n = 0;
    assert_int_equal(os_dicom_read_geometry(path, &g, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(g[0].frame, 0);
    assert_int_equal(g[0].rows, ROWS);
    assert_int_equal(g[0].cols, COLS);
    assert_true(g[0].position[2] == -33.125);
    assert_true(g[0].thickness == 1.25);
    assert_true(g[0].rescale_slope == 1.0 && g[0].rescale_intercept == -1024.0);
    free(g);

    rc = os_dicom_read_frame_hu(path, 0, hu, ROWS, COLS, &err);
    if (rc != 0) print_error("frame %s: %s\n", ts, err.msg);
    assert_int_equal(rc, 0);
    for (int i = 0; i < ROWS * COLS; i++)
        if (hu[i] != px[i] - 1024) fail_msg("%s: pixel %d is %d, wrote %d", ts, i, hu[i], px[i] - 1024);

    /* Wrong expectations of the caller are refused with a reason. */
    assert_int_equal(os_dicom_read_frame_hu(path, 0, hu, COLS, ROWS, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "expected"));
    assert_int_equal(os_dicom_read_frame_hu(path, 1, hu, ROWS, COLS, &err), -EINVAL);
    free(px);
    free(hu);
}

static void test_roundtrip_implicit(void **s) { (void)s; roundtrip(OS_TS_IMPLICIT_LE); }
static void test_roundtrip_explicit(void **s) { (void)s; roundtrip(OS_TS_EXPLICIT_LE); }
static void test_roundtrip_jpeg_lossless(void **s) { (void)s; roundtrip(OS_TS_JPEG_LOSSLESS_SV1); }
static void test_roundtrip_jpeg_ls(void **s) { (void)s; roundtrip(OS_TS_JPEG_LS_LOSSLESS); }
static void test_roundtrip_rle(void **s) { (void)s; roundtrip(OS_TS_RLE); }
static void test_roundtrip_j2k(void **s) { (void)s; roundtrip(OS_TS_J2K_LOSSLESS); }

static void test_new_uid(void **s) {
    (void)s;
    char a[OS_UID_MAX], b[OS_UID_MAX];
    os_dicom_new_uid(a);
    os_dicom_new_uid(b);
    assert_string_not_equal(a, b);
    assert_true(strncmp(a, "2.25.", 5) == 0);
    assert_true(strlen(a) <= 64 && strlen(a) > 5);
    assert_true(strspn(a + 5, "0123456789") == strlen(a + 5));
    assert_true(a[5] != '0');
}

/* ---- files on disk -------------------------------------------------------------- */

static unsigned char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(*len);
    assert_int_equal(fread(buf, 1, *len, f), *len);
    fclose(f);
    return buf;
}

static void spill(const char *path, const unsigned char *buf, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    fclose(f);
}

static void write_sample(const char *ts, const char *name, char *path, size_t cap) {
    char uids[3][OS_UID_MAX];
    os_ct_write w;
    fill_write(&w, ts, uids);
    int16_t px[ROWS * COLS];
    make_pattern(px, ROWS, COLS, 3);
    tmp_path(path, cap, name);
    os_error err = {0};
    assert_int_equal(os_dicom_write_ct(&w, px, path, &err), 0);
}

static void check_truncated(const char *ts) {
    char path[512], cut[512];
    write_sample(ts, "whole.dcm", path, sizeof path);
    size_t len;
    unsigned char *buf = slurp(path, &len);
    tmp_path(cut, sizeof cut, "cut.dcm");
    spill(cut, buf, len / 2);
    free(buf);

    os_dicom_header h;
    os_error err = {0};
    int rc = os_dicom_read_header(cut, &h, &err);
    assert_true(rc < 0 || h.pixel_data_ok == 0);
    print_message("%s cut in half: %s\n", ts, rc < 0 ? err.msg : "header read, pixel_data_ok=0");
    if (rc < 0) {
        assert_non_null(strstr(err.msg, cut));
        assert_true(strlen(err.msg) > strlen(cut) + 10);
    }
    int16_t hu[ROWS * COLS];
    assert_true(os_dicom_read_frame_hu(cut, 0, hu, ROWS, COLS, &err) < 0);
    assert_non_null(strstr(err.msg, cut));
}

static void test_truncated_native(void **s) { (void)s; check_truncated(OS_TS_EXPLICIT_LE); }
static void test_truncated_j2k(void **s) { (void)s; check_truncated(OS_TS_J2K_LOSSLESS); }

static void test_garbage_after_meta(void **s) {
    (void)s;
    char path[512];
    write_sample(OS_TS_EXPLICIT_LE, "garbage.dcm", path, sizeof path);
    size_t len;
    unsigned char *buf = slurp(path, &len);
    /* preamble + "DICM", then (0002,0000) UL whose value is the meta group's length */
    assert_memory_equal(buf + 128, "DICM", 4);
    size_t meta_end = 132 + 12 + (size_t)(buf[140] | buf[141] << 8 | buf[142] << 16 | buf[143] << 24);
    unsigned seed = 42;
    for (size_t i = meta_end; i < len; i++) {
        seed = seed * 1103515245u + 12345u;
        buf[i] = (unsigned char)(seed >> 16);
    }
    spill(path, buf, len);
    free(buf);
    os_dicom_header h;
    os_error err = {0};
    assert_true(os_dicom_read_header(path, &h, &err) < 0);
    assert_non_null(strstr(err.msg, path));
}

static void test_missing_file(void **s) {
    (void)s;
    os_dicom_header h;
    os_error err = {0};
    assert_int_equal(os_dicom_read_header("/nonexistent/x.dcm", &h, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "/nonexistent/x.dcm"));
}

/* Native files with other sample formats: rewrite the written header's values in
 * place (Explicit VR Little Endian keeps each US value at a fixed offset). */
static void set_us(unsigned char *buf, size_t len, uint16_t elem, uint16_t value) {
    unsigned char key[6] = {0x28, 0x00, (unsigned char)(elem & 0xff), (unsigned char)(elem >> 8), 'U', 'S'};
    for (size_t i = 132; i + 10 <= len; i++)
        if (memcmp(buf + i, key, 6) == 0) {
            buf[i + 8] = (unsigned char)(value & 0xff);
            buf[i + 9] = (unsigned char)(value >> 8);
            return;
        }
    fail_msg("(0028,%04x) not found", elem);
}

static void check_sample_format(int is_signed) {
    char path[512];
    char uids[3][OS_UID_MAX];
    os_ct_write w;
    fill_write(&w, OS_TS_EXPLICIT_LE, uids);
    w.rescale_intercept = 0;
    /* 12 bits stored, with junk in the 4 unused high bits that a reader must ignore. */
    int16_t px[ROWS * COLS];
    int expect[ROWS * COLS];
    for (int i = 0; i < ROWS * COLS; i++) {
        int v12 = (i * 37) & 0xfff;
        int junk = (i % 16) << 12;
        px[i] = (int16_t)(uint16_t)(v12 | junk);
        expect[i] = is_signed && v12 >= 2048 ? v12 - 4096 : v12;
    }
    tmp_path(path, sizeof path, "format.dcm");
    os_error err = {0};
    assert_int_equal(os_dicom_write_ct(&w, px, path, &err), 0);
    size_t len;
    unsigned char *buf = slurp(path, &len);
    set_us(buf, len, 0x0101, 12); /* BitsStored */
    set_us(buf, len, 0x0102, 11); /* HighBit */
    set_us(buf, len, 0x0103, (uint16_t)is_signed);
    spill(path, buf, len);
    free(buf);
    int16_t hu[ROWS * COLS];
    assert_int_equal(os_dicom_read_frame_hu(path, 0, hu, ROWS, COLS, &err), 0);
    for (int i = 0; i < ROWS * COLS; i++)
        if (hu[i] != expect[i]) fail_msg("pixel %d: %d, expected %d", i, hu[i], expect[i]);
}

static void test_unsigned_12bit(void **s) { (void)s; check_sample_format(0); }
static void test_signed_12bit(void **s) { (void)s; check_sample_format(1); }

/* Enhanced CT keeps geometry and rescale in functional groups. The file is made from a
 * classic one with DCMTK's dcmodify, so the test skips where DCMTK's tools are absent. */
static void test_enhanced_ct(void **s) {
    (void)s;
    if (system("command -v dcmodify >/dev/null 2>&1") != 0) {
        print_message("dcmodify absent: skipping the Enhanced CT case\n");
        skip();
    }
    char path[512], cmd[2048];
    write_sample(OS_TS_EXPLICIT_LE, "enhanced.dcm", path, sizeof path);
    snprintf(cmd, sizeof cmd,
             "dcmodify -q -nb -ma '(0008,0016)=" OS_SOP_ENHANCED_CT "' -e '(0020,0032)' "
             "-e '(0020,0037)' -e '(0028,0030)' -e '(0018,0050)' -e '(0028,1052)' -e '(0028,1053)' "
             "-i '(0028,0008)=1' "
             "-i '(5200,9229)[0].(0020,9116)[0].(0020,0037)=0\\1\\0\\0\\0\\-1' "
             "-i '(5200,9229)[0].(0028,9110)[0].(0028,0030)=0.5\\0.6' "
             "-i '(5200,9229)[0].(0028,9110)[0].(0018,0050)=2.5' "
             "-i '(5200,9229)[0].(0028,9145)[0].(0028,1052)=-1000' "
             "-i '(5200,9229)[0].(0028,9145)[0].(0028,1053)=2' "
             "-i '(5200,9230)[0].(0020,9113)[0].(0020,0032)=10\\20\\30' '%s'",
             path);
    assert_int_equal(system(cmd), 0);

    os_dicom_header h;
    os_error err = {0};
    assert_int_equal(os_dicom_read_header(path, &h, &err), 0);
    assert_string_equal(h.sop_class_uid, OS_SOP_ENHANCED_CT);
    assert_int_equal(h.frames, 1);
    assert_true(h.has_position && h.has_orientation);
    assert_true(h.position[0] == 10 && h.position[1] == 20 && h.position[2] == 30);
    assert_true(h.orientation[1] == 1 && h.orientation[5] == -1);
    assert_true(h.slice_thickness == 2.5);
    assert_true(h.pixel_spacing[0] == 0.5 && h.pixel_spacing[1] == 0.6);
    assert_int_equal(h.pixel_data_ok, 1);

    os_slice_geom *g = NULL;
    size_t n = 0;
    assert_int_equal(os_dicom_read_geometry(path, &g, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_true(g[0].rescale_slope == 2 && g[0].rescale_intercept == -1000);
    assert_true(g[0].position[2] == 30 && g[0].thickness == 2.5);
    free(g);

    int16_t px[ROWS * COLS], hu[ROWS * COLS];
    make_pattern(px, ROWS, COLS, 3);
    assert_int_equal(os_dicom_read_frame_hu(path, 0, hu, ROWS, COLS, &err), 0);
    for (int i = 0; i < ROWS * COLS; i++) assert_int_equal(hu[i], px[i] * 2 - 1000);
}

/* ---- real data ------------------------------------------------------------------ */

static int shared_file(const char *folder, char *out, size_t cap) {
    const char *shared = getenv("OS_SHARED_DIR");
    if (!shared) return 0;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/data/%s", shared, folder);
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    char best[256] = "";
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' && (best[0] == '\0' || strcmp(e->d_name, best) < 0))
            snprintf(best, sizeof best, "%s", e->d_name);
    closedir(d);
    if (!best[0]) return 0;
    snprintf(out, cap, "%s/%s", dir, best);
    return 1;
}

static void test_siemens_j2k(void **s) {
    (void)s;
    char path[1024];
    if (!shared_file("ct-siemens-j2k", path, sizeof path)) {
        print_message("OS_SHARED_DIR/data/ct-siemens-j2k absent: skipping the real J2K slice\n");
        skip();
    }
    os_dicom_header h;
    os_error err = {0};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = os_dicom_read_header(path, &h, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc) print_error("%s\n", err.msg);
    assert_int_equal(rc, 0);
    print_message("read_header on a 512x512 J2K slice: %.2f ms\n",
                  (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
    assert_string_equal(h.transfer_syntax_uid, OS_TS_J2K_LOSSLESS);
    assert_string_equal(h.sop_class_uid, OS_SOP_CT);
    assert_true(h.sop_instance_uid[0] && h.study_uid[0] && h.series_uid[0]);
    assert_int_equal(h.rows, 512);
    assert_int_equal(h.cols, 512);
    assert_int_equal(h.pixel_data_ok, 1);
    assert_string_equal(h.convolution_kernel, "Br38f\\3");
    assert_true(h.slice_thickness == 3.0);

    int16_t *hu = malloc(sizeof *hu * 512 * 512);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = os_dicom_read_frame_hu(path, 0, hu, 512, 512, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc) print_error("%s\n", err.msg);
    assert_int_equal(rc, 0);
    print_message("read_frame_hu (OpenJPEG decode): %.1f ms\n",
                  (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
    int lo = 32767, hi = -32768;
    for (int i = 0; i < 512 * 512; i++) {
        if (hu[i] < lo) lo = hu[i];
        if (hu[i] > hi) hi = hu[i];
    }
    print_message("HU range %d..%d, corner %d\n", lo, hi, hu[5 * 512 + 5]);
    assert_true(lo >= -1100 && lo <= -900);
    assert_true(hi >= 500 && hi <= 4000);
    /* Top-left corner is air outside the body. */
    assert_true(hu[5 * 512 + 5] < -900);
    free(hu);
}

static void test_empty_uids(void **s) {
    (void)s;
    char path[1024];
    if (!shared_file("ct-bad-empty-uids", path, sizeof path)) {
        print_message("OS_SHARED_DIR/data/ct-bad-empty-uids absent: skipping\n");
        skip();
    }
    os_dicom_header h;
    os_error err = {0};
    assert_int_equal(os_dicom_read_header(path, &h, &err), 0);
    assert_string_equal(h.sop_instance_uid, "");
    assert_string_equal(h.study_uid, "");
    assert_string_equal(h.series_uid, "");
    assert_string_equal(h.sop_class_uid, ""); /* empty in this file's dataset too */
    assert_string_equal(h.transfer_syntax_uid, OS_TS_J2K_LOSSLESS);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_uid),
        cmocka_unit_test(test_roundtrip_implicit),
        cmocka_unit_test(test_roundtrip_explicit),
        cmocka_unit_test(test_roundtrip_jpeg_lossless),
        cmocka_unit_test(test_roundtrip_jpeg_ls),
        cmocka_unit_test(test_roundtrip_rle),
        cmocka_unit_test(test_roundtrip_j2k),
        cmocka_unit_test(test_truncated_native),
        cmocka_unit_test(test_truncated_j2k),
        cmocka_unit_test(test_garbage_after_meta),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_unsigned_12bit),
        cmocka_unit_test(test_signed_12bit),
        cmocka_unit_test(test_enhanced_ct),
        cmocka_unit_test(test_siemens_j2k),
        cmocka_unit_test(test_empty_uids),
    };
    return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
