/* lib/eval: how well a score predicts fractures in a follow-up cohort (`osteoscout evaluate`).
 *
 * A cohort is a CSV with a follow-up time, an event flag (1 fracture, 0 censored), an optional
 * detection label and one or more score columns (higher = more risk). Each metric matches a
 * reference implementation exactly, because a figure that only resembles R's cannot be put next
 * to a published one:
 *   - detection AUROC with DeLong variance and paired tests (sklearn roc_auc_score, pROC);
 *   - Harrell's and Uno's C (R survival::concordance(..., reverse = TRUE), timewt "n" / "n/G2");
 *   - cumulative/dynamic AUROC at a horizon with IPCW (riskRegression::Score, cens.model "km");
 *   - the paper's own k-year AUROC without censoring weights, labelled as such.
 * Every function is pure over arrays; os_eval_run ties them to a parsed CSV. */
#ifndef OSTEOSCOUT_EVAL_H
#define OSTEOSCOUT_EVAL_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "osteoscout/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- CSV (csv.c) ---- */

/* A parsed CSV: a header and rows of equally many fields, all as text. Quoted fields may hold
 * commas, doubled quotes and newlines; a UTF-8 byte-order mark and CRLF are accepted. */
typedef struct os_eval_csv {
    size_t n_cols, n_rows;
    char **header;   /* n_cols names */
    char **cells;    /* row-major, n_rows * n_cols */
    size_t *line;    /* the file line each row starts on (the header is line 1) */
    char *buf;       /* owns the text every pointer above points into */
} os_eval_csv;

int os_eval_csv_parse(const char *text, size_t len, os_eval_csv *csv, os_error *err);
int os_eval_csv_read(const char *path, os_eval_csv *csv, os_error *err);
/* Index of a column by exact name, or -1. */
int os_eval_csv_column(const os_eval_csv *csv, const char *name);
static inline const char *os_eval_csv_cell(const os_eval_csv *csv, size_t row, size_t col) {
    return csv->cells[row * csv->n_cols + col];
}
void os_eval_csv_free(os_eval_csv *csv);

/* A cell as a number: 0 and *v set; 1 when missing ("", NA, NaN, NULL, N/A, any case, with
 * surrounding blanks); -1 when it is text that is not a finite number. */
int os_eval_parse_cell(const char *s, double *v);

/* ---- tied times (timefix.c) ---- */

/* Moves times within a relative or absolute 1.5e-8 of the previous distinct time onto it, as
 * survival's aeqSurv (concordance's timefix = TRUE); os_eval_run applies it to every score's
 * rows before any metric. */
int os_eval_timefix(double *time, size_t n, os_error *err);

/* ---- Kaplan–Meier (km.c) ---- */

/* A right-continuous step function: value[k] holds on [time[k], time[k+1]), 1 before time[0]. */
typedef struct os_eval_km {
    size_t n;
    double *time, *value;
} os_eval_km;

/* Survival KM, S(t), over the distinct times with at least one event. */
int os_eval_km_survival(const double *time, const int *event, size_t n, os_eval_km *km, os_error *err);
/* Censoring KM, G(t), treating a censoring as the event. At a time with both, the events
 * leave the risk set first (hazard c / (n − d)), as survival's concordance and prodlim's
 * reverse KM do, and as riskRegression inherits. */
int os_eval_km_censoring(const double *time, const int *event, size_t n, os_eval_km *km, os_error *err);
double os_eval_km_at(const os_eval_km *km, double t);     /* value at t */
double os_eval_km_before(const os_eval_km *km, double t); /* value just before t */
void os_eval_km_free(os_eval_km *km);

/* ---- detection AUROC and DeLong (auroc.c) ---- */

typedef struct os_eval_auroc {
    double auc;    /* P(score of a positive > a negative), ties 1/2 */
    double var;    /* DeLong variance */
    double lo, hi; /* auc ± 1.96 sd, clipped to [0, 1], as pROC's ci.auc */
    size_t n_pos, n_neg;
} os_eval_auroc;

/* label: 1 positive, 0 negative. Fails (-EDOM) without at least one of each. */
int os_eval_auroc_delong(const double *score, const int *label, size_t n, os_eval_auroc *out, os_error *err);

typedef struct os_eval_delong_pair {
    double auc_a, auc_b, diff; /* diff = auc_a − auc_b */
    double var_diff, z, p;     /* two-sided p, as pROC's roc.test(method = "delong", paired) */
    size_t n, n_pos, n_neg;
} os_eval_delong_pair;

int os_eval_auroc_paired(const double *a, const double *b, const int *label, size_t n, os_eval_delong_pair *out,
                         os_error *err);

/* ---- concordance (concordance.c) ---- */

typedef enum { OS_EVAL_HARRELL = 0, OS_EVAL_UNO = 1 } os_eval_cweight;

typedef struct os_eval_concordance {
    double c;                                     /* (concordant + tied_score/2) / comparable; NaN if none */
    double concordant, discordant, tied_score;    /* weighted pair counts */
    double tied_time;                             /* event–event ties in time: excluded */
} os_eval_concordance;

/* Pairs (i, j) with i's event strictly before j's time, or at j's time when j is censored;
 * concordant when i has the higher score. Uno weighs each pair by 1/G(T_i−)² and, when tau
 * is not NaN, drops pairs whose event time is beyond tau (survival's ymax). */
