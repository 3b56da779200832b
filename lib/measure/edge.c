/* lib/measure: where an endplate really is, to a fraction of a voxel.
 *
 * A profile of HU along a vertebra's axis is modelled as piecewise constant layers (the
 * neighbour below, disc, this body, disc, the neighbour above), each bony layer with a thin
 * bright cortical rim at its surface, imaged the way the grid imaged it: every voxel the
 * mean of its box (projected on the line: a trapezoid kernel), every sample the trilinear
 * mix of its 8 voxels. Edge positions are found by least squares (levels solved in closed
 * form for every trial position). Why a model rather than a 50 % crossing: at 5 mm
 * slices the cortical endplate (≈ 1 mm at 400–900 HU) dominates the slice it lies in and
 * pushes a threshold crossing outward by 1–2 mm, and osteoporotic bone can have the disc's
 * HU, so only the rim marks the edge. Where the slices are too thick to separate the rim's
 * brightness from its position, its excess (HU × mm) is taken from the in-plane walls of
 * the same vertebra, which thin pixels resolve. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "measure_internal.h"

#define RIM_MM 1.0     /* assumed cortical thickness; only its mass matters once blurred */
#define MAX_LAYERS 5   /* neighbour, disc, body, disc, neighbour */
#define MAX_LEVELS (MAX_LAYERS + 1) /* + the rim excess */
#define MIN_DISC_MM 2.5
/* How far the fit held near the mask may move each surface: a mask drawn on thick slices
 * takes in the slice the endplate only partly fills, so it overshoots by up to most of a
 * slice; half a slice left the fit pinned a couple of mm outside the body. */
#define NEAR_TOL(p) (0.8 * (p)->ka + 0.75)
/* A change in the residual the profile clearly shows, in samples' noise variances: the
 * samples are band averages a fraction of a voxel apart, so far fewer than n of them are
 * independent. Less than this and two placements are equally good. */
#define CLEAR_GAIN 30.0
/* Where a disc is no thicker than a slice, one or two samples fall inside it, mixed with the
 * rims on either side, and a free disc level trades its HU for the endplates' positions (a
 * 118 HU "disc" let an endplate sit 3.7 mm inside the body on a noise-free 5 mm phantom).
 * Discs are 70-100 HU on CT, so the level is held loosely to that. */
#define DISC_PRIOR_HU 85.0
#define PRIOR_SAMPLES 4.0

/* CDF at t of the sum of two centred uniforms of widths a ≥ b (a trapezoid density). */
static double trap_cdf(double t, double a, double b) {
    double g = (a + b) / 2, h = (a - b) / 2;
    if (t <= -g) return 0;
    if (t >= g) return 1;
    if (t < 0) return 1 - trap_cdf(-t, a, b);
    if (t <= h || b < 1e-9) return fmin(1, 0.5 + t / a);
    return 0.5 + h / a + (g * (t - h) - (t * t - h * h) / 2) / (a * b);
}

int mx_profile_alloc(mx_profile *p, double s0, double s1, double ds) {
    memset(p, 0, sizeof *p);
    p->s0 = s0, p->ds = ds, p->n = (int)floor((s1 - s0) / ds) + 1;
    if (p->n < 1) p->n = 1;
    p->hu = malloc((size_t)p->n * sizeof *p->hu);
    p->w8 = calloc((size_t)p->n * 8, sizeof *p->w8);
    p->c8 = calloc((size_t)p->n * 8, sizeof *p->c8);
    if (!p->hu || !p->w8 || !p->c8) {
        mx_profile_free(p);
        return -1;
    }
    return 0;
}

void mx_profile_merge(mx_profile *p, int j) {
    double *w = p->w8 + 8 * (size_t)j, *c = p->c8 + 8 * (size_t)j;
    for (int a = 0; a < 8; a++) {
        if (w[a] == 0) continue;
        for (int b = a + 1; b < 8; b++)
            if (w[b] != 0 && fabs(c[b] - c[a]) < 1e-6) w[a] += w[b], w[b] = 0;
    }
}

void mx_profile_free(mx_profile *p) {
    free(p->hu), free(p->w8), free(p->c8);
    p->hu = p->w8 = p->c8 = NULL;
}

/* Share of sample j's voxels (as the grid blurred them) lying below x: the blurred step. */
static double below(const mx_profile *p, int j, double x) {
    const double *w = p->w8 + 8 * (size_t)j, *c = p->c8 + 8 * (size_t)j;
    double v = 0;
    for (int k = 0; k < 8; k++)
        if (w[k] != 0) v += w[k] * trap_cdf(x - c[k], p->ka, p->kb);
    return v;
}

