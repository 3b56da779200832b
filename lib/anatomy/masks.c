/* 3D vertebral body masks: the per-slice body voxels, each given the arc length of the
 * oblique plane (perpendicular to the local spine axis) that passes through it, are split at
 * the disc slabs; each piece keeps its largest 6-connected part. Pieces become vertebrae,
 * ordered cranial → caudal, with centre, axis, front-back direction, extent and volume. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "spine_internal.h"

#define SP_VISIT 4u
#define SACRAL_KEEP_MM 32.0 /* below the last disc only the first sacral body is kept */

/* Arc length of the oblique plane through voxel (x, y, z). */
static double s_of_voxel(const sp_ctx *c, int x, int y, int z) {
    double dx = (x - c->cx[z]) * c->sx, dy = (y - c->cy[z]) * c->sy;
    return c->s_of_z[z] + dx * c->tan[z][0] + dy * c->tan[z][1];
}

/* Segment k lies between disc k-1 and disc k (in s order); -1 inside a disc. */
static int segment_of(const sp_ctx *c, double s) {
    for (int k = 0; k < c->n_discs; k++) {
        if (s < c->discs[k].lo) return k;
        if (s <= c->discs[k].hi) return -1;
    }
    return c->n_discs;
}

/* Flood fill of label lab from seed inside box, marking SP_VISIT; returns the size. */
static long flood(sp_ctx *c, uint8_t lab, const int box[6], size_t seed, size_t *st, size_t cap) {
    const uint8_t *m = c->a->body_mask;
    size_t top = 0;
    long n = 0;
    c->cls[seed] |= SP_VISIT;
    st[top++] = seed;
    while (top) {
        size_t q = st[--top];
        n++;
        int qx = (int)(q % (size_t)c->nx), qy = (int)((q / (size_t)c->nx) % (size_t)c->ny),
            qz = (int)(q / c->plane);
        static const int d[6][3] = {{1, 0, 0}, {-1, 0, 0}, {0, 1, 0}, {0, -1, 0}, {0, 0, 1}, {0, 0, -1}};
        for (int k = 0; k < 6; k++) {
            int ax = qx + d[k][0], ay = qy + d[k][1], az = qz + d[k][2];
            if (ax < box[0] || ax > box[1] || ay < box[2] || ay > box[3] || az < box[4] || az > box[5])
                continue;
            size_t r = sp_idx(c, ax, ay, az);
            if (m[r] != lab || (c->cls[r] & SP_VISIT)) continue;
            if (top >= cap) return -ENOMEM;
            c->cls[r] |= SP_VISIT;
            st[top++] = r;
        }
    }
    return n;
}

static void clear_visit(sp_ctx *c, const int box[6]) {
    for (int z = box[4]; z <= box[5]; z++)
        for (int y = box[2]; y <= box[3]; y++)
            for (int x = box[0]; x <= box[1]; x++) c->cls[sp_idx(c, x, y, z)] &= (uint8_t)~SP_VISIT;
}

/* Keeps only the largest 6-connected part of label lab inside the box; returns its size. */
static long keep_largest(sp_ctx *c, uint8_t lab, const int box[6], size_t *st, size_t cap) {
    uint8_t *m = c->a->body_mask;
    long best = 0;
    size_t best_seed = 0;
    for (int z = box[4]; z <= box[5]; z++)
        for (int y = box[2]; y <= box[3]; y++)
            for (int x = box[0]; x <= box[1]; x++) {
                size_t p = sp_idx(c, x, y, z);
                if (m[p] != lab || (c->cls[p] & SP_VISIT)) continue;
                long n = flood(c, lab, box, p, st, cap);
                if (n < 0) return n;
                if (n > best) {
                    best = n;
                    best_seed = p;
                }
            }
    clear_visit(c, box);
    if (!best) return 0;
    long n = flood(c, lab, box, best_seed, st, cap);
    if (n < 0) return n;
    for (int z = box[4]; z <= box[5]; z++)
        for (int y = box[2]; y <= box[3]; y++)
            for (int x = box[0]; x <= box[1]; x++) {
                size_t p = sp_idx(c, x, y, z);
                if (m[p] == lab && !(c->cls[p] & SP_VISIT)) m[p] = 0;
                c->cls[p] &= (uint8_t)~SP_VISIT;
            }
    return best;
}

