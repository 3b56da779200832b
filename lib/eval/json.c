/* os_eval_result as JSON, the form scripts and the reference test read. Horizons are keys
 * written the way a person typed them ("2", "2.5"); an undefined figure is null, never NaN,
 * which JSON cannot carry. */
#include "osteoscout/eval.h"

#include <math.h>
#include <stdio.h>

static cJSON *num(double x) { return isfinite(x) ? cJSON_CreateNumber(x) : cJSON_CreateNull(); }

static void add_num(cJSON *o, const char *key, double x) { cJSON_AddItemToObject(o, key, num(x)); }

static cJSON *pair(double lo, double hi) {
    cJSON *a = cJSON_CreateArray();
    cJSON_AddItemToArray(a, num(lo));
    cJSON_AddItemToArray(a, num(hi));
    return a;
}

static void horizon_key(double h, char *buf, size_t len) { snprintf(buf, len, "%g", h); }

static cJSON *counts(const os_eval_td *t) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "cases", (double)t->n_cases);
    cJSON_AddNumberToObject(o, "controls", (double)t->n_controls);
    return o;
}

static cJSON *calibration(const os_eval_horizon *h) {
    cJSON *o = cJSON_CreateObject();
    if (h->cal_state == 0) {
        cJSON_AddStringToObject(o, "note", "not reported: the score is not within [0, 1] and no --risk-col "
                                           "gives a probability for this horizon");
        return o;
    }
    cJSON_AddStringToObject(o, "column", h->cal_column);
    cJSON_AddStringToObject(o, "source", h->cal_state == 1 ? "risk column" : "score taken as a probability");
    if (h->cal_state == 1) cJSON_AddNumberToObject(o, "dropped", (double)h->cal_dropped);
    add_num(o, "mean_predicted", h->cal.mean_predicted);
    add_num(o, "observed", h->cal.observed);
    add_num(o, "abs_error", h->cal.abs_error);
    cJSON *bins = cJSON_AddArrayToObject(o, "bins");
    for (size_t b = 0; b < h->cal.n_bins; b++) {
        const os_eval_cal_bin *x = &h->cal.bins[b];
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "n", (double)x->n);
        cJSON_AddNumberToObject(j, "events", (double)x->events);
        add_num(j, "mean_predicted", x->mean_predicted);
        add_num(j, "observed", x->observed);
        cJSON_AddItemToArray(bins, j);
    }
    return o;
}

static cJSON *score_json(const os_eval_result *res, const os_eval_score *s) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "n", (double)s->n);
    cJSON_AddNumberToObject(o, "events", (double)s->events);
    cJSON_AddNumberToObject(o, "dropped", (double)s->dropped);
    if (s->has_auroc) {
        add_num(o, "auroc", s->auroc.auc);
        cJSON_AddItemToObject(o, "auroc_ci", pair(s->auroc.lo, s->auroc.hi));
        add_num(o, "auroc_var", s->auroc.var);
        cJSON_AddNumberToObject(o, "positives", (double)s->auroc.n_pos);
        cJSON_AddNumberToObject(o, "negatives", (double)s->auroc.n_neg);
    }
    add_num(o, "c_harrell", s->harrell.c);
    add_num(o, "c_uno", s->uno.c);
    cJSON *td = cJSON_AddObjectToObject(o, "td_auroc");
    cJSON *td_n = cJSON_AddObjectToObject(o, "td_auroc_counts");
    cJSON *paper = cJSON_AddObjectToObject(o, "paper_auroc");
    cJSON *paper_n = cJSON_AddObjectToObject(o, "paper_auroc_counts");
    cJSON *cal = cJSON_AddObjectToObject(o, "calibration");
    cJSON *ci = cJSON_AddObjectToObject(o, "ci");
    cJSON *ci_td = cJSON_CreateObject();
    char key[32];
    for (size_t k = 0; k < res->n_horizons; k++) {
        const os_eval_horizon *h = &s->horizons[k];
        horizon_key(h->h, key, sizeof key);
        cJSON_AddItemToObject(td, key, num(h->td.auc));
        cJSON_AddItemToObject(td_n, key, counts(&h->td));
        cJSON_AddItemToObject(paper, key, num(h->paper.auc));
        cJSON_AddItemToObject(paper_n, key, counts(&h->paper));
        cJSON_AddItemToObject(cal, key, calibration(h));
        cJSON_AddItemToObject(ci_td, key, pair(h->td_ci.lo, h->td_ci.hi));
    }
    cJSON_AddStringToObject(ci, "method", res->n_boot > 0 ? "bootstrap percentile 95%" : "none (--bootstrap 0)");
    cJSON_AddNumberToObject(ci, "resamples", res->n_boot);
    cJSON_AddItemToObject(ci, "c_harrell", pair(s->harrell_ci.lo, s->harrell_ci.hi));
    cJSON_AddItemToObject(ci, "c_uno", pair(s->uno_ci.lo, s->uno_ci.hi));
    cJSON_AddItemToObject(ci, "td_auroc", ci_td);
    cJSON_AddStringToObject(o, "paper_auroc_note",
                            "paper-compatible: k-year AUROC without censoring weights (cases: event by k; "
                            "controls: followed >= k without event; censored before k dropped)");
    return o;
}

cJSON *os_eval_result_to_json(const os_eval_result *res) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    cJSON *scores = cJSON_AddObjectToObject(root, "scores");
    for (size_t k = 0; k < res->n_scores; k++)
        cJSON_AddItemToObject(scores, res->scores[k].name, score_json(res, &res->scores[k]));
    cJSON *paired = cJSON_AddArrayToObject(root, "paired");
    for (size_t p = 0; p < res->n_pairs; p++) {
        const os_eval_delong_pair *d = &res->pairs[p];
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "a", res->pair_a[p]);
        cJSON_AddStringToObject(j, "b", res->pair_b[p]);
        cJSON_AddNumberToObject(j, "n", (double)d->n);
        add_num(j, "auroc_a", d->auc_a);
        add_num(j, "auroc_b", d->auc_b);
        add_num(j, "difference", d->diff);
        add_num(j, "z", d->z);
        add_num(j, "p", d->p);
        cJSON_AddItemToArray(paired, j);
    }
    cJSON_AddNumberToObject(root, "n", (double)res->n_rows);
    cJSON_AddNumberToObject(root, "events", (double)res->n_events);
    cJSON_AddNumberToObject(root, "n_with_outcome", (double)res->n_valid);
    if (isnan(res->tau))
        cJSON_AddNullToObject(root, "tau");
    else
        cJSON_AddNumberToObject(root, "tau", res->tau);
    cJSON_AddNumberToObject(root, "bootstrap", res->n_boot);
    /* A double holds whole numbers exactly only up to 2^53; a larger seed goes as text. */
    if (res->seed <= (1ull << 53)) {
        cJSON_AddNumberToObject(root, "seed", (double)res->seed);
    } else {
        char seed[24];
        snprintf(seed, sizeof seed, "%llu", (unsigned long long)res->seed);
        cJSON_AddStringToObject(root, "seed", seed);
    }
    return root;
}