#define SLOTS 12 /* cached steps: 4 edges, then both ends of 4 rims */

typedef struct model {
    double edges[4];
    int n_edges;       /* layers = n_edges + 1 */
    double rims[4][2];
    int n_rims;
    double rim_fixed;  /* NAN: free */
    double layer_fixed[MAX_LAYERS]; /* each layer's HU when known beforehand; NAN: solved for */
    double layer_prior[MAX_LAYERS]; /* a solved layer's expected HU (NAN: none), as PRIOR_SAMPLES samples */
    int has_lo, has_hi; /* body: a neighbour below / above within the profile */
    /* The blurred step of every sample at each edge, kept per slot with the position it was
     * computed at: a grid search moves one disc's two surfaces at a time, so the other
     * edges' steps are reused instead of recomputed. Only the samples in [j_full, j_none)
     * are stored: those before it lie wholly below the edge (step = their whole weight),
     * those after it wholly above (step 0), so only the few samples near an edge need the
     * kernel evaluated or the sample visited at all (most of the fit's time otherwise). */
    double *cache;     /* SLOTS × n */
    double cache_at[SLOTS];
    int j_full[SLOTS], j_none[SLOTS];
    double *wt;        /* each sample's total weight */
    double *rise_lo, *rise_hi; /* span of x over which sample j's step rises */
    /* Envelopes of those spans, monotone along the profile so a binary search finds where
     * a position stops touching the samples (the cells a line crosses advance monotonically,
     * so the spans nearly are already). */
    double *env_lo, *env_hi;
    /* Prefix sums over the samples that have HU (of w², w·y, y² and their count): a run of
     * samples that no edge touches sits in one layer, its columns all w times a constant,
     * and adds to the normal equations through these sums alone. */
    double *sum_ww, *sum_wy, *sum_yy, *sum_n;
} model;

static int model_init(model *m, const mx_profile *p) {
    memset(m, 0, sizeof *m);
    for (int l = 0; l < MAX_LAYERS; l++) m->layer_fixed[l] = m->layer_prior[l] = NAN;
    size_t n = (size_t)p->n;
    m->cache = malloc(((size_t)SLOTS * n + 5 * n + 4 * (n + 1)) * sizeof *m->cache);
    if (!m->cache) return -1;
    for (int k = 0; k < SLOTS; k++) m->cache_at[k] = NAN; /* never equal: nothing cached yet */
    m->wt = m->cache + (size_t)SLOTS * n;
    m->rise_lo = m->wt + n, m->rise_hi = m->rise_lo + n, m->env_lo = m->rise_hi + n, m->env_hi = m->env_lo + n;
    m->sum_ww = m->env_hi + n, m->sum_wy = m->sum_ww + n + 1, m->sum_yy = m->sum_wy + n + 1,
    m->sum_n = m->sum_yy + n + 1;
    double g = (p->ka + p->kb) / 2;
    m->sum_ww[0] = m->sum_wy[0] = m->sum_yy[0] = m->sum_n[0] = 0;
    for (int j = 0; j < p->n; j++) {
        const double *w = p->w8 + 8 * (size_t)j, *c = p->c8 + 8 * (size_t)j;
        double wt = w[0] + w[1] + w[2] + w[3] + w[4] + w[5] + w[6] + w[7];
        double lo = INFINITY, hi = -INFINITY;
        for (int k = 0; k < 8; k++)
            if (w[k] != 0) lo = fmin(lo, c[k]), hi = fmax(hi, c[k]);
        m->wt[j] = wt, m->rise_lo[j] = lo - g, m->rise_hi[j] = hi + g;
        double y = p->hu[j], has = !isnan(y);
        m->sum_ww[j + 1] = m->sum_ww[j] + (has ? wt * wt : 0);
        m->sum_wy[j + 1] = m->sum_wy[j] + (has ? wt * y : 0);
        m->sum_yy[j + 1] = m->sum_yy[j] + (has ? y * y : 0);
        m->sum_n[j + 1] = m->sum_n[j] + has;
    }
    double run = -INFINITY;
    for (int j = 0; j < p->n; j++) m->env_hi[j] = run = fmax(run, m->rise_hi[j]);
    run = INFINITY;
    for (int j = p->n - 1; j >= 0; j--) m->env_lo[j] = run = fmin(run, m->rise_lo[j]);
    return 0;
}

