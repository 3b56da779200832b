/* Percentile bootstrap for the c-indices and time-dependent AUROCs, which have no simple
 * closed-form variance once censoring weights are estimated from the same data. Each
 * resample redraws subjects with replacement and redoes everything, the censoring curve
 * included, so the interval carries the weights' own uncertainty.
 *
 * Our own generator (xoshiro256**, seeded through splitmix64) rather than rand(): the same
 * --seed must give the same interval on every machine and libc. */
#include "osteoscout/eval.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void os_eval_rng_seed(os_eval_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t os_eval_rng_next(os_eval_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

size_t os_eval_rng_below(os_eval_rng *r, size_t n) {
    uint64_t bound = (uint64_t)n, threshold = (0 - bound) % bound; /* 2^64 mod n */
    for (;;) {
        uint64_t x = os_eval_rng_next(r);
        if (x >= threshold) return (size_t)(x % bound);
    }
}

double os_eval_quantile(double *x, size_t n, double p) {
    if (n == 0) return NAN;
    qsort(x, n, sizeof *x, eval_cmp_double);
    double h = (double)(n - 1) * p;
    size_t lo = (size_t)floor(h);
    if (lo + 1 >= n) return x[n - 1];
    return x[lo] + (h - (double)lo) * (x[lo + 1] - x[lo]);
}

static void interval(double *draws, int n_valid, os_eval_ci *ci) {
    ci->n_valid = n_valid;
    ci->lo = os_eval_quantile(draws, (size_t)n_valid, 0.025);
    ci->hi = os_eval_quantile(draws, (size_t)n_valid, 0.975);
}

int eval_bootstrap(const double *time, const int *event, const double *score, size_t n, const double *horizons,
                   size_t nh, double tau, int n_boot, uint64_t seed, os_eval_ci *harrell, os_eval_ci *uno,
                   os_eval_ci *td, os_error *err) {
    os_eval_ci none = {NAN, NAN, 0};
    *harrell = *uno = none;
    for (size_t k = 0; k < nh; k++) td[k] = none;
    if (n_boot <= 0 || n == 0) return 0;
    double *bt = malloc(n * sizeof *bt), *bs = malloc(n * sizeof *bs);
    int *be = malloc(n * sizeof *be);
    /* draws: n_boot per metric, metrics = Harrell, Uno, then one per horizon. */
    double *draws = malloc((size_t)n_boot * (2 + nh) * sizeof *draws);
    int *valid = calloc(2 + nh, sizeof *valid);
    int rc = 0;
    if (!bt || !bs || !be || !draws || !valid) {
        rc = os_error_set(err, -ENOMEM, "out of memory for the bootstrap");
        goto out;
    }
    os_eval_rng rng;
    os_eval_rng_seed(&rng, seed);
    for (int b = 0; b < n_boot; b++) {
        for (size_t i = 0; i < n; i++) {
            size_t j = os_eval_rng_below(&rng, n);
            bt[i] = time[j];
            be[i] = event[j];
            bs[i] = score[j];
        }
        os_eval_concordance c;
        if ((rc = os_eval_cindex(bt, be, bs, n, OS_EVAL_HARRELL, NAN, &c, err)) != 0) goto out;
        if (!isnan(c.c)) draws[valid[0]++] = c.c;
        if ((rc = os_eval_cindex(bt, be, bs, n, OS_EVAL_UNO, tau, &c, err)) != 0) goto out;
        if (!isnan(c.c)) draws[(size_t)n_boot + (size_t)valid[1]++] = c.c;
        for (size_t k = 0; k < nh; k++) {
            os_eval_td t;
            if ((rc = os_eval_td_auroc(bt, be, bs, n, horizons[k], &t, err)) != 0) goto out;
            if (!isnan(t.auc)) draws[(2 + k) * (size_t)n_boot + (size_t)valid[2 + k]++] = t.auc;
        }
    }
    interval(draws, valid[0], harrell);
    interval(draws + n_boot, valid[1], uno);
    for (size_t k = 0; k < nh; k++) interval(draws + (2 + k) * (size_t)n_boot, valid[2 + k], &td[k]);
out:
    free(bt);
    free(bs);
    free(be);
    free(draws);
    free(valid);
    return rc;
}
