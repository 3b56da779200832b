/* The evaluation of a cohort CSV: checks every value the options name, then computes each
 * score's metrics on the rows where that score has all it needs. A row missing one score
 * still counts for the others, so comparing a new model on a partly scored cohort does not
 * quietly shrink the old model's sample; the paired tests use the rows both scores share. */
#include "osteoscout/eval.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* One parsed column: values and whether each is present. */
typedef struct column {
    const char *name, *role;
    int index;
    double *v;
    unsigned char *present;
} column;

static void column_free(column *c) {
    free(c->v);
    free(c->present);
    c->v = NULL;
    c->present = NULL;
}

enum kind { ANY, NONNEG, BINARY, PROBABILITY };

static int missing_column(const os_eval_csv *csv, const char *name, const char *role, os_error *err) {
    char cols[256] = "";
    size_t used = 0;
    for (size_t c = 0; c < csv->n_cols && used < sizeof cols - 8; c++)
        used += (size_t)snprintf(cols + used, sizeof cols - used, "%s%s", c ? ", " : "", csv->header[c]);
    return os_error_set(err, -ENOENT, "column '%s' (%s) is not in the CSV header; it has: %s", name, role, cols);
}

static int load(const os_eval_csv *csv, const char *name, const char *role, enum kind kind, column *c,
                os_error *err) {
    memset(c, 0, sizeof *c);
    c->name = name;
    c->role = role;
    c->index = os_eval_csv_column(csv, name);
    if (c->index < 0) return missing_column(csv, name, role, err);
    size_t n = csv->n_rows ? csv->n_rows : 1;
    c->v = malloc(n * sizeof *c->v);
    c->present = malloc(n);
    if (!c->v || !c->present) {
        column_free(c);
        return os_error_set(err, -ENOMEM, "out of memory reading column '%s'", name);
    }
    for (size_t r = 0; r < csv->n_rows; r++) {
        const char *cell = os_eval_csv_cell(csv, r, (size_t)c->index);
        double x = NAN;
        int st = os_eval_parse_cell(cell, &x);
        const char *need = NULL;
        if (st < 0)
            need = "a number";
        else if (st == 0 && kind == NONNEG && x < 0)
            need = "a time of 0 or more";
        else if (st == 0 && kind == BINARY && x != 0 && x != 1)
            need = "0 or 1";
        else if (st == 0 && kind == PROBABILITY && !(x >= 0 && x <= 1))
            need = "a probability from 0 to 1";
        if (need) {
            int rc = os_error_set(err, -EINVAL, "column '%s' (%s), line %zu: '%s' is not %s", name, role,
                                  csv->line[r], cell, need);
            column_free(c);
            return rc;
        }
        c->present[r] = st == 0;
        c->v[r] = x;
    }
    return 0;
}

/* The rows a set of columns all have, gathered into arrays the metrics take. */
typedef struct subset {
    size_t n;
    double *time, *score, *extra; /* extra: the label as 0/1, or a risk column */
    int *event, *label;
} subset;

static void subset_free(subset *s) {
    free(s->time);
    free(s->score);
    free(s->extra);
    free(s->event);
    free(s->label);
    memset(s, 0, sizeof *s);
}

/* need: columns that must be present; time/event/score/label/extra fill the arrays (any may
 * be NULL). */
static int gather(size_t n_rows, const column *const *need, size_t n_need, const column *time, const column *event,
                  const column *score, const column *label, const column *extra, subset *s, os_error *err) {
    memset(s, 0, sizeof *s);
    size_t cap = n_rows ? n_rows : 1;
    s->time = malloc(cap * sizeof *s->time);
    s->score = malloc(cap * sizeof *s->score);
    s->extra = malloc(cap * sizeof *s->extra);
    s->event = malloc(cap * sizeof *s->event);
    s->label = malloc(cap * sizeof *s->label);
    if (!s->time || !s->score || !s->extra || !s->event || !s->label) {
        subset_free(s);
        return os_error_set(err, -ENOMEM, "out of memory selecting rows");
    }
    for (size_t r = 0; r < n_rows; r++) {
        int ok = 1;
        for (size_t k = 0; k < n_need && ok; k++) ok = need[k]->present[r];
        if (!ok) continue;
        size_t i = s->n++;
        s->time[i] = time ? time->v[r] : 0;
        s->event[i] = event ? event->v[r] != 0 : 0;
        s->score[i] = score ? score->v[r] : 0;
        s->label[i] = label ? label->v[r] != 0 : 0;
        s->extra[i] = extra ? extra->v[r] : 0;
    }
    return 0;
}

