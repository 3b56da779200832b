/* lib/eval: every metric on cohorts small enough to work by hand, with the working in the
 * comments. Each figure was also confirmed with the reference it imitates (R survival 3.5,
 * riskRegression 2022.11, pROC 1.18); tests/integration/test_evaluate_reference.sh does that
 * comparison on a large random cohort on every run. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "osteoscout/eval.h"

#define EPS 1e-12
#define N(a) (sizeof(a) / sizeof((a)[0]))

static void near(double got, double want, const char *what) {
    if (!(fabs(got - want) <= EPS)) fail_msg("%s: got %.15g, want %.15g", what, got, want);
}

/* ---- cohort A: ties in time (event–event and event–censored) and in score ----
 *   subject  1    2    3    4    5    6    7
 *   time     1    2    2    2    3    4    5
 *   event    1    1    0    1    0    1    0
 *   score   .9   .5   .7   .5   .5   .7   .1
 * Comparable pairs, earlier event first (a subject censored at an event's time is still at
 * risk; events 2 and 4 at time 2 are a tie in time, not comparable):
 *   1 (.9) vs 2..7: all lower                      → 6 concordant
 *   2 (.5) vs 3 (.7) D, 5 (.5) tie, 6 (.7) D, 7 C  → 1 C, 2 D, 1 tie
 *   4 (.5) the same as 2                           → 1 C, 2 D, 1 tie
 *   6 (.7) vs 7 (.1)                               → 1 C
 * Harrell = (9 + 2/2) / (9 + 4 + 2) = 10/15.
 * Censoring KM (events leave first at a shared time): t=2 n=6 d=2 c=1 → G = 1 − 1/4 = 3/4;
 * t=3 n=3 c=1 → G = 1/2. G(T−) at the event times 1, 2, 4: 1, 1, 1/2 → weights 1, 1, 4.
 * Uno = (6 + 1 + 1 + 4 + 2/2) / (12 + 4 + 2) = 13/18. With tau = 2 the event at 4 drops:
 * (8 + 1) / (8 + 4 + 2) = 9/14 (an event at exactly tau is kept). */
static const double a_time[] = {1, 2, 2, 2, 3, 4, 5};
static const int a_event[] = {1, 1, 0, 1, 0, 1, 0};
static const double a_score[] = {.9, .5, .7, .5, .5, .7, .1};

static void test_harrell_with_ties(void **state) {
    (void)state;
    os_eval_concordance c;
    assert_int_equal(os_eval_cindex(a_time, a_event, a_score, 7, OS_EVAL_HARRELL, NAN, &c, NULL), 0);
    near(c.concordant, 9, "concordant");
    near(c.discordant, 4, "discordant");
    near(c.tied_score, 2, "tied in score");
    near(c.tied_time, 1, "tied in time");
    near(c.c, 10.0 / 15, "Harrell");
}

static void test_uno_weights_and_tau(void **state) {
    (void)state;
    os_eval_concordance c;
    assert_int_equal(os_eval_cindex(a_time, a_event, a_score, 7, OS_EVAL_UNO, NAN, &c, NULL), 0);
    near(c.concordant, 12, "weighted concordant");
    near(c.c, 13.0 / 18, "Uno");
    assert_int_equal(os_eval_cindex(a_time, a_event, a_score, 7, OS_EVAL_UNO, 2, &c, NULL), 0);
    near(c.c, 9.0 / 14, "Uno, tau 2");
    assert_int_equal(os_eval_cindex(a_time, a_event, a_score, 7, OS_EVAL_UNO, 3, &c, NULL), 0);
    near(c.c, 9.0 / 14, "Uno, tau 3");
}

/* Floating-point near-ties are ties, as survival's aeqSurv makes them: an event at 1 and a
 * censoring at 1 + 1e-10 are comparable (the censored was at risk), and two events 1e-12
 * apart are a tie in time, not an ordered pair. Far-apart times stay put. */
static void test_timefix(void **state) {
    (void)state;
    double t[] = {2, 1 + 1e-10, 1, 1 - 1e-12, 3};
    assert_int_equal(os_eval_timefix(t, 5, NULL), 0);
    near(t[0], 2, "2");
    assert_true(t[3] == 1 - 1e-12); /* the lowest of the near-ties is the one kept */
    assert_true(t[1] == t[3]);
    assert_true(t[2] == t[3]);
    near(t[4], 3, "3");
    const int e[] = {1, 1, 1, 1, 0};
    const double s[] = {.1, .2, .3, .4, .5};
    os_eval_concordance c;
    assert_int_equal(os_eval_cindex(t, e, s, 5, OS_EVAL_HARRELL, NAN, &c, NULL), 0);
    near(c.tied_time, 3, "the three events at about 1 are tied");
}

