/* Calibration at a horizon: do the predicted probabilities of fracture by h match what
 * happened? Subjects are binned by prediction into equal-count deciles and each bin's observed
 * risk is 1 − S(h) from its own Kaplan–Meier curve, because a plain event rate would count the
 * censored as fracture-free and flatter a model that over-predicts. */
#include "osteoscout/eval.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct ranked {
    double p;
    size_t i;
} ranked;

/* By prediction, then by row, so bins do not depend on qsort's handling of ties. */
static int cmp_ranked(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->p != y->p) return (x->p > y->p) - (x->p < y->p);
    return (x->i > y->i) - (x->i < y->i);
}

static int observed_risk(const double *time, const int *event, const ranked *r, size_t n, double h, double *risk,
                         size_t *events, os_error *err) {
    double *t = malloc(n * sizeof *t);
    int *e = malloc(n * sizeof *e);
    if (!t || !e) {
        free(t);
        free(e);
        return os_error_set(err, -ENOMEM, "out of memory for calibration");
    }
    *events = 0;
    for (size_t k = 0; k < n; k++) {
        t[k] = time[r[k].i];
        e[k] = event[r[k].i];
        *events += e[k] && t[k] <= h;
    }
    os_eval_km km;
    int rc = os_eval_km_survival(t, e, n, &km, err);
    if (rc == 0) *risk = 1 - os_eval_km_at(&km, h);
    os_eval_km_free(&km);
    free(t);
    free(e);
    return rc;
}

int os_eval_calibrate(const double *time, const int *event, const double *pred, size_t n, double h,
                      os_eval_calibration *out, os_error *err) {
    memset(out, 0, sizeof *out);
    out->mean_predicted = out->observed = out->abs_error = NAN;
    if (n == 0) return 0;
    ranked *r = malloc(n * sizeof *r);
    if (!r) return os_error_set(err, -ENOMEM, "out of memory for calibration");
    for (size_t i = 0; i < n; i++) r[i] = (ranked){pred[i], i};
    qsort(r, n, sizeof *r, cmp_ranked);

    int rc = 0;
    size_t events;
    double sum = 0, abs_dev = 0;
    for (size_t i = 0; i < n; i++) sum += r[i].p;
    out->mean_predicted = sum / (double)n;
    if ((rc = observed_risk(time, event, r, n, h, &out->observed, &events, err)) != 0) goto out;

    /* At least 10 subjects a bin, so a bin's KM is not one or two people. */
    size_t want = n / 10 < OS_EVAL_CAL_BINS ? n / 10 : OS_EVAL_CAL_BINS;
    if (want == 0) want = 1;
    size_t start = 0;
    for (size_t g = 0; g < want && start < n; g++) {
        size_t end = (g + 1) * n / want;
        if (end <= start) continue; /* the previous bin's ties reached past this one */
        while (end < n && r[end].p == r[end - 1].p) end++;
        os_eval_cal_bin *b = &out->bins[out->n_bins++];
        b->n = end - start;
        double s = 0;
        for (size_t k = start; k < end; k++) s += r[k].p;
        b->mean_predicted = s / (double)b->n;
        if ((rc = observed_risk(time, event, r + start, b->n, h, &b->observed, &b->events, err)) != 0) goto out;
        abs_dev += (double)b->n * fabs(b->observed - b->mean_predicted);
        start = end;
    }
    out->abs_error = abs_dev / (double)n;
out:
    free(r);
    return rc;
}