static const os_eval_risk_col *risk_for(const os_eval_opts *o, const char *score, double h) {
    for (size_t k = 0; k < o->n_risk; k++) {
        const char *s = o->risk[k].score ? o->risk[k].score : o->score_cols[0];
        if (strcmp(s, score) == 0 && o->risk[k].horizon == h) return &o->risk[k];
    }
    return NULL;
}

static int check_opts(const os_eval_opts *o, os_error *err) {
    if (o->n_scores == 0) return os_error_set(err, -EINVAL, "no score column to evaluate");
    for (size_t k = 0; k < o->n_horizons; k++)
        if (!(o->horizons[k] > 0)) return os_error_set(err, -EINVAL, "horizon %g is not a positive time", o->horizons[k]);
    for (size_t k = 0; k < o->n_risk; k++) {
        const os_eval_risk_col *rc = &o->risk[k];
        if (!rc->score && o->n_scores > 1)
            return os_error_set(err, -EINVAL, "risk column '%s' does not say which of the %zu scores it belongs to",
                                rc->column, o->n_scores);
        int found = !rc->score;
        for (size_t s = 0; s < o->n_scores && !found; s++) found = strcmp(rc->score, o->score_cols[s]) == 0;
        if (!found) return os_error_set(err, -EINVAL, "risk column '%s' names score '%s', which is not evaluated",
                                        rc->column, rc->score);
        int h_found = 0;
        for (size_t h = 0; h < o->n_horizons && !h_found; h++) h_found = o->horizons[h] == rc->horizon;
        if (!h_found) return os_error_set(err, -EINVAL, "risk column '%s' is for horizon %g, which is not among the horizons",
                                          rc->column, rc->horizon);
    }
    return 0;
}

