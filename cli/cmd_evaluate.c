/* `osteoscout evaluate`: discrimination and calibration of risk scores on a follow-up cohort
 * CSV (lib/eval). Needs no node: the configuration is not used. Exit 0 ok, 1 the data could
 * not be evaluated (the message names the column and line), 2 bad usage. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "osteoscout/eval.h"

#define MAX_SCORES 32
#define MAX_HORIZONS 16
#define MAX_RISK 128

static const char *const CMD = "evaluate";

static void usage(FILE *f) {
    fprintf(f,
            "usage: osteoscout evaluate FILE.csv --time COL --event COL [--label COL] --score COL [--score COL]...\n"
            "         [--horizons 2,3,5] [--tau T] [--bootstrap N] [--seed S] [--risk-col [SCORE:]H=COL]... [--json]\n"
            "\n"
            "  --time COL       follow-up time, in the unit of the horizons (years)\n"
            "  --event COL      1 fracture at that time, 0 censored\n"
            "  --label COL      0/1 fracture present at the scan: detection AUROC with DeLong CI and\n"
            "                   paired DeLong tests between the scores\n"
            "  --score COL      a risk score, higher = more risk; repeat to compare scores\n"
            "  --horizons LIST  horizons of the time-dependent AUROC and calibration (default 2,3,5)\n"
            "  --tau T          truncate Uno's C at T (events after T ignored; default none)\n"
            "  --bootstrap N    resamples for the percentile CIs of the c-indices and time-dependent\n"
            "                   AUROCs (default 200, 0 for none)\n"
            "  --seed S         bootstrap seed (default 1): the same seed gives the same CIs\n"
            "  --risk-col [SCORE:]H=COL\n"
            "                   COL is SCORE's predicted probability of a fracture by horizon H, used\n"
            "                   for calibration at H; SCORE may be left out when there is one score.\n"
            "                   Without it a score is calibrated only when all its values lie in [0, 1]\n"
            "  --json           machine-readable output\n"
            "\n"
            "Metrics: Harrell's C and Uno's C (as R survival::concordance, reverse = TRUE, timewt \"n\" and\n"
            "\"n/G2\"), cumulative/dynamic AUROC with IPCW (as riskRegression::Score, cens.model \"km\"), and,\n"
            "labelled paper-compatible, the k-year AUROC without censoring weights. Cells that are empty or\n"
            "NA drop their row from the scores that need them; the count dropped is reported.\n");
}

static int parse_number(const char *opt, const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v <= 0)
        return cli_bad_usage(CMD, "%s needs a positive number, not '%s'", opt, s);
    *out = v;
    return 0;
}

static int parse_horizons(const char *s, double *h, size_t *n) {
    char buf[512];
    if (strlen(s) >= sizeof buf) return cli_bad_usage(CMD, "--horizons is too long");
    strcpy(buf, s);
    *n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (*n == MAX_HORIZONS) return cli_bad_usage(CMD, "at most %d horizons", MAX_HORIZONS);
        double v = 0;
        if (parse_number("--horizons", tok, &v)) return 2;
        for (size_t k = 0; k < *n; k++)
            if (h[k] == v) return cli_bad_usage(CMD, "--horizons names %g twice", v);
        h[(*n)++] = v;
    }
    if (*n == 0) return cli_bad_usage(CMD, "--horizons needs numbers such as 2,3,5");
    return 0;
}

/* "[SCORE:]H=COL". The strings point into argv, which outlives the evaluation. */
static int parse_risk(char *s, os_eval_risk_col *r) {
    char *eq = strchr(s, '=');
    if (!eq || eq == s || !eq[1]) return cli_bad_usage(CMD, "--risk-col needs [SCORE:]H=COL, not '%s'", s);
    *eq = 0;
    r->column = eq + 1;
    char *colon = strrchr(s, ':');
    const char *h = s;
    r->score = NULL;
    if (colon) {
        *colon = 0;
        r->score = s;
        h = colon + 1;
        if (!*r->score) return cli_bad_usage(CMD, "--risk-col: the score name before ':' is empty");
    }
    return parse_number("--risk-col's horizon", h, &r->horizon);
}

