/* Kaplan–Meier curves of survival (for calibration) and of censoring (for the inverse
 * probability of censoring weights of Uno's C and the time-dependent AUROC).
 *
 * The one convention that matters is a tie between an event and a censoring: the censored
 * subject is taken to have been at risk of the event, so for the censoring curve the events at
 * that time leave the risk set first, hazard c / (n − d). survival's fastkm (behind
 * concordance's "n/G2") and prodlim's reverse KM (behind riskRegression's "km") both do this;
 * survfit(Surv(time, 1 − status)) does not, and would disagree with both. */
#include "osteoscout/eval.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct obs {
    double t;
    int e;
} obs;

static int cmp_obs(const void *a, const void *b) {
    const obs *x = a, *y = b;
    return (x->t > y->t) - (x->t < y->t);
}

static int fit(const double *time, const int *event, size_t n, int censoring, os_eval_km *km, os_error *err) {
    memset(km, 0, sizeof *km);
    if (n == 0) return 0;
    obs *o = malloc(n * sizeof *o);
    km->time = malloc(n * sizeof *km->time);
    km->value = malloc(n * sizeof *km->value);
    if (!o || !km->time || !km->value) {
        free(o);
        os_eval_km_free(km);
        return os_error_set(err, -ENOMEM, "out of memory for a Kaplan–Meier curve");
    }
    for (size_t i = 0; i < n; i++) o[i] = (obs){time[i], event[i] != 0};
    qsort(o, n, sizeof *o, cmp_obs);
    double v = 1;
    size_t at_risk = n;
    for (size_t i = 0; i < n;) {
        size_t j = i, d = 0;
        while (j < n && o[j].t == o[i].t) d += (size_t)o[j++].e;
        size_t c = (j - i) - d;
        if (censoring ? c > 0 : d > 0) {
            v *= censoring ? 1.0 - (double)c / (double)(at_risk - d) : 1.0 - (double)d / (double)at_risk;
            km->time[km->n] = o[i].t;
            km->value[km->n] = v;
            km->n++;
        }
        at_risk -= j - i;
        i = j;
    }
    free(o);
    return 0;
}

int os_eval_km_survival(const double *time, const int *event, size_t n, os_eval_km *km, os_error *err) {
    return fit(time, event, n, 0, km, err);
}

int os_eval_km_censoring(const double *time, const int *event, size_t n, os_eval_km *km, os_error *err) {
    return fit(time, event, n, 1, km, err);
}

/* Index of the last jump at or before t (strict: before t), or -1. */
static long last_jump(const os_eval_km *km, double t, int strict) {
    size_t lo = 0, hi = km->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strict ? km->time[mid] < t : km->time[mid] <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (long)lo - 1;
}

double os_eval_km_at(const os_eval_km *km, double t) {
    long k = last_jump(km, t, 0);
    return k < 0 ? 1.0 : km->value[k];
}

double os_eval_km_before(const os_eval_km *km, double t) {
    long k = last_jump(km, t, 1);
    return k < 0 ? 1.0 : km->value[k];
}

void os_eval_km_free(os_eval_km *km) {
    if (!km) return;
    free(km->time);
    free(km->value);
    memset(km, 0, sizeof *km);
}
