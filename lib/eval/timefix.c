/* Near-equal times made equal, as survival's aeqSurv does before every concordance. Times
 * computed in floating point (days / 365.25, differences of dates) can differ in the last
 * bits where a person sees one time; without this, an event and a censoring "at the same
 * time" would silently become ordered, and Harrell's C would differ from R's. */
#include "osteoscout/eval.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "internal.h"

int os_eval_timefix(double *time, size_t n, os_error *err) {
    if (n < 2) return 0;
    double *y = eval_sorted_copy(time, n);
    if (!y) return os_error_set(err, -ENOMEM, "out of memory merging tied times");
    size_t u = 0;
    double mean_abs = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || y[i] != y[u - 1]) y[u++] = y[i];
    for (size_t i = 0; i < u; i++) mean_abs += fabs(y[i]);
    mean_abs /= (double)u;
    /* Keep a distinct time as a cut unless it is within tolerance of the one before it;
     * every time then moves down to the last cut at or below it. */
    const double tol = sqrt(DBL_EPSILON);
    size_t nc = 1;
    for (size_t i = 1; i < u; i++) {
        double dy = y[i] - y[i - 1];
        if (!(dy <= tol || dy / mean_abs <= tol)) y[nc++] = y[i];
    }
    if (nc < u)
        for (size_t i = 0; i < n; i++) {
            size_t lo = 0, hi = nc; /* last cut <= time[i] */
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (y[mid] <= time[i]) lo = mid + 1;
                else hi = mid;
            }
            time[i] = y[lo - 1];
        }
    free(y);
    return 0;
}