/* ---- cohort B: heavy censoring (4 of 7), censoring before the first event ----
 *   subject  1    2    3    4    5    6    7
 *   time     1    2    2    3    4    5    6
 *   event    0    1    0    1    0    1    0
 *   score   .3   .8   .6   .4   .9   .2   .5
 * Censoring KM: t=1 n=7 c=1 → 6/7; t=2 n=6 d=1 c=1 → ·(1 − 1/5) = 24/35; t=4 n=3 c=1 →
 * ·2/3 = 16/35; t=6 → 0.
 * Survival KM: t=2 n=6 d=1 → 5/6; t=3 n=4 d=1 → 5/8; t=5 n=2 d=1 → 5/16. */
static const double b_time[] = {1, 2, 2, 3, 4, 5, 6};
static const int b_event[] = {0, 1, 0, 1, 0, 1, 0};
static const double b_score[] = {.3, .8, .6, .4, .9, .2, .5};

static void test_km_conventions(void **state) {
    (void)state;
    os_eval_km g, s;
    assert_int_equal(os_eval_km_censoring(b_time, b_event, 7, &g, NULL), 0);
    assert_int_equal(g.n, 4);
    near(os_eval_km_at(&g, 0.5), 1, "G before anything");
    near(os_eval_km_at(&g, 1), 6.0 / 7, "G(1)");
    near(os_eval_km_before(&g, 2), 6.0 / 7, "G(2-)");
    near(os_eval_km_at(&g, 2), 24.0 / 35, "G(2): the event at 2 leaves the risk set first");
    near(os_eval_km_at(&g, 4.5), 16.0 / 35, "G(4.5)");
    near(os_eval_km_at(&g, 6), 0, "G(6)");
    assert_int_equal(os_eval_km_survival(b_time, b_event, 7, &s, NULL), 0);
    near(os_eval_km_at(&s, 3), 5.0 / 8, "S(3)");
    near(os_eval_km_before(&s, 3), 5.0 / 6, "S(3-)");
    near(os_eval_km_at(&s, 99), 5.0 / 16, "S after the last time");
    os_eval_km_free(&g);
    os_eval_km_free(&s);
}

/* Events 2 (.8), 4 (.4), 6 (.2):
 *   2 vs 3 .6, 4 .4, 5 .9, 6 .2, 7 .5 → 4 C, 1 D;  4 vs 5 .9, 6 .2, 7 .5 → 1 C, 2 D;
 *   6 vs 7 .5 → 1 D.   Harrell = 5/9.
 * Uno weights 1/G(T−)²: (7/6)² = 3136/2304, (35/24)² = 4900/2304, (35/16)² = 11025/2304:
 *   C = 4·3136 + 4900 = 17444, D = 3136 + 2·4900 + 11025 = 23961 → Uno = 17444/41405. */
static void test_concordance_heavy_censoring(void **state) {
    (void)state;
    os_eval_concordance c;
    assert_int_equal(os_eval_cindex(b_time, b_event, b_score, 7, OS_EVAL_HARRELL, NAN, &c, NULL), 0);
    near(c.c, 5.0 / 9, "Harrell");
    assert_int_equal(os_eval_cindex(b_time, b_event, b_score, 7, OS_EVAL_UNO, NAN, &c, NULL), 0);
    near(c.c, 17444.0 / 41405, "Uno");
}

/* td-AUROC at 3.5: cases 2 (.8, weight 1/G(2−) = 7/6) and 4 (.4, 1/G(3−) = 35/24); controls
 * (T > 3.5) 5 .9, 6 .2 (its event is after 3.5), 7 .5. Case 2 beats 2 of 3, case 4 1 of 3:
 * (7/6·2 + 35/24·1) / ((7/6 + 35/24)·3) = 91/189 = 13/27 (unweighted it would be 1/2).
 * At 2: case 2 only; controls 4, 5, 6, 7 (3, censored at 2, drops): 3 of 4 → 3/4.
 * Paper at 2: subject 3, censored at exactly 2, was followed 2 years: a control. 4 of 5.
 * Paper at 3.5: same cases and controls as the td-AUROC, unweighted: 3/6. */
