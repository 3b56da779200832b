/* lib/select: each eligibility rule with its sentence, the preference order between
 * eligible series, and the kernel table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "osteoscout/select.h"

static const os_select_rules rules = {30, 5.0, 80.0, 10.0};

static os_series_summary good(const char *uid) {
    os_series_summary s;
    memset(&s, 0, sizeof s);
    snprintf(s.series_uid, sizeof s.series_uid, "%s", uid);
    snprintf(s.study_uid, sizeof s.study_uid, "1.2.9");
    snprintf(s.modality, sizeof s.modality, "CT");
    snprintf(s.kernel, sizeof s.kernel, "B30f");
    snprintf(s.state, sizeof s.state, "complete");
    s.n_instances = 200;
    s.n_orientations = 1;
    s.has_orientation = 1;
    const double o[6] = {1, 0, 0, 0, 1, 0};
    memcpy(s.orientation, o, sizeof o);
    s.slice_thickness = 2.0;
    s.z_min = -400;
    s.z_max = 0;
    return s;
}

static char reasons[8][OS_SELECT_REASON_MAX];

/* One good series plus the one under test: the test one must be rejected with `why`. */
static void expect_rejected(os_series_summary bad, const char *why) {
    os_series_summary s[2] = {good("1.1"), bad};
    assert_int_equal(os_select_series(s, 2, &rules, reasons), 0);
    if (!strstr(reasons[1], why)) fail_msg("reason '%s' lacks '%s'", reasons[1], why);
}

static void test_single_good_series_is_chosen(void **state) {
    (void)state;
    os_series_summary s = good("1.1");
    assert_int_equal(os_select_series(&s, 1, &rules, reasons), 0);
    assert_string_equal(reasons[0], "chosen");
}

static void test_rules(void **state) {
    (void)state;
    os_series_summary s;

    s = good("1.2");
    snprintf(s.modality, sizeof s.modality, "SR");
    expect_rejected(s, "modality SR is not CT");

    s = good("1.2");
    snprintf(s.state, sizeof s.state, "receiving");
    expect_rejected(s, "still receiving");

    s = good("1.2");
    s.n_instances = 2;
    s.n_localizer = 2;
    expect_rejected(s, "localizer/scout series");

    s = good("1.2");
    s.n_localizer = 1;
    expect_rejected(s, "contains 1 localizer instance");

    s = good("1.2");
    s.n_orientations = 3;
    expect_rejected(s, "mixed orientations (3 distinct)");

    s = good("1.2");
    const double sag[6] = {0, 1, 0, 0, 0, -1};
    memcpy(s.orientation, sag, sizeof sag);
    expect_rejected(s, "not axial (normal 90° from the patient axis)");

    s = good("1.2");
    s.has_orientation = 0;
    expect_rejected(s, "no slice orientation");

    s = good("1.2");
    s.n_instances = 12;
    expect_rejected(s, "only 12 slices (need 30)");

    s = good("1.2");
    s.slice_thickness = 7.5;
    expect_rejected(s, "slice thickness 7.5 mm (max 5)");

    s = good("1.2");
    s.z_min = 0;
    s.z_max = 42;
    expect_rejected(s, "z coverage 42 mm (need 80)");

    /* Several failures are all named. */
    s = good("1.2");
    s.n_instances = 12;
    s.z_max = s.z_min + 42;
    expect_rejected(s, "only 12 slices (need 30); z coverage 42 mm (need 80)");
}

static void test_small_tilt_is_axial(void **state) {
    (void)state;
    os_series_summary s = good("1.1");
    /* 8° rotation about x: still within 10° of axial. */
    double c = 0.990268069, sn = 0.139173101;
    const double o[6] = {1, 0, 0, 0, c, sn};
    memcpy(s.orientation, o, sizeof o);
    assert_int_equal(os_select_series(&s, 1, &rules, reasons), 0);
}

static void test_unknown_thickness_is_eligible(void **state) {
    (void)state;
    os_series_summary s = good("1.1");
    s.slice_thickness = 0;
    assert_int_equal(os_select_series(&s, 1, &rules, reasons), 0);
    assert_string_equal(reasons[0], "chosen (slice thickness unknown)");
}

static void test_none_eligible(void **state) {
    (void)state;
    os_series_summary s[2] = {good("1.1"), good("1.2")};
    s[0].n_instances = 3;
    snprintf(s[1].modality, sizeof s[1].modality, "SR");
    assert_int_equal(os_select_series(s, 2, &rules, reasons), -1);
    assert_non_null(strstr(reasons[0], "only 3 slices"));
    assert_non_null(strstr(reasons[1], "not CT"));
}