static int eval_score(const os_eval_csv *csv, const os_eval_opts *o, const column *time, const column *event,
                      const column *label, const column *score, os_eval_score *out, os_error *err) {
    const column *need[4] = {time, event, score, label};
    size_t n_need = label ? 4 : 3;
    subset s;
    int rc = gather(csv->n_rows, need, n_need, time, event, score, label, NULL, &s, err);
    if (rc) return rc;
    if ((rc = os_eval_timefix(s.time, s.n, err)) != 0) goto out;
    out->name = score->name;
    out->n = s.n;
    out->dropped = csv->n_rows - s.n;
    for (size_t i = 0; i < s.n; i++) out->events += (size_t)s.event[i];
    out->in_unit_interval = s.n > 0;
    for (size_t i = 0; i < s.n; i++)
        if (!(s.score[i] >= 0 && s.score[i] <= 1)) out->in_unit_interval = 0;

    if (label) {
        out->has_auroc = 1;
        if ((rc = os_eval_auroc_delong(s.score, s.label, s.n, &out->auroc, err)) != 0) {
            os_error_wrap(err, "score '%s' against label '%s'", score->name, label->name);
            goto out;
        }
    }
    if ((rc = os_eval_cindex(s.time, s.event, s.score, s.n, OS_EVAL_HARRELL, NAN, &out->harrell, err)) != 0)
        goto out;
    if ((rc = os_eval_cindex(s.time, s.event, s.score, s.n, OS_EVAL_UNO, o->tau, &out->uno, err)) != 0) goto out;

    out->horizons = calloc(o->n_horizons ? o->n_horizons : 1, sizeof *out->horizons);
    os_eval_ci *td_ci = calloc(o->n_horizons ? o->n_horizons : 1, sizeof *td_ci);
    if (!out->horizons || !td_ci) {
        free(td_ci);
        rc = os_error_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    for (size_t k = 0; k < o->n_horizons; k++) {
        os_eval_horizon *h = &out->horizons[k];
        h->h = o->horizons[k];
        if ((rc = os_eval_td_auroc(s.time, s.event, s.score, s.n, h->h, &h->td, err)) != 0) break;
        if ((rc = os_eval_paper_auroc(s.time, s.event, s.score, s.n, h->h, &h->paper, err)) != 0) break;
        const os_eval_risk_col *risk = risk_for(o, score->name, h->h);
        if (risk) {
            column rcol;
            if ((rc = load(csv, risk->column, "--risk-col", PROBABILITY, &rcol, err)) != 0) break;
            const column *rneed[5] = {time, event, score, &rcol, label};
            subset rs;
            rc = gather(csv->n_rows, rneed, label ? 5 : 4, time, event, NULL, NULL, &rcol, &rs, err);
            if (rc == 0) rc = os_eval_timefix(rs.time, rs.n, err);
            if (rc == 0) {
                h->cal_state = 1;
                h->cal_column = risk->column;
                h->cal_dropped = s.n - rs.n;
                rc = os_eval_calibrate(rs.time, rs.event, rs.extra, rs.n, h->h, &h->cal, err);
            }
            subset_free(&rs);
            column_free(&rcol);
            if (rc) break;
        } else if (out->in_unit_interval) {
            h->cal_state = 2;
            h->cal_column = score->name;
            if ((rc = os_eval_calibrate(s.time, s.event, s.score, s.n, h->h, &h->cal, err)) != 0) break;
        }
    }
    if (rc == 0)
        rc = eval_bootstrap(s.time, s.event, s.score, s.n, o->horizons, o->n_horizons, o->tau, o->n_boot, o->seed,
                            &out->harrell_ci, &out->uno_ci, td_ci, err);
    for (size_t k = 0; k < o->n_horizons && rc == 0; k++) out->horizons[k].td_ci = td_ci[k];
    free(td_ci);
out:
    subset_free(&s);
    return rc;
}

int os_eval_run(const os_eval_csv *csv, const os_eval_opts *o, os_eval_result *res, os_error *err) {
    memset(res, 0, sizeof *res);
    int rc = check_opts(o, err);
    if (rc) return rc;
    column time = {0}, event = {0}, label = {0};
    column *scores = calloc(o->n_scores, sizeof *scores);
    if (!scores) return os_error_set(err, -ENOMEM, "out of memory");
    res->n_rows = csv->n_rows;
    res->n_scores = o->n_scores;
    res->n_horizons = o->n_horizons;
    res->n_boot = o->n_boot;
    res->seed = o->seed;
    res->tau = o->tau;
    res->has_label = o->label_col != NULL;

    if ((rc = load(csv, o->time_col, "--time", NONNEG, &time, err)) != 0) goto out;
    if ((rc = load(csv, o->event_col, "--event", BINARY, &event, err)) != 0) goto out;
    if (o->label_col && (rc = load(csv, o->label_col, "--label", BINARY, &label, err)) != 0) goto out;
    for (size_t k = 0; k < o->n_scores; k++)
        if ((rc = load(csv, o->score_cols[k], "--score", ANY, &scores[k], err)) != 0) goto out;
    for (size_t r = 0; r < csv->n_rows; r++)
        if (time.present[r] && event.present[r]) {
            res->n_valid++;
            res->n_events += event.v[r] != 0;
        }

    res->scores = calloc(o->n_scores, sizeof *res->scores);
    if (!res->scores) {
        rc = os_error_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    for (size_t k = 0; k < o->n_scores; k++)
        if ((rc = eval_score(csv, o, &time, &event, o->label_col ? &label : NULL, &scores[k], &res->scores[k], err)) !=
            0)
            goto out;

    if (o->label_col && o->n_scores > 1) {
        size_t np = o->n_scores * (o->n_scores - 1) / 2;
        res->pairs = calloc(np, sizeof *res->pairs);
        res->pair_a = calloc(np, sizeof *res->pair_a);
        res->pair_b = calloc(np, sizeof *res->pair_b);
        if (!res->pairs || !res->pair_a || !res->pair_b) {
            rc = os_error_set(err, -ENOMEM, "out of memory");
            goto out;
        }
        for (size_t a = 0; a < o->n_scores; a++)
            for (size_t b = a + 1; b < o->n_scores; b++) {
                const column *need[5] = {&time, &event, &label, &scores[a], &scores[b]};
                subset s;
                if ((rc = gather(csv->n_rows, need, 5, NULL, NULL, &scores[a], &label, &scores[b], &s, err)) != 0)
                    goto out;
                size_t p = res->n_pairs++;
                res->pair_a[p] = scores[a].name;
                res->pair_b[p] = scores[b].name;
                rc = os_eval_auroc_paired(s.score, s.extra, s.label, s.n, &res->pairs[p], err);
                subset_free(&s);
                if (rc) {
                    os_error_wrap(err, "paired test of '%s' and '%s'", scores[a].name, scores[b].name);
                    goto out;
                }
            }
    }
out:
    column_free(&time);
    column_free(&event);
    column_free(&label);
    for (size_t k = 0; k < o->n_scores; k++) column_free(&scores[k]);
    free(scores);
    if (rc) os_eval_result_free(res);
    return rc;
}

void os_eval_result_free(os_eval_result *res) {
    if (!res) return;
    if (res->scores)
        for (size_t k = 0; k < res->n_scores; k++) free(res->scores[k].horizons);
    free(res->scores);
    free(res->pairs);
    free(res->pair_a);
    free(res->pair_b);
    memset(res, 0, sizeof *res);
}