static void test_td_and_paper_auroc(void **state) {
    (void)state;
    os_eval_td t;
    assert_int_equal(os_eval_td_auroc(b_time, b_event, b_score, 7, 3.5, &t, NULL), 0);
    near(t.auc, 13.0 / 27, "td 3.5");
    assert_int_equal(t.n_cases, 2);
    assert_int_equal(t.n_controls, 3);
    assert_int_equal(os_eval_td_auroc(b_time, b_event, b_score, 7, 2, &t, NULL), 0);
    near(t.auc, 0.75, "td 2");
    assert_int_equal(t.n_controls, 4);
    assert_int_equal(os_eval_paper_auroc(b_time, b_event, b_score, 7, 2, &t, NULL), 0);
    near(t.auc, 0.8, "paper 2");
    assert_int_equal(t.n_controls, 5);
    assert_int_equal(os_eval_paper_auroc(b_time, b_event, b_score, 7, 3.5, &t, NULL), 0);
    near(t.auc, 0.5, "paper 3.5");
    /* Before any event: no cases, so no AUROC (NaN, reported as null). */
    assert_int_equal(os_eval_td_auroc(b_time, b_event, b_score, 7, 0.5, &t, NULL), 0);
    assert_true(isnan(t.auc));
    assert_int_equal(t.n_cases, 0);
}

/* ---- DeLong ----
 * Positives a = .8 .6 .6, negatives .6 .3 (a tie across the classes).
 * Placements V10 (share of negatives each positive beats, ties ½): 1, ¾, ¾ → AUROC 5/6.
 * V01 (share of positives above each negative): (1 + ½·2)/3 = ⅔, 1.
 * S10 = var(1, ¾, ¾) = 1/48, S01 = var(⅔, 1) = 1/18 → var = 1/48/3 + 1/18/2 = 5/144.
 * CI 5/6 ± 1.96·√5/12 → [0.4681, 1.1986] clipped to 1.
 * Second score b = .9 .2 .3 | .4 .1: V10 1, ½, ½ (AUROC ⅔), V01 ⅓, 1.
 * var_b = (1/12)/3 + (2/9)/2 = 20/144; cov = (1/24)/3 + (1/9)/2 = 10/144;
 * var(a − b) = 5/144 + 20/144 − 20/144 = 5/144; z = (1/6)/(√5/12) = 2/√5, p = 0.3710934. */
static const int lab[] = {1, 1, 1, 0, 0};
static const double xa[] = {.8, .6, .6, .6, .3};
static const double xb[] = {.9, .2, .3, .4, .1};

static void test_delong(void **state) {
    (void)state;
    os_eval_auroc a;
    assert_int_equal(os_eval_auroc_delong(xa, lab, 5, &a, NULL), 0);
    near(a.auc, 5.0 / 6, "AUROC");
    near(a.var, 5.0 / 144, "DeLong variance");
    near(a.lo, 5.0 / 6 - 1.959963984540054 * sqrt(5.0) / 12, "CI low");
    near(a.hi, 1, "CI high clipped");
    assert_int_equal(a.n_pos, 3);
    assert_int_equal(a.n_neg, 2);

    os_eval_delong_pair p;
    assert_int_equal(os_eval_auroc_paired(xa, xb, lab, 5, &p, NULL), 0);
    near(p.auc_b, 2.0 / 3, "AUROC b");
    near(p.diff, 1.0 / 6, "difference");
    near(p.var_diff, 5.0 / 144, "variance of the difference");
    near(p.z, 2 / sqrt(5.0), "z");
    if (fabs(p.p - 0.3710934) > 1e-7) fail_msg("p %.10g", p.p);

    /* A score against itself: nothing to test, p = 1 rather than 0/0. */
    assert_int_equal(os_eval_auroc_paired(xa, xa, lab, 5, &p, NULL), 0);
    near(p.z, 0, "z of identical scores");
    near(p.p, 1, "p of identical scores");

    os_error err;
    const int none[] = {0, 0, 0};
    assert_int_not_equal(os_eval_auroc_delong(xa, none, 3, &a, &err), 0);
    assert_non_null(strstr(err.msg, "positives and negatives"));
}

/* ---- calibration ----
 * 20 subjects, predictions 0.1 (10) and 0.5 (10), horizon 3.
 * Bin 0.1: events at 2 for two, the rest censored at 6 → KM 1 − 2/10 = 0.2 observed.
 * Bin 0.5: five events at 1, two censored at 2, three at 4 → KM at 3 = 5/10 → 0.5 observed.
 * Everyone: t=1 20 at risk 5 events → .75; t=2 15 at risk, 2 events (censored at 2 stay for
 * them) → .75·13/15 = .65 → 0.35 observed. Mean prediction 0.3; error (10·.1 + 10·0)/20. */
