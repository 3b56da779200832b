/* Intervertebral discs along the spine axis. At each step along the centre line an oblique
 * cross-section perpendicular to the local axis is sampled over the body's outline: the share
 * of bright bone on its rim (cortex) and in its middle (trabecular bone, endplates). A body
 * has a bright rim even when osteoporotic; a disc (annulus ~100 HU) has neither, so discs are
 * the deep, narrow dips of max(rim, middle). Sampling across the axis rather than along
 * slices keeps the dips sharp where lordosis tilts the discs.
 * On thick or noisy slices the profile also dips inside bodies and some discs barely dip,
 * so the dips are only candidates: which of them are discs is decided for the whole spine
 * at once (choose_discs), weighing each dip's depth against a soft prior on the spacing of
 * discs and on how much neighbouring spacings may differ. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "spine_internal.h"

#define STEP_MM 1.0
#define SIDE_MM 18.0      /* a dip must rise again within this on both sides */
#define MIN_DEPTH 0.04    /* shallower dips are not even candidates */
/* Disc-to-disc spacing (one body and one disc) from T10 to S1 in adults: about 26–42 mm
 * (T11 ~28, L4 ~38). The cost of a spacing grows with its squared distance from the middle
 * of that range, softly, and more softly on the short side, so a fractured short body
 * (~20 mm) or a tall one is still taken when its dips are clear, while a chain of weaker
 * extra dips inside the bodies (every ~20 mm) costs more than it gains. */
#define PITCH_MID_MM 32.0
#define PITCH_SD_SHORT_MM 13.0
#define PITCH_SD_LONG_MM 7.0
#define NEIGHBOUR_RATIO 1.25 /* neighbouring pitches agree within this, free of cost */
#define NEIGHBOUR_COST 8.0

static double trilinear(const sp_ctx *c, double x, double y, double z) {
    if (x < 0) x = 0;
    if (y < 0) y = 0;
    if (z < 0) z = 0;
    if (x > c->nx - 1) x = c->nx - 1;
    if (y > c->ny - 1) y = c->ny - 1;
    if (z > c->nz - 1) z = c->nz - 1;
    int x0 = (int)x, y0 = (int)y, z0 = (int)z;
    int x1 = x0 + 1 < c->nx ? x0 + 1 : x0, y1 = y0 + 1 < c->ny ? y0 + 1 : y0, z1 = z0 + 1 < c->nz ? z0 + 1 : z0;
    double fx = x - x0, fy = y - y0, fz = z - z0;
    const int16_t *v = c->vol->hu;
#define V(a, b, d) ((double)v[sp_idx(c, a, b, d)])
    double c00 = V(x0, y0, z0) * (1 - fx) + V(x1, y0, z0) * fx;
    double c10 = V(x0, y1, z0) * (1 - fx) + V(x1, y1, z0) * fx;
    double c01 = V(x0, y0, z1) * (1 - fx) + V(x1, y0, z1) * fx;
    double c11 = V(x0, y1, z1) * (1 - fx) + V(x1, y1, z1) * fx;
#undef V
    return (c00 * (1 - fy) + c10 * fy) * (1 - fz) + (c01 * (1 - fy) + c11 * fy) * fz;
}

/* Fractional slice index where the arc length is s. */
static double z_of_s(const sp_ctx *c, double s) {
    int z = c->z_lo;
    while (z < c->z_hi && c->s_of_z[z + 1] < s) z++;
    if (z >= c->z_hi) return c->z_hi;
    double a = c->s_of_z[z], b = c->s_of_z[z + 1];
    return z + (b > a ? (s - a) / (b - a) : 0);
}

/* Local median body half-width and half-depth around slice z (full cross-sections only). */
static void local_size(const sp_ctx *c, int z, double amax, double *hw, double *hd, double *buf) {
    int win = (int)ceil(25.0 / c->sz), n = 0;
    for (int k = z - win; k <= z + win; k++)
        if (k >= c->z_lo && k <= c->z_hi && c->body_area[k] > 0.4 * amax) buf[n++] = c->body_halfw[k];
    if (!n) {
        *hw = 20;
        *hd = 15;
        return;
    }
    qsort(buf, (size_t)n, sizeof *buf, sp_cmp_double);
    *hw = buf[n / 2];
    n = 0;
    for (int k = z - win; k <= z + win; k++)
        if (k >= c->z_lo && k <= c->z_hi && c->body_area[k] > 0.4 * amax) buf[n++] = c->body_halfd[k];
    qsort(buf, (size_t)n, sizeof *buf, sp_cmp_double);
    *hd = buf[n / 2];
}