/* First j whose envelope value passes x (env nondecreasing; strict: > x, else ≥ x). */
static int first_past(const double *env, int n, double x, int strict) {
    int a = 0, b = n;
    while (a < b) {
        int mid = (a + b) / 2;
        if (strict ? env[mid] > x : env[mid] >= x) b = mid;
        else a = mid + 1;
    }
    return a;
}

static void steps(model *m, const mx_profile *p, int slot, double x) {
    if (m->cache_at[slot] == x) return;
    double *v = m->cache + (size_t)slot * p->n;
    int a = first_past(m->env_hi, p->n, x, 1), b = first_past(m->env_lo, p->n, x, 0);
    for (int j = a; j < b; j++)
        v[j] = isnan(p->hu[j]) || x <= m->rise_lo[j] ? 0 : x >= m->rise_hi[j] ? m->wt[j] : below(p, j, x);
    m->j_full[slot] = a, m->j_none[slot] = b;
    m->cache_at[slot] = x;
}

static double step_at(const model *m, const mx_profile *p, int slot, int j) {
    return j < m->j_full[slot] ? m->wt[j] : j >= m->j_none[slot] ? 0 : m->cache[(size_t)slot * p->n + j];
}

/* Solves the small normal equations in place (Gaussian elimination with pivoting). */
static int solve(double A[MAX_LEVELS][MAX_LEVELS], double *b, int n) {
    for (int c = 0; c < n; c++) {
        int piv = c;
        for (int r = c + 1; r < n; r++)
            if (fabs(A[r][c]) > fabs(A[piv][c])) piv = r;
        if (fabs(A[piv][c]) < 1e-12) return -1;
        if (piv != c) {
            for (int k = 0; k < n; k++) {
                double t = A[c][k];
                A[c][k] = A[piv][k];
                A[piv][k] = t;
            }
            double t = b[c];
            b[c] = b[piv];
            b[piv] = t;
        }
        for (int r = c + 1; r < n; r++) {
            double f = A[r][c] / A[c][c];
            for (int k = c; k < n; k++) A[r][k] -= f * A[c][k];
            b[r] -= f * b[c];
        }
    }
    for (int c = n - 1; c >= 0; c--) {
        for (int k = c + 1; k < n; k++) b[c] -= A[c][k] * b[k];
        b[c] /= A[c][c];
    }
    return 0;
}

/* The design of one sample (or one run of untouched samples): each layer's column is the
 * difference of the blurred steps at its two edges, the rim's likewise (one of its ends is
 * its edge); the fixed levels' share moves to the data side as kappa. */
typedef struct design {
    int nf, free_rim, np, solved[MAX_LEVELS];
    int edge_slot[4], rim_slot[4][2];
} design;

static inline void columns(const model *m, const design *d, const double *st_edge, const double st_rim[4][2], double wt,
                    double *col, double *kappa) {
    double lay[MAX_LAYERS], k = 0;
    for (int l = 0; l <= m->n_edges; l++) {
        double lo = l == 0 ? 0 : st_edge[l - 1], hi = l == m->n_edges ? wt : st_edge[l];
        lay[l] = l > 0 && l < m->n_edges && m->edges[l] <= m->edges[l - 1] ? 0 : hi - lo;
        if (!isnan(m->layer_fixed[l])) k += m->layer_fixed[l] * lay[l];
    }
    for (int c = 0; c < d->nf; c++) col[c] = lay[d->solved[c]];
    double rim = 0;
    for (int r = 0; r < m->n_rims; r++) rim += st_rim[r][1] - st_rim[r][0];
    if (d->free_rim) col[d->nf] = rim;
    else k += m->rim_fixed * rim;
    *kappa = k;
}

/* Sum of squared residuals of the best levels for these edges; levels out when asked.
 * One pass: the residual follows from the normal equations, e = y·y − 2 x·b + xᵀAx. */
