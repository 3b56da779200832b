/* Unit tests for lib/dicom's report writers: a TID 1500 Comprehensive SR and RGB Secondary
 * Capture pages written for a small CT series, checked with dicom3tools (dciodvfy per object,
 * dcentvfy across CT, SR and SC) and read back with DCMTK's dsrdump. Skipped when dicom3tools
 * is not installed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "osteoscout/dicom.h"
#include "osteoscout/dicom_report.h"
#include "osteoscout/report.h"

enum { ROWS = 64, COLS = 64, SLICES = 4, PAGE_ROWS = 96, PAGE_COLS = 128 };

static char tmpdir[256];
static char study_uid[OS_UID_MAX], ct_series_uid[OS_UID_MAX];
static char ct_uids[SLICES][OS_UID_MAX];
static const char *ct_uid_ptrs[SLICES];
static char ct_paths[SLICES][512];

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

/* A four-slice CT series, as a scanner would send it. */
static int setup_ct(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/os_test_dicom_report_XXXXXX");
    if (!mkdtemp(tmpdir)) return -1;
    os_dicom_new_uid(study_uid);
    os_dicom_new_uid(ct_series_uid);
    int16_t *px = malloc(sizeof *px * ROWS * COLS);
    if (!px) return -1;
    for (int i = 0; i < ROWS * COLS; i++) px[i] = (int16_t)(1024 + (i % COLS) * 10 - 300);
    for (int s = 0; s < SLICES; s++) {
        os_dicom_new_uid(ct_uids[s]);
        ct_uid_ptrs[s] = ct_uids[s];
        os_ct_write w;
        memset(&w, 0, sizeof w);
        w.transfer_syntax_uid = OS_TS_EXPLICIT_LE;
        w.patient_name = "Phantom^Report";
        w.patient_id = "PH0042";
        w.patient_sex = "F";
        w.patient_size_m = 1.62;
        w.patient_age = "071Y";
        w.study_uid = study_uid;
        w.series_uid = ct_series_uid;
        w.sop_uid = ct_uids[s];
        w.study_date = "20240305";
        w.study_time = "093000";
        w.accession_number = "ACC42";
        w.study_description = "CT ABDOMEN";
        w.series_description = "Body 2.0";
        w.manufacturer = "Phantom";
        w.convolution_kernel = "B30f";
        w.series_number = 2;
        w.instance_number = s + 1;
        w.position[0] = -100;
        w.position[1] = -100;
        w.position[2] = -200.0 + 40.0 * s;
        double o[6] = {1, 0, 0, 0, 1, 0};
        memcpy(w.orientation, o, sizeof o);
        w.pixel_spacing[0] = w.pixel_spacing[1] = 3.125;
        w.slice_thickness = 2;
        w.kvp = 120;
        w.rows = ROWS;
        w.cols = COLS;
        w.rescale_slope = 1;
        w.rescale_intercept = -1024;
        snprintf(ct_paths[s], sizeof ct_paths[s], "%s/ct%d.dcm", tmpdir, s);
        os_error err = {0};
        if (os_dicom_write_ct(&w, px, ct_paths[s], &err) != 0) {
            fprintf(stderr, "write CT: %s\n", err.msg);
            free(px);
            return -1;
        }
    }
    free(px);
    return 0;
}

static int teardown(void **state) {
    if (getenv("OS_TEST_KEEP")) return 0;
    return remove_dir(state);
}

static int have_tool(const char *name) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", name);
    return system(cmd) == 0;
}

/* Runs cmd with stderr folded into stdout; returns the output (malloc'd). */
static char *run_capture(const char *cmd) {
    char full[4096];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *f = popen(full, "r");
    assert_non_null(f);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 1024) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    buf[len] = '\0';
    pclose(f);
    return buf;
}

/* No line of the validator's output starts with "Error". */
static void assert_no_errors(const char *what, const char *out) {
    const char *line = out;
    int errors = 0;
    while (line && *line) {
        if (strncmp(line, "Error", 5) == 0) errors++;
        line = strchr(line, '\n');
        if (line) line++;
    }
    if (errors) fail_msg("%s reports %d error(s):\n%s", what, errors, out);
}