static void sample_profile(const sp_ctx *c, double *q, int ns, double *buf) {
    double amax = 0;
    for (int z = c->z_lo; z <= c->z_hi; z++)
        if (c->body_area[z] > amax) amax = c->body_area[z];
    for (int i = 0; i < ns; i++) {
        double zf = z_of_s(c, i * STEP_MM);
        int z = (int)lround(zf);
        double hw, hd;
        local_size(c, z, amax, &hw, &hd, buf);
        const double *t = c->tan[z];
        /* u: lateral, made perpendicular to t; v = t × u: front-back */
        double u[3] = {1 - t[0] * t[0], -t[0] * t[1], -t[0] * t[2]};
        double un = sqrt(u[0] * u[0] + u[1] * u[1] + u[2] * u[2]);
        for (int k = 0; k < 3; k++) u[k] /= un;
        double v[3] = {t[1] * u[2] - t[2] * u[1], t[2] * u[0] - t[0] * u[2], t[0] * u[1] - t[1] * u[0]};
        double p[3] = {c->cx[z] * c->sx, c->cy[z] * c->sy, zf * c->sz};
        double step = c->sx > 1.0 ? c->sx : 1.0;
        int rim = 0, rim_b = 0, mid = 0, mid_b = 0;
        for (double a = -hw * 1.1; a <= hw * 1.1; a += step)
            for (double b = -hd * 1.1; b <= hd * 1.1; b += step) {
                double r = sqrt((a / hw) * (a / hw) + (b / hd) * (b / hd));
                if (r > 1.1) continue;
                double x = (p[0] + a * u[0] + b * v[0]) / c->sx, y = (p[1] + a * u[1] + b * v[1]) / c->sy,
                       zz = (p[2] + a * u[2] + b * v[2]) / c->sz;
                int bright = trilinear(c, x, y, zz) > c->t_disc;
                if (r >= 0.7) {
                    rim++;
                    rim_b += bright;
                } else {
                    mid++;
                    mid_b += bright;
                }
            }
        double fr = rim ? (double)rim_b / rim : 0, fm = mid ? (double)mid_b / mid : 0;
        q[i] = fr > fm ? fr : fm;
    }
}

static void smooth(const double *in, double *out, int n, double sigma_steps) {
    int r = (int)ceil(2.5 * sigma_steps);
    for (int i = 0; i < n; i++) {
        double s = 0, w = 0;
        for (int k = -r; k <= r; k++) {
            int j = i + k;
            if (j < 0 || j >= n) continue;
            double g = exp(-0.5 * k * k / (sigma_steps * sigma_steps));
            s += g * in[j];
            w += g;
        }
        out[i] = s / w;
    }
}

/* A disc is a narrow gap between two bright endplates: its dip is back up to half depth
 * within a few mm (3-9 mm even on 5 mm slices; up to ~17 mm on 3 mm pixels, where the clear
 * depth of such a dip still carries it). The inside of an osteoporotic body,
 * whose trabecular bone is no brighter than a disc, dips too, but as a wide plateau between
 * endplates a body height apart. */
#define WIDE_MM 12.0 /* mm between the points where a dip is back up to half its depth */

/* Evidence of one dip, from its depth relative to the clear dips of this spine (rdepth) and
 * how far its bottom falls (rel: bottom over the bone share around it): 2 for a dip as deep
 * as the clear ones, 0 at half their depth, and lowered when the bottom stays above 55 % of
 * its surroundings (a dip in bone, not a gap) or when it is wider than WIDE_MM. */
static double disc_gain(double rdepth, double rel, double width) {
    double g = 4 * rdepth - 2;
    if (rel > 0.55) g -= (rel - 0.55) / 0.1;
    if (width > WIDE_MM) g -= (width - WIDE_MM) / 2.5;
    return g;
}

/* A crushed body's middle dips too, as a plateau between its endplates only ~10 mm apart:
 * narrower than an intact body's but still wider than the gap of a disc. Disc thickness
 * varies along the spine (lumbar discs are thicker), so a dip's width is judged against the
 * clear dips nearest to it on either side: each mm beyond them (past a little slack) costs.
 * Dips wider than WIDE_MM are left to disc_gain: a disc next to a crushed body can merge
 * with that body's plateau, and must stay within reach of the chain. */
