/* AUROC for "fracture by horizon h" when follow-up is censored.
 *
 * Cumulative/dynamic with IPCW (riskRegression::Score, cens.model "km"): cases had their
 * event at or before h and each stands for 1/G(T−) subjects like them, censored before we
 * could see their event; controls are still event-free after h and share one weight 1/G(h),
 * which cancels; subjects censored at or before h drop out, their weight carried by the rest.
 *
 * The paper's variant ignores censoring: the same cases unweighted, controls followed at
 * least h without an event by h. It is biased when censoring depends on time, and is kept
 * only so that figures can be put next to the published ones. */
#include "osteoscout/eval.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Σ_cases w_i · (#controls below + ½ #controls equal) / (Σ w_i · #controls). */
static int weighted_auc(const double *score, const double *case_w, const int *control, size_t n, os_eval_td *out,
                        os_error *err) {
    size_t nc = 0;
    for (size_t i = 0; i < n; i++) nc += control[i] != 0;
    double *ctrl = nc ? malloc(nc * sizeof *ctrl) : NULL;
    if (nc && !ctrl) return os_error_set(err, -ENOMEM, "out of memory for the time-dependent AUROC");
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (control[i]) ctrl[k++] = score[i];
    if (nc) qsort(ctrl, nc, sizeof *ctrl, eval_cmp_double);
    double num = 0, den = 0;
    out->n_controls = nc;
    out->n_cases = 0;
    for (size_t i = 0; i < n; i++) {
        if (case_w[i] <= 0) continue;
        out->n_cases++;
        size_t below = 0, equal = 0;
        if (nc) eval_count_around(ctrl, nc, score[i], &below, &equal);
        num += case_w[i] * ((double)below + 0.5 * (double)equal);
        den += case_w[i] * (double)nc;
    }
    out->auc = den > 0 ? num / den : NAN;
    free(ctrl);
    return 0;
}

static int run(const double *time, const int *event, const double *score, size_t n, double h, int ipcw,
               os_eval_td *out, os_error *err) {
    memset(out, 0, sizeof *out);
    out->auc = NAN;
    if (n == 0) return 0;
    double *w = malloc(n * sizeof *w);
    int *control = malloc(n * sizeof *control);
    os_eval_km g = {0};
    int rc = 0;
    if (!w || !control) {
        rc = os_error_set(err, -ENOMEM, "out of memory for the time-dependent AUROC");
        goto out;
    }
    if (ipcw && (rc = os_eval_km_censoring(time, event, n, &g, err)) != 0) goto out;
    for (size_t i = 0; i < n; i++) {
        int is_case = event[i] && time[i] <= h;
        w[i] = 0;
        if (is_case) w[i] = ipcw ? 1 / os_eval_km_before(&g, time[i]) : 1;
        control[i] = ipcw ? time[i] > h : !is_case && time[i] >= h;
    }
    rc = weighted_auc(score, w, control, n, out, err);
out:
    free(w);
    free(control);
    os_eval_km_free(&g);
    return rc;
}

int os_eval_td_auroc(const double *time, const int *event, const double *score, size_t n, double h, os_eval_td *out,
                     os_error *err) {
    return run(time, event, score, n, h, 1, out, err);
}

int os_eval_paper_auroc(const double *time, const int *event, const double *score, size_t n, double k,
                        os_eval_td *out, os_error *err) {
    return run(time, event, score, n, k, 0, out, err);
}
