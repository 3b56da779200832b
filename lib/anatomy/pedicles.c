/* Pedicles, an independent count of vertebrae for the disc chain. A pedicle leaves the upper
 * half of its body on either side of the canal; level with the lower half and the disc below
 * is only the intervertebral foramen (fat, nerve root). So the slices with bone on both sides
 * of the front part of the canal come in one run per vertebra, and between two neighbouring
 * discs lies one run. This stays clear where the discs do not: on thick slices beside a
 * crushed or biconcave body, whose endplates fill the disc's slab, the profile of discs.c may
 * show no dip at a disc and a dip inside the body. (Where a body is crushed its pedicles keep
 * their height, so the disc above it may come level with them: a run says how many bodies
 * lie between two discs, not where exactly a disc may be.)
 * The runs are trusted only when they come as vertebrae do (regular spacing, short runs); the
 * sacrum, bone all round its canal, is left out. Otherwise the chain is chosen as before. */
#include <math.h>
#include <stdlib.h>

#include "spine_internal.h"

#define BOX_A_LO 1.0    /* mm anterior of the canal centre: behind the body's back wall, */
#define BOX_A_HI 5.0    /* in front of the laminae and facet joints */
#define BOX_L_LO 5.0    /* mm lateral of the canal centre: the pedicle's medial part */
#define BOX_L_HI 20.0
#define RUN_SHARE 0.35  /* of a typical pedicle slice's bone, both sides */
#define RUN_MAX_MM 30.0 /* a pedicle is ~half a body high; longer is no pedicle run */
#define GAP_MIN_MM 12.0 /* run spacing is one vertebra (less a crushed body's height loss) */
#define GAP_MAX_MM 55.0
#define EDGE_GAP_MIN_MM 8.0 /* a run cut by the end of the view has its centre displaced */
#define MEDIAN_MIN_MM 20.0  /* T10 to L5 vertebrae are 24-42 mm apart in adults */
#define GAP_LO_RATIO 0.45   /* a crushed body's spacing, down to about half */
#define GAP_HI_RATIO 1.55   /* L4-L5 against the median; a missed run makes ~2 */
#define PAIR_MIN_RATIO 1.3  /* two neighbouring spacings, even beside a crushed body */
#define FILL_AT 0.35    /* the disc sits in the caudal part of the gap: above it lies the
                           lower half of the next body, which has no pedicle */

/* Bright bone beside the front part of the canal on the weaker side of slice z. */
static int slice_score(const sp_ctx *c, int z) {
    int n[2] = {0, 0};
    /* only the box's own rows and columns: a ≥ 0 lies on the body's side of the canal */
    double y_a = c->canal_y[z] - BOX_A_LO * c->ypost / c->sy, y_b = c->canal_y[z] - BOX_A_HI * c->ypost / c->sy;
    int y0 = (int)floor(fmin(y_a, y_b)), y1 = (int)ceil(fmax(y_a, y_b));
    int x0 = (int)floor(c->canal_x[z] - BOX_L_HI / c->sx), x1 = (int)ceil(c->canal_x[z] + BOX_L_HI / c->sx);
    if (y0 < 0) y0 = 0;
    if (y1 > c->ny - 1) y1 = c->ny - 1;
    if (x0 < 0) x0 = 0;
    if (x1 > c->nx - 1) x1 = c->nx - 1;
    for (int y = y0; y <= y1; y++) {
        double a = (c->canal_y[z] - y) * c->ypost * c->sy;
        if (a < BOX_A_LO || a > BOX_A_HI) continue;
        for (int x = x0; x <= x1; x++) {
            double l = (x - c->canal_x[z]) * c->sx;
            if (fabs(l) < BOX_L_LO || fabs(l) > BOX_L_HI) continue;
            if (sp_smooth_at(c, x, y, z) > c->t_bone) n[l > 0]++;
        }
    }
    return n[0] < n[1] ? n[0] : n[1];
}

/* L5's pedicles sit a disc and half a body above the top of the sacrum; bone closer to it
 * is S1's own pedicles and the lumbosacral facets, seen through thick slices. */
#define SACRUM_CLEAR_MM 10.0
static int above_sacrum(const sp_ctx *c, double s) {
    if (isnan(c->s_sacrum)) return 1;
    return c->zcran > 0 ? s > c->s_sacrum + SACRUM_CLEAR_MM : s < c->s_sacrum - SACRUM_CLEAR_MM;
}

/* Runs come as vertebrae do: short, spaced one vertebra apart, and near the median spacing
 * (a crushed body shortens one spacing; a run missed doubles one, and pedicles found twice
 * per vertebra halve them all: then the runs are not used at all). */
static int runs_regular(const sp_ctx *c) {
    if (c->n_ped < 3) return 0;
    double gaps[SP_MAX_RUNS];
    int ng = 0;
    for (int i = 0; i < c->n_ped; i++) {
        const sp_run *r = &c->ped[i];
        if (r->hi - r->lo > RUN_MAX_MM) return 0;
        if (i == 0) continue;
        const sp_run *q = &c->ped[i - 1];
        double gap = (r->lo + r->hi) / 2 - (q->lo + q->hi) / 2;
        if (gap > GAP_MAX_MM || gap < (r->at_edge || q->at_edge ? EDGE_GAP_MIN_MM : GAP_MIN_MM)) return 0;
        if (!r->at_edge && !q->at_edge) gaps[ng++] = gap;
    }
    if (ng < 2) return 0;
    double sorted[SP_MAX_RUNS];
    for (int i = 0; i < ng; i++) sorted[i] = gaps[i];
    qsort(sorted, (size_t)ng, sizeof *sorted, sp_cmp_double);
    double med = sorted[ng / 2];
    if (med < MEDIAN_MIN_MM) return 0;
    for (int i = 0; i < ng; i++) {
        if (gaps[i] < GAP_LO_RATIO * med || gaps[i] > GAP_HI_RATIO * med) return 0;
        /* two spacings that make one: the run between them is not a vertebra's */
        if (i > 0 && gaps[i - 1] + gaps[i] < PAIR_MIN_RATIO * med) return 0;
    }
    return 1;
}