static double sse(const mx_profile *p, model *m, double *levels) {
    design d = {.free_rim = isnan(m->rim_fixed)};
    int nl = m->n_edges + 1;
    for (int l = 0; l < nl; l++)
        if (isnan(m->layer_fixed[l])) d.solved[d.nf++] = l;
    d.np = d.nf + d.free_rim;
    int np = d.np, nf = d.nf;
    double A[MAX_LEVELS][MAX_LEVELS], A0[MAX_LEVELS][MAX_LEVELS], b[MAX_LEVELS], col[MAX_LEVELS], yy = 0, used = 0;
    memset(A, 0, sizeof A);
    memset(b, 0, sizeof b);
    /* Every slot in use, and the runs of samples each one touches, merged. */
    int slots[SLOTS], ns = 0;
    for (int e = 0; e < m->n_edges; e++) {
        steps(m, p, e, m->edges[e]);
        d.edge_slot[e] = slots[ns++] = e;
    }
    for (int r = 0; r < m->n_rims; r++)
        for (int end = 0; end < 2; end++) {
            int e = 0;
            while (e < m->n_edges && m->edges[e] != m->rims[r][end]) e++;
            if (e < m->n_edges) {
                d.rim_slot[r][end] = e;
                continue;
            }
            int s = 4 + 2 * r + end;
            steps(m, p, s, m->rims[r][end]);
            d.rim_slot[r][end] = slots[ns++] = s;
        }
    int run_a[SLOTS], run_b[SLOTS], nr = 0;
    for (int i = 0; i < ns; i++) {
        int a = m->j_full[slots[i]], z = m->j_none[slots[i]], at = nr;
        if (a >= z) continue;
        while (at > 0 && run_a[at - 1] > a) run_a[at] = run_a[at - 1], run_b[at] = run_b[at - 1], at--;
        run_a[at] = a, run_b[at] = z, nr++;
    }
    int merged = 0;
    for (int i = 0; i < nr; i++) {
        if (merged && run_a[i] <= run_b[merged - 1]) {
            if (run_b[i] > run_b[merged - 1]) run_b[merged - 1] = run_b[i];
        } else {
            run_a[merged] = run_a[i], run_b[merged++] = run_b[i];
        }
    }
    double st_edge[4], st_rim[4][2], kappa;
    int j = 0;
    for (int i = 0; i <= merged; i++) {
        int gap_end = i < merged ? run_a[i] : p->n;
        if (gap_end > j && m->sum_n[gap_end] > m->sum_n[j]) {
            /* Untouched by every edge: each step is the whole weight or nothing. */
            for (int e = 0; e < m->n_edges; e++) st_edge[e] = j < m->j_full[d.edge_slot[e]];
            for (int r = 0; r < m->n_rims; r++)
                for (int end = 0; end < 2; end++) st_rim[r][end] = j < m->j_full[d.rim_slot[r][end]];
            columns(m, &d, st_edge, st_rim, 1, col, &kappa);
            double ww = m->sum_ww[gap_end] - m->sum_ww[j], wy = m->sum_wy[gap_end] - m->sum_wy[j],
                   yy_run = m->sum_yy[gap_end] - m->sum_yy[j], wy_k = wy - kappa * ww;
            yy += yy_run - 2 * kappa * wy + kappa * kappa * ww;
            for (int r = 0; r < np; r++) {
                b[r] += col[r] * wy_k;
                for (int c = 0; c <= r; c++) A[r][c] += col[r] * col[c] * ww;
            }
            used += m->sum_n[gap_end] - m->sum_n[j];
        }
        if (i == merged) break;
        for (j = run_a[i]; j < run_b[i]; j++) {
            if (isnan(p->hu[j])) continue;
            for (int e = 0; e < m->n_edges; e++) st_edge[e] = step_at(m, p, d.edge_slot[e], j);
            for (int r = 0; r < m->n_rims; r++)
                for (int end = 0; end < 2; end++) st_rim[r][end] = step_at(m, p, d.rim_slot[r][end], j);
            columns(m, &d, st_edge, st_rim, m->wt[j], col, &kappa);
            double y = p->hu[j] - kappa;
            yy += y * y;
            for (int r = 0; r < np; r++) {
                b[r] += col[r] * y;
                for (int c = 0; c <= r; c++) A[r][c] += col[r] * col[c];
            }
            used++;
        }
        j = run_b[i];
    }
    if (used < np + 2) return INFINITY;
    for (int c = 0; c < nf; c++) { /* the prior enters as that many samples at its HU */
        double pr = m->layer_prior[d.solved[c]];
        if (isnan(pr)) continue;
        A[c][c] += PRIOR_SAMPLES, b[c] += PRIOR_SAMPLES * pr, yy += PRIOR_SAMPLES * pr * pr;
    }
    for (int r = 0; r < np; r++)
        for (int c = r + 1; c < np; c++) A[r][c] = A[c][r];
    memcpy(A0, A, sizeof A0);
    /* A whisper of ridge keeps a layer squeezed out of the window from making it singular. */
    for (int r = 0; r < np; r++) A[r][r] += 1e-6 * used;
    double x[MAX_LEVELS], Ar[MAX_LEVELS][MAX_LEVELS];
    memcpy(Ar, A, sizeof Ar);
    memcpy(x, b, sizeof x);
    if (solve(Ar, x, np)) return INFINITY;
    /* A cortical rim is never darker than the bone it bounds: a negative free rim lets a
     * "body" spread over both discs and cancel their dark bands at its ends (seen at the
     * sloping endplates next to a wedge). Then the rim is held at zero instead. */
    if (d.free_rim && x[nf] < 0) {
        memcpy(Ar, A, sizeof Ar);
        memcpy(x, b, sizeof x);
        if (solve(Ar, x, nf)) return INFINITY;
        x[nf] = 0;
    }
    double e = yy;
    for (int r = 0; r < np; r++) {
        double ax = 0;
        for (int c = 0; c < np; c++) ax += A0[r][c] * x[c];
        e += x[r] * (ax - 2 * b[r]);
    }
    if (e < 0) e = 0;
    if (levels) {
        for (int l = 0; l < nl; l++) levels[l] = m->layer_fixed[l];
        for (int k = 0; k < nf; k++) levels[d.solved[k]] = x[k];
        levels[nl] = d.free_rim ? x[nf] : m->rim_fixed;
    }
    return e;
}