#define CLEAR_RDEPTH 0.85
#define WIDTH_SLACK_MM 1.0
#define WIDTH_COST 1.5
static void penalise_wide(sp_disc *cand, int nc, double dref) {
    for (int i = 0; i < nc; i++) { /* the clear dips are told by depth, so gains may change in place */
        double ref = 0;
        int n = 0;
        for (int dir = -1; dir <= 1; dir += 2)
            for (int k = i + dir; k >= 0 && k < nc; k += dir)
                if (cand[k].depth / dref >= CLEAR_RDEPTH && cand[k].width <= WIDE_MM) {
                    ref += cand[k].width;
                    n++;
                    break;
                }
        double excess = n && cand[i].width <= WIDE_MM ? cand[i].width - ref / n - WIDTH_SLACK_MM : 0;
        if (excess > 0) cand[i].gain -= WIDTH_COST * excess;
    }
}

static double pitch_cost(double p) {
    double d = (p - PITCH_MID_MM) / (p < PITCH_MID_MM ? PITCH_SD_SHORT_MM : PITCH_SD_LONG_MM);
    return d * d;
}

static double neighbour_cost(double p1, double p2) {
    double r = fabs(log(p2 / p1)) - log(NEIGHBOUR_RATIO);
    return r > 0 ? NEIGHBOUR_COST * r * r : 0;
}

/* The depth of the clear dips, to measure the others against: the median depth of the
 * deepest candidates, as many as the profile's length holds vertebrae (one per ~40 mm). */
static double reference_depth(const sp_disc *cand, int nc, double len_mm, double *buf) {
    if (nc == 0) return 1;
    for (int i = 0; i < nc; i++) buf[i] = -cand[i].depth;
    qsort(buf, (size_t)nc, sizeof *buf, sp_cmp_double);
    int n = (int)(len_mm / 40.0);
    if (n < 1) n = 1;
    if (n > nc) n = nc;
    double d = -buf[n / 2];
    return d > 0.15 ? d : 0.15;
}

/* The discs as one global choice: the chain of candidates (in s order) that maximises the
 * summed dip evidence less the cost of implausible spacings and of neighbouring spacings
 * that differ much. One spurious dip inside a body makes two short spacings and one missed
 * disc makes one long one, both of which cost more than the dip's evidence, so a single bad
 * dip cannot shift the whole sequence. Dynamic programming over (previous, current) pairs:
 * O(n³) in the number of candidates, a few dozen. */
/* The stretch between the cranial-most disc and the cranial end of the bodies in view holds
 * at most one body, cut or whole: longer, a disc was missed there. (The caudal end is not
 * held to this: the sacrum below the last disc is long and has none.) */
static double end_cost(double len) {
    double d = (len - PITCH_MID_MM) / PITCH_SD_LONG_MM;
    return len > PITCH_MID_MM ? d * d : 0;
}

/* s (mm) of the cranial end of the bodies in view. */
static double cranial_end(const sp_ctx *c) {
    int z = c->zcran > 0 ? c->z_hi : c->z_lo, step = c->zcran > 0 ? -1 : 1;
    while (z >= c->z_lo && z <= c->z_hi && !(c->body_area[z] > 0)) z += step;
    if (z < c->z_lo || z > c->z_hi) z = c->zcran > 0 ? c->z_hi : c->z_lo;
    return c->s_of_z[z];
}

/* The L5/S1 disc lies on the top of the sacrum: with the sacrum seen, a chain whose caudal
 * end is not there pays for it (missing the disc merges L5 into the sacrum, stopping short
 * leaves lumbar bodies unsplit). */
#define SACRAL_TOL_MM 8.0
static double sacral_cost(const sp_ctx *c, double s) {
    if (isnan(c->s_sacrum)) return 0;
    double d = fabs(s - c->s_sacrum) - SACRAL_TOL_MM;
    return d > 0 ? (d / 6.0) * (d / 6.0) : 0;
}

/* The L5/S1 disc is tilted most and often barely dips, but it sits on the top of the sacrum,
 * which the alae mark even on thick slices: a candidate is put there (the top sacral slice's
 * centre is up to one slice below the real top), with the evidence of a fair dip; a clear
 * dip close by still wins over it. Candidates stay in order of s. */
#define SACRAL_GAIN 0.3
static int add_sacral_disc(const sp_ctx *c, sp_disc *cand, int nc) {
    double s = c->s_sacrum + 0.5 * c->sz * (c->zcran > 0 ? 1 : -1);
    int at = 0;
    while (at < nc && cand[at].s < s) at++;
    memmove(&cand[at + 1], &cand[at], (size_t)(nc - at) * sizeof *cand);
    cand[at].s = s;
    cand[at].lo = s - 3;
    cand[at].hi = s + 3;
    cand[at].depth = 0;
    cand[at].width = 0;
    cand[at].gain = SACRAL_GAIN;
    return nc + 1;
}