typedef struct seg {
    int box[6];
    size_t n;
} seg;

static void describe(sp_ctx *c, os_vertebra *v, uint8_t lab, const int box[6]) {
    double sx = 0, sy = 0, sz = 0, ax = 0, ay = 0;
    size_t n = 0;
    int zf = c->nz, zl = -1, edge = 0;
    for (int z = box[4]; z <= box[5]; z++)
        for (int y = box[2]; y <= box[3]; y++)
            for (int x = box[0]; x <= box[1]; x++) {
                if (c->a->body_mask[sp_idx(c, x, y, z)] != lab) continue;
                sx += x;
                sy += y;
                sz += z;
                n++;
                if (z < zf) zf = z;
                if (z > zl) zl = z;
                if (x == 0 || y == 0 || x == c->nx - 1 || y == c->ny - 1) edge = 1;
            }
    memset(v, 0, sizeof *v);
    v->level = -1;
    if (!n) return;
    v->center_vox[0] = sx / n;
    v->center_vox[1] = sy / n;
    v->center_vox[2] = sz / n;
    os_volume_voxel_to_lps(c->vol, v->center_vox[0], v->center_vox[1], v->center_vox[2], v->center_lps);
    v->z_first = zf;
    v->z_last = zl;
    v->volume_ml = n * c->sx * c->sy * c->sz / 1000.0;
    int zc = (int)lround(v->center_vox[2]);
    double t[3] = {c->tan[zc][0] * c->zcran, c->tan[zc][1] * c->zcran, c->tan[zc][2] * c->zcran};
    sp_dir_to_lps(c, t, v->axis_lps);
    for (int z = zf; z <= zl; z++) {
        ax += (c->cx[z] - c->canal_x[z]) * c->sx;
        ay += (c->cy[z] - c->canal_y[z]) * c->sy;
    }
    double ap[3] = {ax, ay, 0};
    if (hypot(ax, ay) < 1e-6) ap[1] = -c->ypost;
    double dot = ap[0] * t[0] + ap[1] * t[1] + ap[2] * t[2];
    for (int k = 0; k < 3; k++) ap[k] -= dot * t[k];
    sp_dir_to_lps(c, ap, v->ap_lps);
    v->cut_by_fov = edge || zf == 0 || zl == c->nz - 1;
}

