/* Detection AUROC with DeLong's (1988) variance, and the paired test between two scores on
 * the same subjects. DeLong works from "placements": for each positive, the share of
 * negatives it outscores (ties ½), and for each negative, the share of positives that outscore
 * it. Their means are the AUROC; their sample (co)variances give its (co)variance without
 * any distributional assumption. Placements come from binary search over sorted scores, so
 * a cohort of any size costs O(n log n). */
#include "osteoscout/eval.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define Z975 1.959963984540054

typedef struct placements {
    double *v10, *v01; /* per positive, per negative */
    size_t m, k;       /* number of positives, negatives */
    double auc;
} placements;

static void placements_free(placements *p) {
    free(p->v10);
    free(p->v01);
    memset(p, 0, sizeof *p);
}

static int place(const double *score, const int *label, size_t n, placements *p, os_error *err) {
    memset(p, 0, sizeof *p);
    for (size_t i = 0; i < n; i++) {
        if (label[i])
            p->m++;
        else
            p->k++;
    }
    if (p->m == 0 || p->k == 0)
        return os_error_set(err, -EDOM, "AUROC needs positives and negatives (have %zu positive, %zu negative)", p->m,
                            p->k);
    double *pos = malloc(p->m * sizeof *pos), *neg = malloc(p->k * sizeof *neg);
    p->v10 = malloc(p->m * sizeof *p->v10);
    p->v01 = malloc(p->k * sizeof *p->v01);
    if (!pos || !neg || !p->v10 || !p->v01) {
        free(pos);
        free(neg);
        placements_free(p);
        return os_error_set(err, -ENOMEM, "out of memory for the AUROC");
    }
    size_t a = 0, b = 0;
    for (size_t i = 0; i < n; i++) {
        if (label[i])
            pos[a++] = score[i];
        else
            neg[b++] = score[i];
    }
    qsort(pos, p->m, sizeof *pos, eval_cmp_double);
    qsort(neg, p->k, sizeof *neg, eval_cmp_double);
    /* Placements keep the subjects' own order so that two scores' placements pair up. */
    a = b = 0;
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        size_t below, equal;
        if (label[i]) {
            eval_count_around(neg, p->k, score[i], &below, &equal);
            p->v10[a] = ((double)below + 0.5 * (double)equal) / (double)p->k;
            sum += p->v10[a++];
        } else {
            eval_count_around(pos, p->m, score[i], &below, &equal);
            p->v01[b++] = ((double)(p->m - below - equal) + 0.5 * (double)equal) / (double)p->m;
        }
    }
    p->auc = sum / (double)p->m;
    free(pos);
    free(neg);
    return 0;
}

/* Sample covariance (denominator n − 1) of x and y around their means; 0 when n < 2, where
 * DeLong's variance has no estimate from that group. */
static double cov(const double *x, double mx, const double *y, double my, size_t n) {
    if (n < 2) return 0;
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (x[i] - mx) * (y[i] - my);
    return s / (double)(n - 1);
}

static double mean(const double *x, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += x[i];
    return s / (double)n;
}

int os_eval_auroc_delong(const double *score, const int *label, size_t n, os_eval_auroc *out, os_error *err) {
    memset(out, 0, sizeof *out);
    placements p;
    int rc = place(score, label, n, &p, err);
    if (rc) return rc;
    double m01 = mean(p.v01, p.k);
    out->auc = p.auc;
    out->var = cov(p.v10, p.auc, p.v10, p.auc, p.m) / (double)p.m + cov(p.v01, m01, p.v01, m01, p.k) / (double)p.k;
    double sd = sqrt(out->var);
    out->lo = fmax(0, p.auc - Z975 * sd);
    out->hi = fmin(1, p.auc + Z975 * sd);
    out->n_pos = p.m;
    out->n_neg = p.k;
    placements_free(&p);
    return 0;
}

int os_eval_auroc_paired(const double *a, const double *b, const int *label, size_t n, os_eval_delong_pair *out,
                         os_error *err) {
    memset(out, 0, sizeof *out);
    placements pa, pb;
    int rc = place(a, label, n, &pa, err);
    if (rc) return rc;
    if ((rc = place(b, label, n, &pb, err)) != 0) {
        placements_free(&pa);
        return rc;
    }
    size_t m = pa.m, k = pa.k;
    double ma = mean(pa.v01, k), mb = mean(pb.v01, k);
    double var_a = cov(pa.v10, pa.auc, pa.v10, pa.auc, m) / (double)m + cov(pa.v01, ma, pa.v01, ma, k) / (double)k;
    double var_b = cov(pb.v10, pb.auc, pb.v10, pb.auc, m) / (double)m + cov(pb.v01, mb, pb.v01, mb, k) / (double)k;
    double c_ab = cov(pa.v10, pa.auc, pb.v10, pb.auc, m) / (double)m + cov(pa.v01, ma, pb.v01, mb, k) / (double)k;
    out->auc_a = pa.auc;
    out->auc_b = pb.auc;
    out->diff = pa.auc - pb.auc;
    out->var_diff = var_a + var_b - 2 * c_ab;
    out->n = n;
    out->n_pos = m;
    out->n_neg = k;
    if (out->var_diff > 0) {
        out->z = out->diff / sqrt(out->var_diff);
        out->p = erfc(fabs(out->z) / sqrt(2.0));
    } else {
        /* Identical rankings: no difference and nothing to test. */
        out->z = out->diff == 0 ? 0 : NAN;
        out->p = out->diff == 0 ? 1 : NAN;
    }
    placements_free(&pa);
    placements_free(&pb);
    return 0;
}