typedef void (*place_fn)(model *m, const double *pos);

/* Body: edges n_lo < e_lo < e_hi < n_hi, rims inside each bony layer at its surface; a
 * neighbour the mask did not show is left out of the model rather than guessed. */
static void place_body(model *m, const double *pos) {
    m->n_edges = m->n_rims = 0;
    if (m->has_lo) {
        m->edges[m->n_edges++] = pos[0];
        m->rims[m->n_rims][0] = pos[0] - RIM_MM, m->rims[m->n_rims++][1] = pos[0];
    }
    m->edges[m->n_edges++] = pos[1];
    m->rims[m->n_rims][0] = pos[1], m->rims[m->n_rims++][1] = pos[1] + RIM_MM;
    m->edges[m->n_edges++] = pos[2];
    m->rims[m->n_rims][0] = pos[2] - RIM_MM, m->rims[m->n_rims++][1] = pos[2];
    if (m->has_hi) {
        m->edges[m->n_edges++] = pos[3];
        m->rims[m->n_rims][0] = pos[3], m->rims[m->n_rims++][1] = pos[3] + RIM_MM;
    }
}

static double cost(const mx_profile *p, model *m, place_fn place, const double *pos) {
    place(m, pos);
    return sse(p, m, NULL);
}

/* Coordinate k of pos minimised over [lo, hi]: a grid, then a finer grid round the best. */
static void line_search(const mx_profile *p, model *m, place_fn place, double *pos, int k,
                        double lo, double hi) {
    if (hi < lo) return;
    double best = pos[k], bc = cost(p, m, place, pos);
    double step = 0.5;
    for (int pass = 0; pass < 3; pass++) {
        double a = pass ? best - 2 * step : lo, b = pass ? best + 2 * step : hi;
        if (a < lo) a = lo;
        if (b > hi) b = hi;
        for (double x = a; x <= b + 1e-9; x += step) {
            pos[k] = x;
            double c = cost(p, m, place, pos);
            if (c < bc) bc = c, best = x;
        }
        step /= 5;
    }
    pos[k] = best;
}

/* The residual's noise variance per sample, from a fit's residual (8: about the levels and
 * positions it solved for). */
static double noise_var(const mx_profile *p, double e) {
    int n = 0;
    for (int j = 0; j < p->n; j++) n += !isnan(p->hu[j]);
    return n > 8 ? e / (n - 8) : INFINITY;
}

/* Moves each body surface to the middle of the range of positions that fit the profile as
 * well as the best one, within CLEAR_GAIN noise variances. On thick slices an endplate
 * whose bone is no brighter than its disc (osteoporotic) shows only by its cortical rim,
 * and a rim inside one slice fits equally well anywhere in it: the least residual then
 * sits wherever small mismatches of the model tip it, often at the slice's inner edge, so
 * both endplates of a body were placed inside it (a 27 mm body read 22 mm). The middle of
 * what the data allow is the unbiased choice; where the profile resolves the surface the
 * range is a fraction of a mm and nothing moves. Only with both neighbours in the model:
 * without one, the layer beyond holds whatever lies there, the residual is the model's
 * misfit rather than noise, and the range it allows means nothing. */