int os_eval_cindex(const double *time, const int *event, const double *score, size_t n, os_eval_cweight w,
                        double tau, os_eval_concordance *out, os_error *err);

/* ---- time-dependent AUROC (td_auroc.c) ---- */

typedef struct os_eval_td {
    double auc;          /* NaN when there are no cases or no controls */
    size_t n_cases, n_controls;
} os_eval_td;

/* Cumulative/dynamic at horizon h: cases T ≤ h with an event, weighted 1/G(T−); controls
 * T > h; censored at or before h dropped (riskRegression::Score, cens.model "km"). */
int os_eval_td_auroc(const double *time, const int *event, const double *score, size_t n, double h, os_eval_td *out,
                     os_error *err);
/* The paper's k-year AUROC, no censoring weights: cases T ≤ k with an event; controls
 * followed ≥ k without an event by k; censored before k dropped. */
int os_eval_paper_auroc(const double *time, const int *event, const double *score, size_t n, double k,
                        os_eval_td *out, os_error *err);

/* ---- bootstrap (bootstrap.c) ---- */

typedef struct os_eval_rng {
    uint64_t s[4];
} os_eval_rng;

void os_eval_rng_seed(os_eval_rng *r, uint64_t seed);
uint64_t os_eval_rng_next(os_eval_rng *r);
/* Uniform on 0 … n−1 without modulo bias. */
size_t os_eval_rng_below(os_eval_rng *r, size_t n);
/* Type-7 quantile (R's default) of x[0..n), which it sorts in place; NaN when n is 0. */
double os_eval_quantile(double *x, size_t n, double p);

/* ---- calibration (calibration.c) ---- */

#define OS_EVAL_CAL_BINS 10

typedef struct os_eval_cal_bin {
    size_t n, events;        /* events: events at or before the horizon */
    double mean_predicted;
    double observed;         /* 1 − S(h), Kaplan–Meier within the bin */
} os_eval_cal_bin;

typedef struct os_eval_calibration {
    size_t n_bins;
    os_eval_cal_bin bins[OS_EVAL_CAL_BINS];
    double mean_predicted, observed; /* over everyone */
    double abs_error;                      /* n-weighted mean |observed − predicted| over the bins */
} os_eval_calibration;

/* Bins by predicted probability into equal-count deciles (fewer when n < 100: at least 10 per
 * bin); ties in the prediction are kept in one bin. */
int os_eval_calibrate(const double *time, const int *event, const double *pred, size_t n, double h,
                      os_eval_calibration *out, os_error *err);

/* ---- the whole evaluation (evaluate.c) and its JSON (json.c) ---- */

/* `SCORE:H=COL` (or `H=COL` for the only score): COL holds SCORE's predicted P(event by H). */
typedef struct os_eval_risk_col {
    const char *score; /* NULL: the only score */
    double horizon;
    const char *column;
} os_eval_risk_col;

typedef struct os_eval_opts {
    const char *time_col, *event_col, *label_col; /* label_col may be NULL */
    const char *const *score_cols;
    size_t n_scores;
    const double *horizons;
    size_t n_horizons;
    double tau;       /* NaN: no truncation of Uno's C */
    int n_boot;       /* 0: no bootstrap */
    uint64_t seed;
    const os_eval_risk_col *risk;
    size_t n_risk;
} os_eval_opts;

typedef struct os_eval_ci {
    double lo, hi; /* NaN when not bootstrapped */
    int n_valid;   /* resamples where the metric was defined */
} os_eval_ci;

typedef struct os_eval_horizon {
    double h;
    os_eval_td td, paper;
    os_eval_ci td_ci;
    int cal_state;            /* 0 none, 1 from a risk column, 2 the score taken as a probability */
    const char *cal_column;   /* the column calibrated */
    size_t cal_dropped;       /* rows without a value in the risk column */
    os_eval_calibration cal;
} os_eval_horizon;

typedef struct os_eval_score {
    const char *name;
    size_t n, events, dropped; /* rows used, their events, rows dropped for missing values */
    int has_auroc;
    os_eval_auroc auroc;
    os_eval_concordance harrell, uno;
    os_eval_ci harrell_ci, uno_ci;
    int in_unit_interval;      /* every score value in [0, 1] */
    os_eval_horizon *horizons; /* opts.n_horizons */
} os_eval_score;

typedef struct os_eval_result {
    size_t n_rows;   /* rows in the file */
    size_t n_valid;  /* rows with time and event */
    size_t n_events; /* events among those */
    size_t n_scores, n_horizons, n_pairs;
    os_eval_score *scores;
    os_eval_delong_pair *pairs; /* every pair of scores, in option order, when a label is given */
    const char **pair_a, **pair_b;
    int n_boot;
    uint64_t seed;
    double tau;
    int has_label;
} os_eval_result;

/* Validates the columns and values (errors name the column and the file line; -ENOENT for a
 * missing column, -EINVAL for a bad value, -EDOM when a metric cannot be computed at all) and
 * computes everything. The result points at the option strings: keep them alive. */
int os_eval_run(const os_eval_csv *csv, const os_eval_opts *opts, os_eval_result *res, os_error *err);
void os_eval_result_free(os_eval_result *res);

/* The result as {"scores": {...}, "paired": [...], "n": ..., "events": ...}; NaN as null. */
cJSON *os_eval_result_to_json(const os_eval_result *res);

#ifdef __cplusplus
}
#endif
#endif