static void validate(const char *path) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "dciodvfy '%s'", path);
    char *out = run_capture(cmd);
    assert_no_errors(cmd, out);
    free(out);
}

static cJSON *make_result(void) {
    char json[8192];
    snprintf(json, sizeof json,
             "{\"result_version\":1,\"software\":{\"name\":\"OsteoScout\",\"version\":\"0.9.1\"},"
             "\"vertebrae\":["
             "{\"label\":\"L1\",\"center_lps_mm\":[0,10,-160],\"height_anterior_mm\":17.5,"
             "\"height_middle_mm\":21.0,\"height_posterior_mm\":27.25,\"ratio_min_max\":0.642,"
             "\"genant_grade\":2,\"deformity\":\"wedge\",\"trabecular_hu_mean\":98.4,"
             "\"trabecular_hu_median\":97,\"confidence\":0.93,"
             "\"reference\":{\"sop_instance_uid\":\"%s\",\"sop_class_uid\":\"%s\",\"column\":31,\"row\":40}},"
             "{\"label\":\"L2\",\"center_lps_mm\":[0,10,-120],\"height_anterior_mm\":null,"
             "\"height_middle_mm\":null,\"height_posterior_mm\":null,\"ratio_min_max\":null,"
             "\"genant_grade\":-1,\"deformity\":null,\"trabecular_hu_mean\":121.0,"
             "\"trabecular_hu_median\":null,\"confidence\":0.41,"
             "\"reference\":{\"sop_instance_uid\":\"%s\",\"sop_class_uid\":\"%s\",\"column\":32,\"row\":38}},"
             "{\"label\":\"L4\",\"height_anterior_mm\":null,\"trabecular_hu_mean\":null,\"genant_grade\":null}"
             "],"
             "\"muscle\":{\"L3\":{\"slice_z_mm\":-80,\"area_cm2\":112.3,\"mean_hu\":34.5,"
             "\"index_cm2_m2\":null,"
             "\"reference\":{\"sop_instance_uid\":\"%s\",\"sop_class_uid\":\"%s\",\"column\":32,\"row\":32}}},"
             "\"bone_density\":{},"
             /* As lib/plugin writes them (models.h): cumulative_risk by year; an older model
              * with "risk"; a failed model, which has no group. */
             "\"models\":{\"vfx\":{\"name\":\"vfx-risk\",\"version\":\"2024.1\",\"plugin\":\"multitask\","
             "\"synthetic\":true,\"calibrated\":false,\"prevalent_fracture_probability\":0.81,"
             "\"cumulative_risk\":{\"1\":0.05,\"2\":0.09,\"3\":0.13,\"4\":0.16,\"5\":0.2},"
             "\"outputs\":{},\"text\":\"\",\"seconds\":0.02,\"status\":\"ok\",\"error\":null},"
             "\"legacy\":{\"name\":\"legacy-risk\",\"version\":\"0.3\",\"risk\":{\"2\":0.07,\"3\":0.11,\"5\":0.17}},"
             "\"broken\":{\"name\":\"broken-model\",\"version\":\"1\",\"prevalent_fracture_probability\":null,"
             "\"cumulative_risk\":null,\"status\":\"failed\",\"error\":\"cannot load weights\"}},"
             "\"warnings\":[]}",
             ct_uids[1], OS_SOP_CT, ct_uids[2], OS_SOP_CT, ct_uids[3], OS_SOP_CT);
    cJSON *r = cJSON_Parse(json);
    assert_non_null(r);
    return r;
}

static os_report_source make_source(void) {
    os_report_source src = {ct_paths[0], OS_SOP_CT, ct_uid_ptrs, SLICES};
    return src;
}

