/* Helpers shared by the files of lib/eval and by nothing else: sorted copies and rank
 * counting, the O(n log n) core of every Mann–Whitney-type statistic here. */
#ifndef OSTEOSCOUT_EVAL_INTERNAL_H
#define OSTEOSCOUT_EVAL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "osteoscout/eval.h"

int eval_cmp_double(const void *a, const void *b);

/* A malloc'd ascending copy of x[0..n) (NULL when n is 0 or out of memory: check n). */
double *eval_sorted_copy(const double *x, size_t n);

/* In ascending sorted[0..n): how many are < v and how many == v. */
void eval_count_around(const double *sorted, size_t n, double v, size_t *below, size_t *equal);

/* Percentile intervals of Harrell's C, Uno's C (with tau) and the time-dependent AUROC at each
 * of nh horizons over n_boot resamples (bootstrap.c); NaN and n_valid 0 when n_boot is 0. */
int eval_bootstrap(const double *time, const int *event, const double *score, size_t n, const double *horizons,
                   size_t nh, double tau, int n_boot, uint64_t seed, os_eval_ci *harrell, os_eval_ci *uno,
                   os_eval_ci *td, os_error *err);

#endif
