/* Harrell's and Uno's concordance, with survival::concordance's pair rules:
 *   - a pair is comparable when the earlier time is an event; a subject censored at the very
 *     time of another's event counts as still at risk (comparable), two events at one time
 *     are a tie in time (counted apart, not comparable);
 *   - concordant when the earlier event has the higher score (reverse = TRUE: scores are
 *     risks), a tie in score counts ½;
 *   - Uno weighs every pair by 1/G(T−)² at the earlier (event) time, G the censoring KM of the
 *     same data (km.c), and with tau drops events after tau (survival's ymax).
 * Walking the times from the latest back, everyone later is already in a Fenwick tree over
 * score ranks, so each event asks "how many partners score below, equal, above me" in
 * O(log n): bootstrapping a few thousand subjects hundreds of times stays cheap. */
#include "osteoscout/eval.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct subj {
    double t;
    int e;
    size_t rank; /* 1-based rank of the score among the distinct scores */
} subj;

/* Latest time first; at one time, censored before events, so the censored are in the tree
 * when that time's events are counted. */
static int cmp_desc(const void *a, const void *b) {
    const subj *x = a, *y = b;
    if (x->t != y->t) return (x->t < y->t) - (x->t > y->t);
    return x->e - y->e;
}

static void bit_add(size_t *bit, size_t n, size_t i) {
    for (; i <= n; i += i & (~i + 1)) bit[i]++;
}

static size_t bit_sum(const size_t *bit, size_t i) { /* count of ranks 1..i */
    size_t s = 0;
    for (; i > 0; i -= i & (~i + 1)) s += bit[i];
    return s;
}

int os_eval_cindex(const double *time, const int *event, const double *score, size_t n, os_eval_cweight w,
                        double tau, os_eval_concordance *out, os_error *err) {
    memset(out, 0, sizeof *out);
    out->c = NAN;
    if (n == 0) return 0;
    subj *s = malloc(n * sizeof *s);
    double *uniq = eval_sorted_copy(score, n);
    size_t *bit = calloc(n + 1, sizeof *bit);
    os_eval_km g = {0};
    int rc = 0;
    if (!s || !uniq || !bit) {
        rc = os_error_set(err, -ENOMEM, "out of memory for the concordance");
        goto out;
    }
    if (w == OS_EVAL_UNO && (rc = os_eval_km_censoring(time, event, n, &g, err)) != 0) goto out;
    size_t nu = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || uniq[i] != uniq[nu - 1]) uniq[nu++] = uniq[i];
    for (size_t i = 0; i < n; i++) {
        size_t below, equal;
        eval_count_around(uniq, nu, score[i], &below, &equal);
        s[i] = (subj){time[i], event[i] != 0, below + 1};
    }
    qsort(s, n, sizeof *s, cmp_desc);

    size_t in_tree = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && s[j].t == s[i].t && !s[j].e) bit_add(bit, nu, s[j++].rank), in_tree++;
        size_t first_event = j;
        while (j < n && s[j].t == s[i].t) j++;
        size_t d = j - first_event;
        if (d > 0) {
            double wt = 1;
            if (!isnan(tau) && s[i].t > tau)
                wt = 0;
            else if (w == OS_EVAL_UNO) {
                double gm = os_eval_km_before(&g, s[i].t);
                wt = 1 / (gm * gm); /* gm > 0: someone was still uncensored to have this event */
            }
            for (size_t k = first_event; k < j; k++) {
                size_t below = bit_sum(bit, s[k].rank - 1), upto = bit_sum(bit, s[k].rank);
                out->concordant += wt * (double)below;
                out->tied_score += wt * (double)(upto - below);
                out->discordant += wt * (double)(in_tree - upto);
            }
            out->tied_time += wt * (double)d * (double)(d - 1) / 2;
            for (size_t k = first_event; k < j; k++) bit_add(bit, nu, s[k].rank), in_tree++;
        }
        i = j;
    }
    double pairs = out->concordant + out->discordant + out->tied_score;
    if (pairs > 0) out->c = (out->concordant + 0.5 * out->tied_score) / pairs;
out:
    free(s);
    free(uniq);
    free(bit);
    os_eval_km_free(&g);
    return rc;
}