static void test_preference_order(void **state) {
    (void)state;
    os_series_summary s[4];

    /* Soft kernel beats everything else. */
    s[0] = good("1.1");
    snprintf(s[0].kernel, sizeof s[0].kernel, "B70f");
    s[0].n_instances = 400;
    s[1] = good("1.2");
    s[1].slice_thickness = 4.0;
    s[1].series_number = 3;
    snprintf(s[1].description, sizeof s[1].description, "Abdomen 2.0 B30f");
    assert_int_equal(os_select_series(s, 2, &rules, reasons), 1);
    assert_string_equal(reasons[0], "eligible, but series 3 \"Abdomen 2.0 B30f\" is preferred "
                                    "(soft-tissue kernel B30f over sharp kernel B70f)");

    /* Same kernel class: thickness within 1.5–3 mm beats more slices. */
    s[0] = good("1.1");
    s[0].slice_thickness = 1.0;
    s[0].n_instances = 400;
    s[1] = good("1.2");
    assert_int_equal(os_select_series(s, 2, &rules, reasons), 1);
    assert_non_null(strstr(reasons[0], "slice thickness 2.0 mm is within 1.5–3 mm"));

    /* Then the most slices. */
    s[0] = good("1.1");
    s[1] = good("1.2");
    s[1].n_instances = 250;
    assert_int_equal(os_select_series(s, 2, &rules, reasons), 1);
    assert_non_null(strstr(reasons[0], "more slices: 250 vs 200"));

    /* Then the lowest UID, whatever the input order. */
    s[0] = good("1.9");
    s[1] = good("1.3");
    s[2] = good("1.5");
    assert_int_equal(os_select_series(s, 3, &rules, reasons), 1);
    assert_non_null(strstr(reasons[0], "lower series UID"));

    /* Unknown kernel beats sharp, loses to soft. */
    s[0] = good("1.1");
    snprintf(s[0].kernel, sizeof s[0].kernel, "B70f");
    s[1] = good("1.2");
    snprintf(s[1].kernel, sizeof s[1].kernel, "XYZ");
    assert_int_equal(os_select_series(s, 2, &rules, reasons), 1);
    s[2] = good("1.3");
    assert_int_equal(os_select_series(s, 3, &rules, reasons), 2);

    /* An ineligible soft series does not win over an eligible sharp one. */
    s[0] = good("1.1");
    snprintf(s[0].kernel, sizeof s[0].kernel, "BONE");
    s[1] = good("1.2");
    s[1].n_instances = 10;
    assert_int_equal(os_select_series(s, 2, &rules, reasons), 0);
    assert_string_equal(reasons[0], "chosen");
}

static void test_kernel_table(void **state) {
    (void)state;
    static const struct {
        const char *k;
        int soft;
    } cases[] = {
        /* Siemens */
        {"B30f", 1}, {"B31s", 1}, {"Br40", 1}, {"Br40d\\3", 1}, {"I31f", 1}, {"Qr40", 1},
        {"Hr38", 1}, {"B45f", 1}, {"B60f", -1}, {"B70f", -1}, {"Br64", -1}, {"Bl57d", -1},
        {"I70f", -1}, {"Qr59\\3", -1}, {"B46f", 0},
        /* GE */
        {"STANDARD", 1}, {"SOFT", 1}, {"standard", 1}, {"DETAIL", 0}, {"BONE", -1},
        {"BONEPLUS", -1}, {"LUNG", -1}, {"EDGE", -1}, {"SHARP", -1},
        /* Philips */
        {"A", 1}, {"B", 1}, {"C", 1}, {"UB", 1}, {"CB", 1}, {"D", -1}, {"E", -1}, {"L", -1},
        {"YA", -1}, {"YB", -1}, {"YC", -1},
        /* Canon / Toshiba */
        {"FC01", 1}, {"FC08", 1}, {"FC18", 1}, {"FC30", -1}, {"FC52", -1}, {"FC86", -1},
        /* Generic words */
        {"B_SOFT_B", 1}, {"SOFT TISSUE", 1}, {"ABDOMEN", 1}, {"B_SHARP_C", -1}, {"BONE SHARP", -1},
        {"LUNG ENHANCED", -1},
        /* Unknown */
        {"", 0}, {"XYZ", 0}, {"  ", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int got = os_select_kernel_softness(cases[i].k);
        if (got != cases[i].soft)
            fail_msg("kernel '%s': got %d, want %d", cases[i].k, got, cases[i].soft);
    }
    assert_int_equal(os_select_kernel_softness(NULL), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_good_series_is_chosen),
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_small_tilt_is_axial),
        cmocka_unit_test(test_unknown_thickness_is_eligible),
        cmocka_unit_test(test_none_eligible),
        cmocka_unit_test(test_preference_order),
        cmocka_unit_test(test_kernel_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