/* With the pedicle runs trusted (pedicles.c) they say how many vertebrae lie between two
 * discs: none means one of the two is no disc, two or more that the profile missed a disc
 * there (filled in afterwards), and the spacing is then judged per vertebra. */
#define EMPTY_COST 2.0
#define MISSED_COST 10.0 /* per disc filled in from the pedicles alone: a weak dip at about
                            the right place is likelier the disc than the guess */
static double missed_cost(int runs) { return runs > 1 ? (runs - 1) * MISSED_COST : 0; }

static double step_cost(const sp_ctx *c, double a, double b, double *pitch) {
    double p = b - a;
    int n = sp_pedicle_runs_between(c, a, b);
    if (n < 2) {
        *pitch = p;
        return pitch_cost(p) + (n == 0 ? EMPTY_COST : 0);
    }
    *pitch = p / n;
    return n * pitch_cost(p / n) + missed_cost(n);
}

/* Pedicle runs between s and the cranial (or caudal) end of the view; 0 when not trusted. */
static int end_runs(const sp_ctx *c, double s, int cranial) {
    double far = (cranial ? 1 : -1) * c->zcran > 0 ? 1e9 : -1e9;
    int n = sp_pedicle_runs_between(c, s, far);
    return n > 0 ? n : 0;
}

static int choose_discs(sp_ctx *c, const sp_disc *cand, int nc) {
    c->n_discs = 0;
    if (nc == 0) return 0;
    size_t n2 = (size_t)nc * (size_t)nc;
    double *best = malloc(n2 * sizeof *best); /* best[j*nc+i]: chain ending ..., i, j */
    int *prev = malloc(n2 * sizeof *prev);
    if (!best || !prev) {
        free(best);
        free(prev);
        return -1;
    }
    /* no disc at all unless some chain has positive evidence; where the pedicles show the
     * vertebrae, no disc at all leaves every one of them unsplit, a miss at each disc */
    double top = c->ped_ok ? -missed_cost(c->n_ped) : 0;
    int top_i = -1, top_j = -1; /* top_i < 0: chain of the single disc top_j */
    /* what it costs for each candidate to be the chain's end at low s and at high s */
    double *e_lo = malloc((size_t)nc * sizeof *e_lo), *e_hi = malloc((size_t)nc * sizeof *e_hi);
    if (!e_lo || !e_hi) {
        free(best);
        free(prev);
        free(e_lo);
        free(e_hi);
        return -1;
    }
    double s_end = cranial_end(c);
    for (int i = 0; i < nc; i++) {
        int kc = end_runs(c, cand[i].s, 1), kd = end_runs(c, cand[i].s, 0);
        double cran = end_cost(fabs(s_end - cand[i].s) / (kc > 1 ? kc : 1)) + missed_cost(kc),
               caud = sacral_cost(c, cand[i].s) + missed_cost(kd);
        e_lo[i] = c->zcran > 0 ? caud : cran;
        e_hi[i] = c->zcran > 0 ? cran : caud;
    }
    for (int j = 0; j < nc; j++) {
        if (cand[j].gain - e_lo[j] - e_hi[j] > top) {
            top = cand[j].gain - e_lo[j] - e_hi[j];
            top_i = -1;
            top_j = j;
        }
        for (int i = 0; i < j; i++) {
            double p, cost = step_cost(c, cand[i].s, cand[j].s, &p);
            double v = cand[i].gain + cand[j].gain - cost - e_lo[i];
            int pv = -1;
            for (int k = 0; k < i; k++) {
                double pk;
                step_cost(c, cand[k].s, cand[i].s, &pk);
                double w = best[(size_t)i * nc + k] + cand[j].gain - cost - neighbour_cost(pk, p);
                if (w > v) {
                    v = w;
                    pv = k;
                }
            }
            best[(size_t)j * nc + i] = v;
            prev[(size_t)j * nc + i] = pv;
            double fin = v - e_hi[j];
            if (fin > top) {
                top = fin;
                top_i = i;
                top_j = j;
            }
        }
    }
    free(e_lo);
    free(e_hi);
    int pick[SP_MAX_DISCS], n = 0;
    int j = top_j, i = top_i;
    while (j >= 0 && n < SP_MAX_DISCS) {
        pick[n++] = j;
        if (i < 0) break;
        int k = prev[(size_t)j * nc + i];
        j = i;
        i = k;
        if (i < 0 && j >= 0 && n < SP_MAX_DISCS) {
            pick[n++] = j;
            break;
        }
    }
    for (int k = n - 1; k >= 0; k--) c->discs[c->n_discs++] = cand[pick[k]];
    free(best);
    free(prev);
    return 0;
}