#define VALLEY_STEP_MM 0.1
static void centre_in_valleys(const mx_profile *p, model *m, double *pos, double lo_min, double lo_max,
                              double hi_min, double hi_max) {
    if (!m->has_lo || !m->has_hi) return;
    double best = cost(p, m, place_body, pos);
    double limit = best + CLEAR_GAIN * noise_var(p, best);
    if (!isfinite(limit)) return;
    for (int side = 0; side < 2; side++) {
        int me = side ? 2 : 1;
        double x0 = pos[me], w_lo = side ? hi_min : lo_min, w_hi = side ? hi_max : lo_max, ends[2] = {x0, x0};
        for (int dir = 0; dir < 2; dir++) {
            double step = dir ? VALLEY_STEP_MM : -VALLEY_STEP_MM;
            for (int k = 1;; k++) {
                double x = x0 + k * step;
                if (x < w_lo - 1e-9 || x > w_hi + 1e-9) break;
                /* The same limits the search kept: a body at least 3 mm, each disc MIN_DISC_MM. */
                if (side ? x < pos[1] + 3 || (m->has_hi && pos[3] - x < MIN_DISC_MM)
                         : x > pos[2] - 3 || (m->has_lo && x - pos[0] < MIN_DISC_MM))
                    break;
                pos[me] = x;
                if (cost(p, m, place_body, pos) > limit) break;
                ends[dir] = x;
            }
            pos[me] = x0;
        }
        pos[me] = (ends[0] + ends[1]) / 2;
    }
}