static void fmt(double x, char *buf, size_t len) {
    if (isfinite(x))
        snprintf(buf, len, "%.3f", x);
    else
        snprintf(buf, len, "-");
}

static void fmt_ci(double lo, double hi, char *buf, size_t len) {
    if (isfinite(lo) && isfinite(hi))
        snprintf(buf, len, "%.3f-%.3f", lo, hi);
    else
        snprintf(buf, len, "-");
}

static void print_calibration(const os_eval_score *s, size_t nh) {
    for (size_t k = 0; k < nh; k++) {
        const os_eval_horizon *h = &s->horizons[k];
        if (h->cal_state == 0) {
            printf("  calibration at %g: not reported (the score is not within [0, 1]; give --risk-col %s:%g=COL)\n",
                   h->h, s->name, h->h);
            continue;
        }
        if (h->cal_state == 1)
            printf("  calibration at %g: risk column %s (%zu rows without a value dropped); mean |observed - "
                   "predicted| %.3f\n",
                   h->h, h->cal_column, h->cal_dropped, h->cal.abs_error);
        else
            printf("  calibration at %g: the score itself taken as a probability (all values lie in [0, 1]); "
                   "mean |observed - predicted| %.3f\n",
                   h->h, h->cal.abs_error);
        cli_table t;
        cli_table_init(&t, 5, (const char *const[]){"    BIN", "N", "EVENTS", "PREDICTED", "OBSERVED (KM)"});
        for (size_t b = 0; b < h->cal.n_bins; b++) {
            const os_eval_cal_bin *x = &h->cal.bins[b];
            char bin[16], n[24], ev[24], pr[16], ob[16];
            snprintf(bin, sizeof bin, "    %zu", b + 1);
            snprintf(n, sizeof n, "%zu", x->n);
            snprintf(ev, sizeof ev, "%zu", x->events);
            fmt(x->mean_predicted, pr, sizeof pr);
            fmt(x->observed, ob, sizeof ob);
            cli_table_add(&t, (const char *const[]){bin, n, ev, pr, ob});
        }
        cli_table_print(&t, stdout);
        cli_table_free(&t);
    }
}