/* A synthetic page: a gradient with a frame, no text. */
static void make_page(os_report_page *p, int k) {
    memset(p, 0, sizeof *p);
    p->rows = PAGE_ROWS;
    p->cols = PAGE_COLS;
    p->rgb = malloc((size_t)PAGE_ROWS * PAGE_COLS * 3);
    assert_non_null(p->rgb);
    for (int y = 0; y < PAGE_ROWS; y++)
        for (int x = 0; x < PAGE_COLS; x++) {
            unsigned char *px = p->rgb + ((size_t)y * PAGE_COLS + x) * 3;
            int edge = x < 2 || y < 2 || x >= PAGE_COLS - 2 || y >= PAGE_ROWS - 2;
            px[0] = edge ? 255 : (unsigned char)(x * 2);
            px[1] = edge ? 196 : (unsigned char)(y * 2);
            px[2] = (unsigned char)(k * 100);
        }
    snprintf(p->title, sizeof p->title, "Test page %d", k + 1);
}

static void opts_defaults(void **state) {
    (void)state;
    os_report_opts o;
    memset(&o, 0xff, sizeof o);
    os_report_opts_defaults(&o);
    assert_int_equal(o.sr_series_number, 9002);
    assert_int_equal(o.sc_series_number, 9001);
    assert_non_null(o.device_name);
    assert_string_equal(o.device_name, "OsteoScout");
    assert_null(o.device_uid);
}

