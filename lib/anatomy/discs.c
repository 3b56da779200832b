/* Intervertebral discs along the spine axis. At each step along the centre line an oblique
 * cross-section perpendicular to the local axis is sampled over the body's outline: the share
 * of bright bone on its rim (cortex) and in its middle (trabecular bone, endplates). A body
 * has a bright rim even when osteoporotic; a disc (annulus ~100 HU) has neither, so discs are
 * the deep, narrow dips of max(rim, middle). Sampling across the axis rather than along
 * slices keeps the dips sharp where lordosis tilts the discs. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "spine_internal.h"

#define STEP_MM 1.0
#define MIN_GAP_MM 15.0   /* two discs are at least a (small) vertebra apart */
#define SIDE_MM 18.0      /* a dip must rise again within this on both sides */

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

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
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
    qsort(buf, (size_t)n, sizeof *buf, cmp_double);
    *hw = buf[n / 2];
    n = 0;
    for (int k = z - win; k <= z + win; k++)
        if (k >= c->z_lo && k <= c->z_hi && c->body_area[k] > 0.4 * amax) buf[n++] = c->body_halfd[k];
    qsort(buf, (size_t)n, sizeof *buf, cmp_double);
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
                int bright = trilinear(c, x, y, zz) > c->t_bone;
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

int sp_discs_find(sp_ctx *c, os_error *err) {
    int ns = (int)floor((c->s_max - c->s_min) / STEP_MM) + 1;
    c->n_discs = 0;
    if (ns < 5) return 0;
    double *raw = malloc((size_t)ns * sizeof *raw), *q = malloc((size_t)ns * sizeof *q);
    double *buf = malloc((size_t)(c->nz + 1) * sizeof *buf);
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
    for (int i = 1; i < ns - 1; i++) {
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
        if (top < 0 || top - q[i] < 0.15 || q[i] > 0.55 * top) continue;
        double level = q[i] + 0.5 * (top - q[i]);
        int lo = i, hi = i;
        while (lo > 0 && q[lo - 1] < level && (i - lo) * STEP_MM < 8) lo--;
        while (hi < ns - 1 && q[hi + 1] < level && (hi - i) * STEP_MM < 8) hi++;
        cand[nc].s = i * STEP_MM;
        cand[nc].lo = lo * STEP_MM;
        cand[nc].hi = hi * STEP_MM;
        cand[nc].depth = top - q[i];
        nc++;
    }
    /* deepest first; drop any closer than a vertebra to one already kept */
    for (int i = 0; i < nc; i++)
        for (int j = i + 1; j < nc; j++)
            if (cand[j].depth > cand[i].depth) {
                sp_disc t = cand[i];
                cand[i] = cand[j];
                cand[j] = t;
            }
    for (int i = 0; i < nc && c->n_discs < SP_MAX_DISCS; i++) {
        int ok = 1;
        for (int j = 0; j < c->n_discs && ok; j++)
            if (fabs(c->discs[j].s - cand[i].s) < MIN_GAP_MM) ok = 0;
        if (ok) c->discs[c->n_discs++] = cand[i];
    }
    for (int i = 0; i < c->n_discs; i++) /* order along s (caudal or cranial as z runs) */
        for (int j = i + 1; j < c->n_discs; j++)
            if (c->discs[j].s < c->discs[i].s) {
                sp_disc t = c->discs[i];
                c->discs[i] = c->discs[j];
                c->discs[j] = t;
            }
    free(raw);
    free(q);
    free(buf);
    free(cand);
    return 0;
}