static void print_text(const char *path, const os_eval_opts *o, const os_eval_result *r) {
    printf("cohort %s: %zu rows, %zu with time and event, %zu events\n", path, r->n_rows, r->n_valid, r->n_events);
    if (r->n_boot > 0)
        printf("CIs of the c-indices and td-AUROCs: bootstrap percentile, %d resamples, seed %llu\n", r->n_boot,
               (unsigned long long)r->seed);
    for (size_t k = 0; k < r->n_scores; k++) {
        const os_eval_score *s = &r->scores[k];
        char v[16], ci[40];
        printf("\nscore %s: %zu rows, %zu events, %zu rows dropped for missing values\n", s->name, s->n, s->events,
               s->dropped);
        if (s->has_auroc) {
            fmt(s->auroc.auc, v, sizeof v);
            fmt_ci(s->auroc.lo, s->auroc.hi, ci, sizeof ci);
            printf("  detection AUROC     %s  95%% CI %s (DeLong; %zu positive, %zu negative)\n", v, ci, s->auroc.n_pos,
                   s->auroc.n_neg);
        }
        fmt(s->harrell.c, v, sizeof v);
        fmt_ci(s->harrell_ci.lo, s->harrell_ci.hi, ci, sizeof ci);
        printf("  Harrell's C         %s  95%% CI %s\n", v, ci);
        fmt(s->uno.c, v, sizeof v);
        fmt_ci(s->uno_ci.lo, s->uno_ci.hi, ci, sizeof ci);
        if (isnan(o->tau))
            printf("  Uno's C             %s  95%% CI %s (no truncation)\n", v, ci);
        else
            printf("  Uno's C             %s  95%% CI %s (truncated at %g)\n", v, ci, o->tau);
        cli_table t;
        cli_table_init(&t, 7,
                       (const char *const[]){"  HORIZON", "TD-AUROC (IPCW)", "95% CI", "CASES/CONTROLS",
                                             "PAPER AUROC*", "CASES/CONTROLS", ""});
        for (size_t h = 0; h < r->n_horizons; h++) {
            const os_eval_horizon *x = &s->horizons[h];
            char hz[24], td[16], tci[40], tn[48], pa[16], pn[48];
            snprintf(hz, sizeof hz, "  %g", x->h);
            fmt(x->td.auc, td, sizeof td);
            fmt_ci(x->td_ci.lo, x->td_ci.hi, tci, sizeof tci);
            snprintf(tn, sizeof tn, "%zu/%zu", x->td.n_cases, x->td.n_controls);
            fmt(x->paper.auc, pa, sizeof pa);
            snprintf(pn, sizeof pn, "%zu/%zu", x->paper.n_cases, x->paper.n_controls);
            cli_table_add(&t, (const char *const[]){hz, td, tci, tn, pa, pn, ""});
        }
        cli_table_print(&t, stdout);
        cli_table_free(&t);
        printf("  * paper-compatible: no censoring weights (controls followed >= k without an event; "
               "censored before k dropped)\n");
        print_calibration(s, r->n_horizons);
    }
    if (r->n_pairs) {
        printf("\npaired DeLong tests of the detection AUROC (rows both scores have)\n");
        cli_table t;
        cli_table_init(&t, 6, (const char *const[]){"  A - B", "N", "DIFFERENCE", "Z", "P", ""});
        for (size_t p = 0; p < r->n_pairs; p++) {
            const os_eval_delong_pair *d = &r->pairs[p];
            char ab[256], n[24], df[16], z[16], pv[24];
            snprintf(ab, sizeof ab, "  %s - %s", r->pair_a[p], r->pair_b[p]);
            snprintf(n, sizeof n, "%zu", d->n);
            fmt(d->diff, df, sizeof df);
            fmt(d->z, z, sizeof z);
            if (isfinite(d->p))
                snprintf(pv, sizeof pv, d->p < 0.001 ? "%.1e" : "%.3f", d->p);
            else
                snprintf(pv, sizeof pv, "-");
            cli_table_add(&t, (const char *const[]){ab, n, df, z, pv, ""});
        }
        cli_table_print(&t, stdout);
        cli_table_free(&t);
    }
}