void sp_pedicles_find(sp_ctx *c) {
    c->n_ped = c->ped_ok = 0;
    int n = c->z_hi - c->z_lo + 1;
    if (n < 3) return;
    int *score = malloc((size_t)n * sizeof *score), *sorted = malloc((size_t)n * sizeof *sorted);
    if (!score || !sorted) {
        free(score);
        free(sorted);
        return; /* without the runs the discs are chosen as before */
    }
    int m = 0;
    for (int z = c->z_lo; z <= c->z_hi; z++) {
        score[z - c->z_lo] = above_sacrum(c, c->s_of_z[z]) ? slice_score(c, z) : -1;
        if (score[z - c->z_lo] >= 0) sorted[m++] = score[z - c->z_lo];
    }
    qsort(sorted, (size_t)m, sizeof *sorted, sp_cmp_int);
    int ref = m ? sorted[(int)(0.8 * (m - 1))] : 0;
    free(sorted);
    double cut = RUN_SHARE * ref;
    /* One weak slice between two runs, with bone still on both sides of the canal, lies inside
     * one vertebra's pedicles (thinned where a wedged, osteoporotic body meets thick slices):
     * the foramen between two vertebrae's pedicles shows none. */
    for (int i = 1; i + 1 < n; i++)
        if (score[i] > 0 && score[i] < cut && score[i - 1] >= cut && score[i + 1] >= cut) score[i] = (int)ceil(cut);
    int start = -1, ok = ref >= 3;
    for (int z = c->z_lo; z <= c->z_hi + 1 && ok; z++) {
        int on = z <= c->z_hi && score[z - c->z_lo] >= 0 && score[z - c->z_lo] >= cut;
        if (on && start < 0) start = z;
        if (on || start < 0) continue;
        if (c->n_ped == SP_MAX_RUNS) {
            ok = 0;
            break;
        }
        int at_edge = start == c->z_lo || z - 1 == c->z_hi, first = start;
        start = -1;
        /* One slice at the end of the view is no count: a pedicle cut there after one
         * slice is not told from a rib head or a facet, and the body it would belong to
         * lies beyond the view. */
        if (at_edge && z - 1 == first) continue;
        double a = c->s_of_z[first], b = c->s_of_z[z - 1];
        sp_run *r = &c->ped[c->n_ped++];
        r->lo = a < b ? a : b;
        r->hi = a < b ? b : a;
        r->at_edge = at_edge;
    }
    free(score);
    c->ped_ok = ok && runs_regular(c);
}

/* Where a run is counted: at its caudal end, about level with its body's middle. The disc
 * above the body lies higher even where the body is crushed (its endplate then sinks level
 * with the pedicles, which keep their height), while a dip in the body's middle, just inside
 * the run, has the run on its wrong side and so costs as much as a missed disc. */
static double run_foot(const sp_ctx *c, int i) {
    return c->zcran > 0 ? c->ped[i].lo : c->ped[i].hi;
}

int sp_pedicle_runs_between(const sp_ctx *c, double a, double b) {
    if (!c->ped_ok) return -1;
    if (a > b) {
        double t = a;
        a = b;
        b = t;
    }
    int n = 0;
    for (int i = 0; i < c->n_ped; i++) {
        double m = run_foot(c, i);
        n += m > a && m < b;
    }
    return n;
}

/* A disc in the gap between runs i and i+1 (s order): FILL_AT of the way up from the
 * caudal run's top. */
static double fill_position(const sp_ctx *c, int i) {
    const sp_run *lo = &c->ped[i], *hi = &c->ped[i + 1];
    if (c->zcran > 0) return lo->hi + FILL_AT * (hi->lo - lo->hi);
    return hi->lo - FILL_AT * (hi->lo - lo->hi);
}

static void add_disc(sp_ctx *c, double s) {
    if (c->n_discs >= SP_MAX_DISCS) return;
    sp_disc *d = &c->discs[c->n_discs++];
    d->s = s;
    d->lo = s - 3;
    d->hi = s + 3;
    d->depth = d->width = d->gain = 0;
}

/* Where the chain left two or more runs between neighbouring discs (or beyond its end), a
 * disc the profile could not show was skipped: one goes into each gap between those runs,
 * so the bodies on either side are not counted as one. Discs stay in s order. */
void sp_pedicle_fill_missed(sp_ctx *c) {
    if (!c->ped_ok || c->n_discs == 0) return;
    int n0 = c->n_discs;
    for (int k = 0; k <= n0; k++) {
        double a = k == 0 ? -1e9 : c->discs[k - 1].s, b = k == n0 ? 1e9 : c->discs[k].s;
        int first = -1, last = -1;
        for (int i = 0; i < c->n_ped; i++) {
            double m = run_foot(c, i);
            if (m > a && m < b) {
                if (first < 0) first = i;
                last = i;
            }
        }
        for (int i = first; i >= 0 && i < last; i++) add_disc(c, fill_position(c, i));
    }
    sp_discs_sort(c);
}