static void sr_and_sc_validate(void **state) {
    (void)state;
    if (!have_tool("dciodvfy") || !have_tool("dcentvfy") || !have_tool("dsrdump")) {
        print_message("dicom3tools (dciodvfy, dcentvfy) or dsrdump not installed: skipped\n");
        skip();
    }
    os_report_opts o;
    os_report_opts_defaults(&o);
    o.device_name = "OSTEOSCOUT_TEST";
    os_report_source src = make_source();
    cJSON *result = make_result();
    os_error err = {0};

    char sr_series[OS_UID_MAX], sc_series[OS_UID_MAX], sr_uid[OS_UID_MAX] = "", sr_path[600];
    os_dicom_new_uid(sr_series);
    os_dicom_new_uid(sc_series);
    snprintf(sr_path, sizeof sr_path, "%s/sr.dcm", tmpdir);
    int rc = os_dicom_write_sr(result, &src, &o, sr_series, sr_path, sr_uid, &err);
    if (rc != 0) fail_msg("write SR: %s", err.msg);
    assert_true(strncmp(sr_uid, "2.25.", 5) == 0);

    char sc_paths[2][600];
    char sc_uids[2][OS_UID_MAX];
    for (int k = 0; k < 2; k++) {
        os_report_page page;
        make_page(&page, k);
        snprintf(sc_paths[k], sizeof sc_paths[k], "%s/sc%d.dcm", tmpdir, k + 1);
        rc = os_dicom_write_sc(&page, k + 1, &src, &o, sc_series, sc_paths[k], sc_uids[k], &err);
        free(page.rgb);
        if (rc != 0) fail_msg("write SC %d: %s", k + 1, err.msg);
    }
    assert_string_not_equal(sc_uids[0], sc_uids[1]);

    /* Headers: same study, the caller's series, the configured series numbers. */
    os_dicom_header h;
    assert_int_equal(os_dicom_read_header(sr_path, &h, &err), 0);
    assert_string_equal(h.study_uid, study_uid);
    assert_string_equal(h.series_uid, sr_series);
    assert_string_equal(h.sop_instance_uid, sr_uid);
    assert_string_equal(h.sop_class_uid, "1.2.840.10008.5.1.4.1.1.88.33");
    assert_string_equal(h.modality, "SR");
    assert_int_equal(h.series_number, 9002);
    for (int k = 0; k < 2; k++) {
        assert_int_equal(os_dicom_read_header(sc_paths[k], &h, &err), 0);
        assert_string_equal(h.study_uid, study_uid);
        assert_string_equal(h.series_uid, sc_series);
        assert_string_equal(h.sop_instance_uid, sc_uids[k]);
        assert_string_equal(h.sop_class_uid, "1.2.840.10008.5.1.4.1.1.7");
        assert_string_equal(h.modality, "OT");
        assert_string_equal(h.image_type, "DERIVED\\SECONDARY\\OTHER");
        assert_int_equal(h.series_number, 9001);
        assert_int_equal(h.instance_number, k + 1);
        assert_int_equal(h.has_position, 0);
        assert_int_equal(h.has_orientation, 0);
        assert_int_equal(h.rows, PAGE_ROWS);
        assert_int_equal(h.cols, PAGE_COLS);
        assert_int_equal(h.pixel_data_ok, 1);
    }

    /* dciodvfy per object, dcentvfy across CT, SR and SC. */
    validate(ct_paths[0]);
    validate(sr_path);
    validate(sc_paths[0]);
    validate(sc_paths[1]);
    char cmd[4096];
    int n = snprintf(cmd, sizeof cmd, "dcentvfy");
    for (int s = 0; s < SLICES; s++) n += snprintf(cmd + n, sizeof cmd - n, " '%s'", ct_paths[s]);
    snprintf(cmd + n, sizeof cmd - n, " '%s' '%s' '%s'", sr_path, sc_paths[0], sc_paths[1]);
    char *out = run_capture(cmd);
    assert_no_errors("dcentvfy", out);
    free(out);

    /* The content, read back. */
    snprintf(cmd, sizeof cmd, "dsrdump +Pc +Pu '%s'", sr_path);
    out = run_capture(cmd);
    const char *expect[] = {
        "126000,DCM",              /* Imaging Measurement Report */
        "Comprehensive SR",        /* document type */
        "UNVERIFIED",              /* verification flag */
        "en-US",                   /* language */
        "66794005,SCT",            /* finding site: L1 vertebra */
        "14293000,SCT",            /* finding site: L2 vertebra */
        "112031,DCM",              /* trabecular attenuation */
        "[hnsf'U]",                /* in Hounsfield units */
        "\"98.4\" ([hnsf'U]",       /* L1 trabecular mean */
        "\"121\" ([hnsf'U]",        /* L2 trabecular mean (the group with nulls) */
        "52101004,SCT",            /* fracture present (L1, grade 2) */
        "VB-GENANT,99OSTEOSCOUT",  /* Genant grade */
        "42798000,SCT",            /* muscle area */
        "\"112.3\" (cm2",           /* L3 muscle area */
        "VFX-PROB,99OSTEOSCOUT",   /* prevalent fracture probability */
        "\"0.81\" (1,UCUM",         /* ... its value */
        "VFX-RISK-1Y,99OSTEOSCOUT",/* cumulative_risk: every year given */
        "VFX-RISK-4Y,99OSTEOSCOUT",
        "VFX-RISK-5Y,99OSTEOSCOUT",/* 5-year risk */
        "\"0.13\" (1,UCUM",         /* 3-year cumulative risk */
        "vfx-risk",                /* algorithm name */
        "2024.1",                  /* algorithm version */
        "legacy-risk",             /* a model with "risk" instead of "cumulative_risk" */
        "\"0.17\" (1,UCUM",         /* ... its 5-year risk */
        "OSTEOSCOUT_TEST",         /* device observer name */
        "SCOORD",                  /* measurements tied to slices */
        ct_uids[1],                /* the slice L1 was measured on */
    };
    for (size_t i = 0; i < sizeof expect / sizeof *expect; i++)
        if (!strstr(out, expect[i])) fail_msg("dsrdump lacks \"%s\":\n%s", expect[i], out);
    /* L4 had nothing measured: no group for it; no SMI since the index is unknown. */
    assert_null(strstr(out, "L4 vertebra"));
    assert_null(strstr(out, "SMI,99OSTEOSCOUT"));
    /* A failed model has no numbers, hence no group. */
    assert_null(strstr(out, "broken-model"));
    free(out);

    /* Read back through lib/dicom's own SR reader (what `osteoscout selftest` uses). */
    os_sr_content c;
    assert_int_equal(os_dicom_read_sr(sr_path, &c, &err), 0);
    assert_string_equal(c.study_uid, study_uid);
    assert_string_equal(c.series_uid, sr_series);
    assert_string_equal(c.sop_instance_uid, sr_uid);
    assert_string_equal(c.sop_class_uid, "1.2.840.10008.5.1.4.1.1.88.33");
    assert_string_equal(c.root_concept, "126000");
    assert_int_equal(c.series_number, 9002);
    const os_sr_num *x = os_sr_find(&c, "L1 vertebra", "112031", NULL);
    assert_non_null(x);
    assert_true(fabs(x->value - 98.4) < 1e-9);
    assert_string_equal(x->unit, "[hnsf'U]");
    assert_string_equal(x->finding_site, "66794005");
    x = os_sr_find(&c, "66794005", "121207", "255549009"); /* L1 anterior height */
    assert_non_null(x);
    assert_true(fabs(x->value - 17.5) < 1e-9);
    assert_string_equal(x->meaning, "Anterior vertebral body height");
    x = os_sr_find(&c, "L1 vertebra", "VB-GENANT", NULL);
    assert_non_null(x);
    assert_true(x->value == 2);
    x = os_sr_find(&c, "Skeletal muscle at L3", "42798000", NULL);
    assert_non_null(x);
    assert_true(fabs(x->value - 112.3) < 1e-9);
    x = os_sr_find(&c, "Vertebral fracture risk (vfx-risk)", "VFX-RISK-3Y", NULL);
    assert_non_null(x);
    assert_true(fabs(x->value - 0.13) < 1e-9);
    assert_null(os_sr_find(&c, "L4 vertebra", "112031", NULL));
    assert_null(os_sr_find(&c, "L1 vertebra", "121207", "")); /* every height has its modifier */
    os_sr_content_free(&c);
    assert_true(os_dicom_read_sr(sc_paths[0], &c, &err) < 0); /* an image is no SR */
    os_sr_content_free(&c);

    /* The private scheme is declared. */
    snprintf(cmd, sizeof cmd, "dcmdump +P CodingSchemeDesignator '%s'", sr_path);
    out = run_capture(cmd);
    if (!strstr(out, "99OSTEOSCOUT")) fail_msg("coding scheme not declared:\n%s", out);
    free(out);
    cJSON_Delete(result);
}