void sp_discs_sort(sp_ctx *c) {
    for (int i = 0; i < c->n_discs; i++)
        for (int j = i + 1; j < c->n_discs; j++)
            if (c->discs[j].s < c->discs[i].s) {
                sp_disc t = c->discs[i];
                c->discs[i] = c->discs[j];
                c->discs[j] = t;
            }
}

int sp_discs_find(sp_ctx *c, os_error *err) {
    int ns = (int)floor((c->s_max - c->s_min) / STEP_MM) + 1;
    c->n_discs = 0;
    if (ns < 5) return 0;
    double *raw = malloc((size_t)ns * sizeof *raw), *q = malloc((size_t)ns * sizeof *q);
    double *buf = malloc((size_t)(c->nz + 1 > ns ? c->nz + 1 : ns) * sizeof *buf);
    sp_disc *cand = malloc((size_t)ns * sizeof *cand);
    if (!raw || !q || !buf || !cand) {
        free(raw);
        free(q);
        free(buf);
        free(cand);
        return os_error_set(err, -ENOMEM, "out of memory looking for discs");
    }
    sample_profile(c, raw, ns, buf);
    /* thick slices already blur the profile; only thin ones need smoothing */
    smooth(raw, q, ns, c->sz < 3 ? 1.5 / STEP_MM : 0.7);
    int nc = 0, side = (int)(SIDE_MM / STEP_MM), near = (int)(4 / STEP_MM);
    for (int i = 1; i < ns - 1 && nc < ns; i++) {
        int ismin = 1;
        for (int k = i - near; k <= i + near && ismin; k++)
            if (k >= 0 && k < ns && k != i && (q[k] < q[i] || (q[k] == q[i] && k < i))) ismin = 0;
        if (!ismin) continue;
        double lmax = -1, rmax = -1;
        for (int k = i - side; k < i; k++)
            if (k >= 0 && q[k] > lmax) lmax = q[k];
        for (int k = i + 1; k <= i + side; k++)
            if (k < ns && q[k] > rmax) rmax = q[k];
        double top = lmax < rmax ? lmax : rmax;
        int near_sac = !isnan(c->s_sacrum) && fabs(i * STEP_MM - c->s_sacrum) <= SACRAL_TOL_MM;
        if (top < 0 || top - q[i] < (near_sac ? 0.01 : MIN_DEPTH)) continue;
        double level = q[i] + 0.5 * (top - q[i]);
        int lo = i, hi = i;
        while (lo > 0 && q[lo - 1] < level && (i - lo) * STEP_MM < 8) lo--;
        while (hi < ns - 1 && q[hi + 1] < level && (hi - i) * STEP_MM < 8) hi++;
        int wl = i, wr = i;
        while (wl > 0 && q[wl - 1] < level && i - wl < side) wl--;
        while (wr < ns - 1 && q[wr + 1] < level && wr - i < side) wr++;
        cand[nc].s = i * STEP_MM;
        cand[nc].lo = lo * STEP_MM;
        cand[nc].hi = hi * STEP_MM;
        cand[nc].depth = top - q[i];
        cand[nc].width = (wr - wl) * STEP_MM;
        cand[nc].gain = q[i] / top; /* relative bottom, made a gain below */
        nc++;
    }
    double dref = reference_depth(cand, nc, ns * STEP_MM, buf);
    for (int i = 0; i < nc; i++) cand[i].gain = disc_gain(cand[i].depth / dref, cand[i].gain, cand[i].width);
    penalise_wide(cand, nc, dref);
    if (!isnan(c->s_sacrum) && nc < ns) nc = add_sacral_disc(c, cand, nc);
    int rc = choose_discs(c, cand, nc);
    if (rc) {
        free(raw);
        free(q);
        free(buf);
        free(cand);
        return os_error_set(err, -ENOMEM, "out of memory looking for discs");
    }
    sp_discs_sort(c);
    sp_pedicle_fill_missed(c);
    free(raw);
    free(q);
    free(buf);
    free(cand);
    return 0;
}
