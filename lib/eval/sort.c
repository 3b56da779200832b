/* Sorting and rank counting for lib/eval (see internal.h). */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

int eval_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double *eval_sorted_copy(const double *x, size_t n) {
    if (n == 0) return NULL;
    double *s = malloc(n * sizeof *s);
    if (!s) return NULL;
    memcpy(s, x, n * sizeof *s);
    qsort(s, n, sizeof *s, eval_cmp_double);
    return s;
}

/* First index whose value is >= v (strict = 0) or > v (strict = 1). */
static size_t bound(const double *s, size_t n, double v, int strict) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strict ? s[mid] <= v : s[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void eval_count_around(const double *sorted, size_t n, double v, size_t *below, size_t *equal) {
    size_t lo = bound(sorted, n, v, 0), hi = bound(sorted, n, v, 1);
    *below = lo;
    *equal = hi - lo;
}