static void sr_without_numbers_is_refused(void **state) {
    (void)state;
    os_report_opts o;
    os_report_opts_defaults(&o);
    os_report_source src = make_source();
    cJSON *result = cJSON_Parse("{\"result_version\":1,\"vertebrae\":[{\"label\":\"L1\",\"height_anterior_mm\":null}],"
                                "\"muscle\":{\"L3\":{\"area_cm2\":null}}}");
    assert_non_null(result);
    char series[OS_UID_MAX], uid[OS_UID_MAX], path[600];
    os_dicom_new_uid(series);
    snprintf(path, sizeof path, "%s/empty_sr.dcm", tmpdir);
    os_error err = {0};
    int rc = os_dicom_write_sr(result, &src, &o, series, path, uid, &err);
    assert_int_equal(rc, -ENODATA);
    assert_true(strlen(err.msg) > 0);
    assert_int_equal(access(path, F_OK), -1);
    cJSON_Delete(result);
}

static void bad_arguments(void **state) {
    (void)state;
    os_report_opts o;
    os_report_opts_defaults(&o);
    os_report_source src = make_source();
    char series[OS_UID_MAX], uid[OS_UID_MAX], path[600];
    os_dicom_new_uid(series);
    snprintf(path, sizeof path, "%s/bad_sc.dcm", tmpdir);
    os_report_page page;
    memset(&page, 0, sizeof page);
    os_error err = {0};
    assert_int_equal(os_dicom_write_sc(&page, 1, &src, &o, series, path, uid, &err), -EINVAL);
    os_report_source missing = {"/nonexistent/ct.dcm", OS_SOP_CT, NULL, 0};
    make_page(&page, 0);
    assert_true(os_dicom_write_sc(&page, 1, &missing, &o, series, path, uid, &err) < 0);
    assert_true(strstr(err.msg, "/nonexistent/ct.dcm") != NULL);
    free(page.rgb);
    assert_int_equal(access(path, F_OK), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(opts_defaults),
        cmocka_unit_test(sr_and_sc_validate),
        cmocka_unit_test(sr_without_numbers_is_refused),
        cmocka_unit_test(bad_arguments),
    };
    return cmocka_run_group_tests(tests, setup_ct, teardown);
}