int sp_masks_build(sp_ctx *c, os_error *err) {
    int nseg = c->n_discs + 1;
    seg segs[SP_MAX_DISCS + 1];
    for (int k = 0; k < nseg; k++) {
        segs[k].box[0] = segs[k].box[2] = segs[k].box[4] = 1 << 30;
        segs[k].box[1] = segs[k].box[3] = segs[k].box[5] = -1;
        segs[k].n = 0;
    }
    /* The segment past the last disc at the caudal end may be the sacrum: keep its top only. */
    double caudal_limit_lo = -1e9, caudal_limit_hi = 1e9;
    if (c->n_discs > 0) {
        if (c->zcran > 0) caudal_limit_lo = c->discs[0].lo - SACRAL_KEEP_MM;
        else caudal_limit_hi = c->discs[c->n_discs - 1].hi + SACRAL_KEEP_MM;
    }
    uint8_t *m = c->a->body_mask;
    /* bodies lie within the per-slice windows around the canal (bodies.c) */
    double xlo = 1e9, xhi = -1e9, ylo = 1e9, yhi = -1e9;
    for (int z = c->z_lo; z <= c->z_hi; z++) {
        if (c->canal_x[z] < xlo) xlo = c->canal_x[z];
        if (c->canal_x[z] > xhi) xhi = c->canal_x[z];
        if (c->canal_y[z] < ylo) ylo = c->canal_y[z];
        if (c->canal_y[z] > yhi) yhi = c->canal_y[z];
    }
    int bx0 = (int)floor(xlo - 50 / c->sx), bx1 = (int)ceil(xhi + 50 / c->sx);
    int by0 = (int)floor(ylo - 95 / c->sy), by1 = (int)ceil(yhi + 95 / c->sy);
    bx0 = bx0 < 0 ? 0 : bx0;
    by0 = by0 < 0 ? 0 : by0;
    bx1 = bx1 >= c->nx ? c->nx - 1 : bx1;
    by1 = by1 >= c->ny ? c->ny - 1 : by1;
    for (int z = c->z_lo; z <= c->z_hi; z++)
        for (int y = by0; y <= by1; y++)
            for (int x = bx0; x <= bx1; x++) {
                size_t p = sp_idx(c, x, y, z);
                if (!(c->cls[p] & SP_BODY)) continue;
                double s = s_of_voxel(c, x, y, z);
                if (s < caudal_limit_lo || s > caudal_limit_hi) continue;
                int k = segment_of(c, s);
                if (k < 0) continue;
                m[p] = (uint8_t)(k + 1);
                seg *g = &segs[k];
                g->n++;
                if (x < g->box[0]) g->box[0] = x;
                if (x > g->box[1]) g->box[1] = x;
                if (y < g->box[2]) g->box[2] = y;
                if (y > g->box[3]) g->box[3] = y;
                if (z < g->box[4]) g->box[4] = z;
                if (z > g->box[5]) g->box[5] = z;
            }
    size_t maxn = 0;
    for (int k = 0; k < nseg; k++)
        if (segs[k].n > maxn) maxn = segs[k].n;
    size_t cap = maxn + 16;
    size_t *stack = malloc(cap * sizeof *stack);
    if (!stack) return os_error_set(err, -ENOMEM, "out of memory building body masks");
    /* Too small to be a body (a stray bright fragment, a sliver at the scan edge): dropped. */
    double min_ml = 1.0;
    int order[SP_MAX_DISCS + 1], nv = 0;
    for (int k = 0; k < nseg; k++) {
        if (!segs[k].n) continue;
        long n = keep_largest(c, (uint8_t)(k + 1), segs[k].box, stack, cap);
        if (n < 0) {
            free(stack);
            return os_error_set(err, -ENOMEM, "out of memory building body masks");
        }
        segs[k].n = (size_t)n;
        if (n * c->sx * c->sy * c->sz / 1000.0 < min_ml) {
            for (int z = segs[k].box[4]; z <= segs[k].box[5]; z++)
                for (int y = segs[k].box[2]; y <= segs[k].box[3]; y++)
                    for (int x = segs[k].box[0]; x <= segs[k].box[1]; x++)
                        if (m[sp_idx(c, x, y, z)] == k + 1) m[sp_idx(c, x, y, z)] = 0;
            segs[k].n = 0;
            continue;
        }
        order[nv++] = k;
    }
    free(stack);
    if (nv > OS_MAX_VERTEBRAE) nv = OS_MAX_VERTEBRAE;
    /* vertebrae[] runs cranial → caudal; relabel the mask to 1 + that index */
    uint8_t relabel[SP_MAX_DISCS + 2] = {0};
    for (int i = 0; i < nv; i++) {
        int k = c->zcran > 0 ? order[nv - 1 - i] : order[i];
        relabel[k + 1] = (uint8_t)(i + 1);
    }
    for (int z = c->z_lo; z <= c->z_hi; z++)
        for (int y = by0; y <= by1; y++)
            for (int x = bx0; x <= bx1; x++) {
                size_t p = sp_idx(c, x, y, z);
                if (m[p]) m[p] = relabel[m[p]];
            }
    c->a->n_vertebrae = nv;
    for (int i = 0; i < nv; i++) {
        int k = c->zcran > 0 ? order[nv - 1 - i] : order[i];
        describe(c, &c->a->vertebrae[i], (uint8_t)(i + 1), segs[k].box);
        memcpy(c->vbox[i], segs[k].box, sizeof c->vbox[i]);
    }
    return 0;
}