static void test_calibration(void **state) {
    (void)state;
    double t[20], p[20];
    int e[20];
    for (int i = 0; i < 10; i++) {
        p[i] = 0.1;
        t[i] = i < 2 ? 2 : 6;
        e[i] = i < 2;
        p[10 + i] = 0.5;
        t[10 + i] = i < 5 ? 1 : i < 7 ? 2 : 4;
        e[10 + i] = i < 5;
    }
    os_eval_calibration c;
    assert_int_equal(os_eval_calibrate(t, e, p, 20, 3, &c, NULL), 0);
    assert_int_equal(c.n_bins, 2);
    assert_int_equal(c.bins[0].n, 10);
    near(c.bins[0].mean_predicted, 0.1, "bin 1 predicted");
    near(c.bins[0].observed, 0.2, "bin 1 observed");
    assert_int_equal(c.bins[0].events, 2);
    near(c.bins[1].observed, 0.5, "bin 2 observed");
    assert_int_equal(c.bins[1].events, 5);
    near(c.observed, 0.35, "overall observed");
    near(c.mean_predicted, 0.3, "overall predicted");
    near(c.abs_error, 0.05, "mean absolute error");

    /* Twelve tied at 0.1: the tie is not split, so the first bin takes all twelve. */
    p[10] = p[11] = 0.1;
    assert_int_equal(os_eval_calibrate(t, e, p, 20, 3, &c, NULL), 0);
    assert_int_equal(c.n_bins, 2);
    assert_int_equal(c.bins[0].n, 12);
    assert_int_equal(c.bins[1].n, 8);
}

/* ---- bootstrap helpers ---- */
static void test_rng_and_quantile(void **state) {
    (void)state;
    os_eval_rng r1, r2;
    os_eval_rng_seed(&r1, 42);
    os_eval_rng_seed(&r2, 42);
    for (int i = 0; i < 100; i++) assert_true(os_eval_rng_next(&r1) == os_eval_rng_next(&r2));
    os_eval_rng_seed(&r2, 43);
    assert_true(os_eval_rng_next(&r1) != os_eval_rng_next(&r2));
    size_t seen[7] = {0};
    for (int i = 0; i < 7000; i++) seen[os_eval_rng_below(&r1, 7)]++;
    for (int k = 0; k < 7; k++) assert_true(seen[k] > 800 && seen[k] < 1200);
    /* R: quantile(c(1, 2, 3, 4), c(.025, .975)) = 1.075, 3.925 (type 7). */
    double x[] = {4, 1, 3, 2};
    near(os_eval_quantile(x, 4, 0.025), 1.075, "2.5 %");
    near(os_eval_quantile(x, 4, 0.975), 3.925, "97.5 %");
    near(os_eval_quantile(x, 1, 0.5), 1, "one value");
    assert_true(isnan(os_eval_quantile(x, 0, 0.5)));
}

/* ---- CSV ---- */
static void test_csv_quoting(void **state) {
    (void)state;
    const char text[] = "\xEF\xBB\xBF"
                        "id,\"a, b\",c\r\n"
                        "\"x \"\"1\"\"\", 2 ,\"multi\nline\"\r\n"
                        "\n"
                        "y,,NA\n"
                        "z,3,";
    os_eval_csv csv;
    os_error err;
    assert_int_equal(os_eval_csv_parse(text, sizeof text - 1, &csv, &err), 0);
    assert_int_equal(csv.n_cols, 3);
    assert_int_equal(csv.n_rows, 3);
    assert_string_equal(csv.header[0], "id");
    assert_int_equal(os_eval_csv_column(&csv, "a, b"), 1);
    assert_int_equal(os_eval_csv_column(&csv, "nope"), -1);
    assert_string_equal(os_eval_csv_cell(&csv, 0, 0), "x \"1\"");
    assert_string_equal(os_eval_csv_cell(&csv, 0, 1), "2");
    assert_string_equal(os_eval_csv_cell(&csv, 0, 2), "multi\nline");
    assert_int_equal(csv.line[0], 2);
    assert_int_equal(csv.line[1], 5); /* the quoted newline and the blank line both count */
    assert_string_equal(os_eval_csv_cell(&csv, 2, 2), "");
    double v = 0;
    assert_int_equal(os_eval_parse_cell(os_eval_csv_cell(&csv, 1, 1), &v), 1);
    assert_int_equal(os_eval_parse_cell(os_eval_csv_cell(&csv, 1, 2), &v), 1);
    assert_int_equal(os_eval_parse_cell(" nan ", &v), 1);
    assert_int_equal(os_eval_parse_cell("1e-3", &v), 0);
    near(v, 0.001, "1e-3");
    assert_int_equal(os_eval_parse_cell("3 years", &v), -1);
    assert_int_equal(os_eval_parse_cell("inf", &v), -1);
    os_eval_csv_free(&csv);

    const char ragged[] = "a,b\n1,2\n3\n";
    assert_int_not_equal(os_eval_csv_parse(ragged, sizeof ragged - 1, &csv, &err), 0);
    assert_string_equal(err.msg, "line 3 has 1 fields, the header has 2");
    const char open[] = "a,b\n1,\"2\n";
    assert_int_not_equal(os_eval_csv_parse(open, sizeof open - 1, &csv, &err), 0);
    assert_non_null(strstr(err.msg, "line 2: a quoted field is never closed"));
    const char twice[] = "a,a\n1,2\n";
    assert_int_not_equal(os_eval_csv_parse(twice, sizeof twice - 1, &csv, &err), 0);
    assert_non_null(strstr(err.msg, "twice"));
    assert_int_not_equal(os_eval_csv_parse("", 0, &csv, &err), 0);
}