static int fit_body(const mx_profile *p, double lo0, double hi0, double nb_lo0, double nb_hi0, const double *nb_tol,
                    double rim_excess_hu_mm, const double *disc_hu, double reach, const int *beyond, mx_edge_fit *out,
                    double *err) {
    memset(out, 0, sizeof *out);
    out->lo = out->hi = out->bone_hu = out->rim_excess = out->disc_hu[0] = out->disc_hu[1] = NAN;
    if (p->n < 8 || !(hi0 > lo0)) return -1;
    double s_first = p->s0, s_last = p->s0 + (p->n - 1) * p->ds;
    model m;
    if (model_init(&m, p)) return -1;
    m.rim_fixed = isnan(rim_excess_hu_mm) ? NAN : rim_excess_hu_mm / RIM_MM;
    m.has_lo = isfinite(nb_lo0) && nb_lo0 > s_first;
    m.has_hi = isfinite(nb_hi0) && nb_hi0 < s_last;
    int disc_lo = m.has_lo ? 1 : 0, disc_hi = disc_lo + 2; /* layers: [neighbour,] disc, body, disc[, neighbour] */
    /* Only a disc bounded by its neighbour is a disc: without one, that layer also holds
     * whatever lies beyond it in the profile. */
    if (m.has_lo) m.layer_prior[disc_lo] = DISC_PRIOR_HU;
    if (m.has_hi) m.layer_prior[disc_hi] = DISC_PRIOR_HU;
    if (disc_hu && m.has_lo && isfinite(disc_hu[0])) m.layer_fixed[disc_lo] = disc_hu[0];
    if (disc_hu && m.has_hi && isfinite(disc_hu[1])) m.layer_fixed[disc_hi] = disc_hu[1];
    double pos[4] = {m.has_lo ? nb_lo0 : s_first, lo0, hi0, m.has_hi ? nb_hi0 : s_last};
    /* Each disc's two surfaces are searched jointly: one at a time, a body edge and the
     * neighbour's across the disc can both settle a voxel off, shifted together. */
    /* A mask quantised by its voxels is off by at most about half a voxel along the line;
     * keeping within that of it stops noise from trading a disc's width for its HU. */
    double tol = NEAR_TOL(p), ntol[2] = {nb_tol ? nb_tol[0] : tol, nb_tol ? nb_tol[1] : tol};
    /* The body's own endplates may be asked to move further: a mask drawn round a deformed
     * body (a wedge's sloping endplate, a compressed one) can overshoot by several mm, and
     * a fit held near it would inherit the error. The neighbours' intact surfaces keep the
     * tight tolerance; they anchor the discs. */
    double btol = isfinite(reach) && reach > tol ? reach : tol;
    /* Outward only where the anatomy has a body beyond: past the end of the column the
     * profile still runs on through the disc into a vertebra the masks left out (cut by
     * the scan's edge), and with no neighbour to anchor the disc the body could absorb
     * both, 10 mm taller than it is. */
    /* The same where the anatomy has a body beyond but its mask does not reach this line
     * (a top vertebra cut short, pedicles in the way): with no neighbour in the model the
     * disc is not anchored either (a posterior line ran 9 mm on into T10). */
    double lo_min = lo0 - ((!beyond || beyond[0]) && m.has_lo ? btol : tol), lo_max = lo0 + btol,
           hi_min = hi0 - btol, hi_max = hi0 + ((!beyond || beyond[1]) && m.has_hi ? btol : tol);
    /* Each disc's two surfaces are searched jointly, coarse to fine: one at a time, a body
     * edge and the neighbour's across the disc can both settle a voxel off, shifted
     * together. */
    /* The coarse pass runs twice: the first pass of one side sees the other side still at
     * the mask's guess, which can hold it a voxel off. */
    /* With the wide reach, the two endplates are first placed jointly on a coarse grid:
     * searched one at a time, each is judged with the other still at the mask's wrong
     * guess, and a free rim level can then make a body spanning both discs fit best. */
    if (btol > tol) {
        double best[2] = {pos[1], pos[2]}, bc = cost(p, &m, place_body, pos);
        for (double x = lo_min; x <= lo_max + 1e-9; x += 0.5) {
            if (m.has_lo && x - pos[0] < MIN_DISC_MM) continue;
            for (double y = hi_min; y <= hi_max + 1e-9; y += 0.5) {
                if (y < x + 3 || (m.has_hi && pos[3] - y < MIN_DISC_MM)) continue;
                pos[1] = x, pos[2] = y;
                double c = cost(p, &m, place_body, pos);
                if (c < bc) bc = c, best[0] = x, best[1] = y;
            }
        }
        pos[1] = best[0], pos[2] = best[1];
    }
    static const double span[4] = {0, 0, 0.3, 0.06}, step[4] = {0.2, 0.2, 0.05, 0.01};
    for (int it = 0; it < 4; it++) {
        for (int side = 0; side < 2; side++) {
            int me = side ? 2 : 1, nb = side ? 3 : 0, has = side ? m.has_hi : m.has_lo;
            double e0 = side ? hi0 : lo0, n0 = side ? nb_hi0 : nb_lo0;
            int coarse = it < 2;
            double cx = pos[me], cy = pos[nb], sx = coarse ? btol : span[it], sy = coarse ? ntol[side] : span[it];
            if (coarse) cy = has ? n0 : pos[nb];
            /* After the joint grid the body edge is known to its step; searching the whole
             * reach again would only cost time. */
            if (coarse && btol > tol) sx = fmin(btol, 1.5);
            else if (coarse) cx = e0;
            double best[2] = {pos[me], pos[nb]}, bc = cost(p, &m, place_body, pos);
            for (double x = cx - sx; x <= cx + sx + 1e-9; x += step[it]) {
                if (x < (side ? hi_min : lo_min) || x > (side ? hi_max : lo_max) ||
                    (side ? x < pos[1] + 3 : x > pos[2] - 3))
                    continue;
                for (double y = has ? cy - sy : cy; y <= (has ? cy + sy : cy) + 1e-9; y += step[it]) {
                    if (has && ((side ? y - x : x - y) < MIN_DISC_MM || y < s_first || y > s_last ||
                                fabs(y - n0) > ntol[side]))
                        continue;
                    pos[me] = x, pos[nb] = y;
                    double c = cost(p, &m, place_body, pos);
                    if (c < bc) bc = c, best[0] = x, best[1] = y;
                }
            }
            pos[me] = best[0], pos[nb] = best[1];
        }
    }
    centre_in_valleys(p, &m, pos, lo_min, lo_max, hi_min, hi_max);
    double lv[MAX_LEVELS];
    place_body(&m, pos);
    *err = sse(p, &m, lv);
    free(m.cache);
    if (!isfinite(*err)) return -1;
    out->lo = pos[1];
    out->hi = pos[2];
    out->bone_hu = lv[disc_lo + 1];
    out->disc_hu[0] = m.has_lo ? lv[disc_lo] : NAN, out->disc_hu[1] = m.has_hi ? lv[disc_hi] : NAN;
    out->rim_excess = lv[m.n_edges + 1] * RIM_MM;
    out->ok = 1;
    return 0;
}

/* The fit held near the mask, or the one allowed to reach further when it is clearly better. */
static int fit_near_far(const mx_profile *p, double lo0, double hi0, double nb_lo0, double nb_hi0, const double *nb_tol,
                        double rim_excess_hu_mm, const double *disc_hu, double reach, const int *beyond,
                        mx_edge_fit *out, double *err) {
    double e_far;
    mx_edge_fit far;
    int rc = fit_body(p, lo0, hi0, nb_lo0, nb_hi0, nb_tol, rim_excess_hu_mm, disc_hu, NAN, beyond, out, err);
    if (!(isfinite(reach) && reach > NEAR_TOL(p))) return rc;
    if (fit_body(p, lo0, hi0, nb_lo0, nb_hi0, nb_tol, rim_excess_hu_mm, disc_hu, reach, beyond, &far, &e_far))
        return rc;
    /* The far fit is taken only when it explains the profile clearly better than the one
     * held near the mask: where the slices are thick the rim's blur and the noise leave a
     * shallow valley a mm or so wide, and the mask is then the better judge. "Clearly" is
     * a drop in the residual of CLEAR_GAIN samples' noise. */
    if (rc || *err - e_far > CLEAR_GAIN * noise_var(p, e_far)) *out = far, *err = e_far;
    return 0;
}