int cmd_evaluate(int argc, char **argv, const os_config *cfg) {
    (void)cfg;
    static const struct option longopts[] = {
        {"time", required_argument, 0, 't'},      {"event", required_argument, 0, 'e'},
        {"label", required_argument, 0, 'l'},     {"score", required_argument, 0, 's'},
        {"horizons", required_argument, 0, 'H'},  {"tau", required_argument, 0, 'T'},
        {"bootstrap", required_argument, 0, 'b'}, {"seed", required_argument, 0, 'S'},
        {"risk-col", required_argument, 0, 'r'},  {"json", no_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'},            {0, 0, 0, 0},
    };
    const char *scores[MAX_SCORES];
    double horizons[MAX_HORIZONS] = {2, 3, 5};
    os_eval_risk_col risk[MAX_RISK];
    os_eval_opts o = {.score_cols = scores, .horizons = horizons, .n_horizons = 3, .tau = NAN, .n_boot = 200,
                      .seed = 1, .risk = risk};
    int json = 0, opt;
    optind = 0; /* main() ran getopt over the global options already */
    opterr = 0; /* our own messages name the command */
    while ((opt = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        switch (opt) {
        case 't': o.time_col = optarg; break;
        case 'e': o.event_col = optarg; break;
        case 'l': o.label_col = optarg; break;
        case 's':
            if (o.n_scores == MAX_SCORES) return cli_bad_usage(CMD, "at most %d scores", MAX_SCORES);
            for (size_t k = 0; k < o.n_scores; k++)
                if (!strcmp(scores[k], optarg)) return cli_bad_usage(CMD, "--score %s is given twice", optarg);
            scores[o.n_scores++] = optarg;
            break;
        case 'H':
            if (parse_horizons(optarg, horizons, &o.n_horizons)) return 2;
            break;
        case 'T':
            if (parse_number("--tau", optarg, &o.tau)) return 2;
            break;
        case 'b': {
            char *end;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || v < 0 || v > 100000)
                return cli_bad_usage(CMD, "--bootstrap needs a whole number from 0 to 100000, not '%s'", optarg);
            o.n_boot = (int)v;
            break;
        }
        case 'S': {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-')
                return cli_bad_usage(CMD, "--seed needs a non-negative whole number, not '%s'", optarg);
            o.seed = v;
            break;
        }
        case 'r':
            if (o.n_risk == MAX_RISK) return cli_bad_usage(CMD, "at most %d --risk-col options", MAX_RISK);
            if (parse_risk(optarg, &risk[o.n_risk])) return 2;
            o.n_risk++;
            break;
        case 'j': json = 1; break;
        case 'h': usage(stdout); return 0;
        case ':': return cli_bad_usage(CMD, "%s needs a value", argv[optind - 1]);
        default: return cli_bad_usage(CMD, "unknown option %s", argv[optind - 1]);
        }
    }
    if (optind >= argc) return cli_bad_usage(CMD, "missing the cohort CSV file");
    if (optind + 1 < argc) return cli_bad_usage(CMD, "unexpected argument '%s'", argv[optind + 1]);
    const char *path = argv[optind];
    if (!o.time_col) return cli_bad_usage(CMD, "--time COL is required");
    if (!o.event_col) return cli_bad_usage(CMD, "--event COL is required");
    if (o.n_scores == 0) return cli_bad_usage(CMD, "at least one --score COL is required");
    /* Mistakes in --risk-col are the user's, not the data's: catch them before reading. */
    for (size_t k = 0; k < o.n_risk; k++) {
        os_eval_risk_col *r = &risk[k];
        if (!r->score && o.n_scores > 1)
            return cli_bad_usage(CMD, "--risk-col %g=%s must name its score (SCORE:%g=%s) when there are several",
                                 r->horizon, r->column, r->horizon, r->column);
        int found = !r->score, h_found = 0;
        for (size_t s = 0; s < o.n_scores && !found; s++) found = !strcmp(scores[s], r->score);
        if (!found) return cli_bad_usage(CMD, "--risk-col names score '%s', which is not a --score", r->score);
        for (size_t h = 0; h < o.n_horizons && !h_found; h++) h_found = horizons[h] == r->horizon;
        if (!h_found) return cli_bad_usage(CMD, "--risk-col horizon %g is not among --horizons", r->horizon);
        for (size_t j = 0; j < k; j++) {
            const char *a = r->score ? r->score : scores[0], *b = risk[j].score ? risk[j].score : scores[0];
            if (!strcmp(a, b) && risk[j].horizon == r->horizon)
                return cli_bad_usage(CMD, "two --risk-col options for score '%s' at horizon %g", a, r->horizon);
        }
    }

    os_error err;
    os_error_clear(&err);
    os_eval_csv csv;
    if (os_eval_csv_read(path, &csv, &err) != 0) return cli_fail("%s", err.msg);
    os_eval_result res;
    if (os_eval_run(&csv, &o, &res, &err) != 0) {
        os_eval_csv_free(&csv);
        return cli_fail("%s: %s", path, err.msg);
    }
    int rc = 0;
    if (json) {
        cJSON *j = os_eval_result_to_json(&res);
        rc = j ? cli_print_json(j) : cli_fail("out of memory building JSON");
        cJSON_Delete(j);
    } else {
        print_text(path, &o, &res);
    }
    os_eval_result_free(&res);
    os_eval_csv_free(&csv);
    return rc;
}