/* ---- the whole run: rows dropped per score, errors that name column and line ---- */
static void test_run(void **state) {
    (void)state;
    const char text[] = "t,e,y,s1,s2\n"
                        "1,1,1,.9,.8\n"
                        "2,0,0,.2,NA\n"
                        "3,1,1,.7,.6\n"
                        "4,0,0,,.3\n"
                        "5,1,0,.4,.5\n"
                        "6,0,0,.1,.2\n";
    os_eval_csv csv;
    assert_int_equal(os_eval_csv_parse(text, sizeof text - 1, &csv, NULL), 0);
    const char *scores[] = {"s1", "s2"};
    const double horizons[] = {2, 4};
    os_eval_risk_col risk[] = {{"s2", 4, "s1"}};
    os_eval_opts o = {.time_col = "t", .event_col = "e", .label_col = "y", .score_cols = scores, .n_scores = 2,
                      .horizons = horizons, .n_horizons = 2, .tau = NAN, .n_boot = 20, .seed = 3,
                      .risk = risk, .n_risk = 1};
    os_eval_result r;
    os_error err;
    assert_int_equal(os_eval_run(&csv, &o, &r, &err), 0);
    assert_int_equal(r.n_rows, 6);
    assert_int_equal(r.n_events, 3);
    assert_int_equal(r.scores[0].n, 5);
    assert_int_equal(r.scores[0].dropped, 1);
    assert_int_equal(r.scores[1].dropped, 1);
    assert_int_equal(r.n_pairs, 1);
    assert_int_equal(r.pairs[0].n, 4);
    assert_int_equal(r.scores[1].horizons[1].cal_state, 1);
    assert_int_equal(r.scores[1].horizons[1].cal_dropped, 1); /* s1 empty where s2 is not */
    assert_int_equal(r.scores[0].horizons[0].cal_state, 2);  /* s1 lies in [0, 1] */
    assert_true(r.scores[0].harrell_ci.n_valid > 0);
    cJSON *j = os_eval_result_to_json(&r);
    assert_non_null(j);
    const cJSON *s1 = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "scores"), "s1");
    assert_non_null(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(s1, "td_auroc"), "4"));
    assert_true(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(s1, "auroc_ci")));
    cJSON_Delete(j);
    os_eval_result_free(&r);

    o.score_cols = (const char *[]){"s9"};
    o.n_scores = 1;
    o.n_risk = 0;
    assert_int_equal(os_eval_run(&csv, &o, &r, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "column 's9' (--score) is not in the CSV header"));
    os_eval_csv_free(&csv);

    const char bad[] = "t,e,s\n1,1,.5\n2,yes,.4\n";
    assert_int_equal(os_eval_csv_parse(bad, sizeof bad - 1, &csv, NULL), 0);
    o.score_cols = (const char *[]){"s"};
    o.label_col = NULL;
    assert_int_equal(os_eval_run(&csv, &o, &r, &err), -EINVAL);
    assert_string_equal(err.msg, "column 'e' (--event), line 3: 'yes' is not a number");
    os_eval_csv_free(&csv);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_harrell_with_ties),
        cmocka_unit_test(test_uno_weights_and_tau),
        cmocka_unit_test(test_timefix),
        cmocka_unit_test(test_km_conventions),
        cmocka_unit_test(test_concordance_heavy_censoring),
        cmocka_unit_test(test_td_and_paper_auroc),
        cmocka_unit_test(test_delong),
        cmocka_unit_test(test_calibration),
        cmocka_unit_test(test_rng_and_quantile),
        cmocka_unit_test(test_csv_quoting),
        cmocka_unit_test(test_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