/* A neighbour the anatomy has beyond this body but whose mask does not reach this line
 * within the profile: the sacrum's top, whose mask often stops short of L5's posterior line
 * while the L5 mask runs on across the thin back of the L5/S1 disc into it. Without the
 * neighbour in the model the layer beyond the body holds whatever lies there, and the body
 * kept the disc and S1's endplate (an L5 posterior height read 32.9 mm for 24.6). The
 * neighbour's surface is then searched for in the profile, from 1 to 2 × NEIGHBOUR_SEARCH_MM
 * − 1 mm beyond the mask, and kept only when the profile clearly shows it and the layer
 * between is disc-like: one far darker than any disc (fat, fluid) means the fit paired
 * something else. */
#define NEIGHBOUR_SEARCH_MM 9.0
#define DISC_MIN_HU 50.0
int mx_fit_body(const mx_profile *p, double lo0, double hi0, double nb_lo0, double nb_hi0, double rim_excess_hu_mm,
                const double *disc_hu, double reach, const int *beyond, mx_edge_fit *out) {
    double err = INFINITY, e_free = INFINITY;
    int rc = fit_near_far(p, lo0, hi0, nb_lo0, nb_hi0, NULL, rim_excess_hu_mm, disc_hu, reach, beyond, out, &err);
    static const int both[2] = {1, 1};
    if (!beyond) beyond = both;
    const double w = NEIGHBOUR_SEARCH_MM, s_first = p->s0, s_last = p->s0 + (p->n - 1) * p->ds;
    double g_lo = nb_lo0, g_hi = nb_hi0, nb_tol[2] = {NEAR_TOL(p), NEAR_TOL(p)};
    int searched = 0;
    if (beyond[0] && !(isfinite(nb_lo0) && nb_lo0 > s_first) && lo0 - w - 1 > s_first)
        g_lo = lo0 - w, nb_tol[0] = w - 1, searched = 1;
    if (beyond[1] && !(isfinite(nb_hi0) && nb_hi0 < s_last) && hi0 + w + 1 < s_last)
        g_hi = hi0 + w, nb_tol[1] = w - 1, searched = 1;
    if (!searched) return rc;
    mx_edge_fit alt;
    if (fit_near_far(p, lo0, hi0, g_lo, g_hi, nb_tol, rim_excess_hu_mm, disc_hu, reach, beyond, &alt, &e_free))
        return rc;
    for (int side = 0; side < 2; side++)
        if (alt.disc_hu[side] < DISC_MIN_HU) return rc;
    if (rc || err - e_free > CLEAR_GAIN * noise_var(p, e_free)) *out = alt;
    return 0;
}

/* Wall: bone for s < e (rim just inside), outside beyond. */
static void place_wall(model *m, const double *pos) {
    m->n_edges = 1;
    m->edges[0] = pos[0];
    m->n_rims = 1;
    m->rims[0][0] = pos[0] - RIM_MM, m->rims[0][1] = pos[0];
}

double mx_fit_wall_rim(const mx_profile *p, double e0, double *err) {
    model m;
    *err = NAN;
    if (model_init(&m, p)) return NAN;
    m.rim_fixed = NAN;
    double pos[1] = {e0};
    line_search(p, &m, place_wall, pos, 0, e0 - 4, e0 + 4);
    double lv[MAX_LEVELS];
    place_wall(&m, pos);
    *err = sse(p, &m, lv);
    free(m.cache);
    if (!isfinite(*err)) return NAN;
    return lv[2] * RIM_MM;
}

double mx_fit_wall_pos(const mx_profile *p, double lo, double hi, double *rim) {
    model m;
    *rim = NAN;
    if (hi < lo || model_init(&m, p)) return NAN;
    m.rim_fixed = NAN;
    double pos[1] = {(lo + hi) / 2};
    line_search(p, &m, place_wall, pos, 0, lo, hi);
    double lv[MAX_LEVELS];
    place_wall(&m, pos);
    double e = sse(p, &m, lv);
    free(m.cache);
    if (!isfinite(e)) return NAN;
    *rim = lv[2] * RIM_MM;
    return pos[0];
}
