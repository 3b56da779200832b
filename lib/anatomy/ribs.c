/* Which vertebrae bear ribs. From the costovertebral corner of each body (beside its
 * posterolateral part, where a rib head articulates, or where a lumbar transverse process
 * starts) bright bone is followed in 3D, away from the midline: a rib runs on far beyond the
 * body (past ~60 mm from the midline), a transverse process stops short. The walk is kept
 * off the midline (so it cannot cross to the other side or through the body), may not climb
 * above the body (the rib of the vertebra above passes there) and may follow a rib down
 * only as far as a rib descends. A huge bony mass out there is the ilium, not a rib. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "spine_internal.h"

#define SP_RVISIT 8u
#define REACH_MM 60.0      /* a rib gets at least this far from the midline */
#define DESCENT_MM 30.0    /* a rib may descend this far below its vertebra in view */
#define ILIUM_ML 50.0      /* that much bone beyond REACH_MM is a pelvis, not a rib (two
                              ribs, of a body cut with its neighbour, make ~40 ml) */
#define MAX_LAT_MM 150.0
#define GAP_MM 8.0        /* largest gap along a rib that is jumped */
#define RISE_MM 2.0       /* a rib's far part lies at most this far above its body's centre */

typedef struct walk {
    size_t *st;
    size_t top, cap;
    size_t *seen;
    size_t nseen, capseen;
} walk;

static int push(walk *w, size_t p) {
    if (w->top == w->cap) {
        size_t nc = w->cap ? w->cap * 2 : 4096;
        size_t *b = realloc(w->st, nc * sizeof *b);
        if (!b) return -ENOMEM;
        w->st = b;
        w->cap = nc;
    }
    if (w->nseen == w->capseen) {
        size_t nc = w->capseen ? w->capseen * 2 : 4096;
        size_t *b = realloc(w->seen, nc * sizeof *b);
        if (!b) return -ENOMEM;
        w->seen = b;
        w->capseen = nc;
    }
    w->st[w->top++] = p;
    w->seen[w->nseen++] = p;
    return 0;
}

/* Bone within GAP_MM in-plane of (qx, qy, qz), further out than it, joins the walk. */
static int bridge_gap(sp_ctx *c, walk *w, int qx, int qy, int qz, int sgn, double mid_x) {
    int rx = (int)ceil(GAP_MM / c->sx), ry = (int)ceil(GAP_MM / c->sy);
    for (int dy = -ry; dy <= ry; dy++)
        for (int dx = -rx; dx <= rx; dx++) {
            if ((dx * c->sx) * (dx * c->sx) + (dy * c->sy) * (dy * c->sy) > GAP_MM * GAP_MM) continue;
            int ax = qx + dx, ay = qy + dy;
            if (ax < 0 || ay < 0 || ax >= c->nx || ay >= c->ny) continue;
            if (sgn * (ax - mid_x) <= sgn * (qx - mid_x)) continue; /* only outwards */
            if (sgn * (ax - mid_x) * c->sx > MAX_LAT_MM) continue;
            size_t r = sp_idx(c, ax, ay, qz);
            if (c->cls[r] & SP_RVISIT) continue;
            if (sp_smooth_at(c, ax, ay, qz) <= c->t_bone) continue;
            c->cls[r] |= SP_RVISIT;
            int rc = push(w, r);
            if (rc) return rc;
        }
    return 0;
}

/* One side (sgn = ±1 in x) of vertebra i: returns 1 rib, 0 none, 2 cannot tell (the bone
 * leaves the scan before it could reach far enough), <0 error. */
static int side_has_rib(sp_ctx *c, int i, int sgn, double mid_x, double half_w, walk *w) {
    const os_vertebra *v = &c->a->vertebrae[i];
    int zlo_c = c->zcran > 0 ? v->z_first : v->z_last; /* caudal end of the body */
    int zhi_c = c->zcran > 0 ? v->z_last : v->z_first;
    int descent = (int)ceil(DESCENT_MM / c->sz);
    int zmin, zmax;
    if (c->zcran > 0) {
        zmin = zlo_c - descent;
        zmax = zhi_c;
    } else {
        zmin = zhi_c;
        zmax = zlo_c + descent;
    }
    if (zmin < 0) zmin = 0;
    if (zmax > c->nz - 1) zmax = c->nz - 1;
    double block = half_w - 3 > 8 ? half_w - 3 : 8;
    w->top = w->nseen = 0;
    int rc = 0;
    /* seeds: bone beside the posterolateral body, on its own slices */
    for (int z = v->z_first; z <= v->z_last && !rc; z++) {
        double cyv = c->canal_y[z], wall = c->wall_a[z];
        for (int y = 0; y < c->ny && !rc; y++) {
            double a = (cyv - y) * c->ypost * c->sy;
            if (a < -15 || a > wall + 12) continue;
            for (double lat = half_w - 3; lat <= half_w + 20; lat += c->sx) {
                int x = (int)lround(mid_x + sgn * lat / c->sx);
                if (x < 0 || x >= c->nx) continue;
                size_t p = sp_idx(c, x, y, z);
                if ((c->cls[p] & SP_RVISIT) || c->a->body_mask[p]) continue;
                if (sp_smooth_at(c, x, y, z) <= c->t_bone) continue;
                c->cls[p] |= SP_RVISIT;
                rc = push(w, p);
            }
        }
    }
    double far_ml = 0, vox_ml = c->sx * c->sy * c->sz / 1000.0, reach = 0, far_z = 0;
    long far_n = 0;
    int left_scan = 0;
    double need = REACH_MM > half_w + 35 ? REACH_MM : half_w + 35;
    while (w->top && !rc) {
        size_t q = w->st[--w->top];
        int qx = (int)(q % (size_t)c->nx), qy = (int)((q / (size_t)c->nx) % (size_t)c->ny), qz = (int)(q / c->plane);
        double lat = sgn * (qx - mid_x) * c->sx;
        if (lat > reach) reach = lat;
        if (lat > need) {
            far_ml += vox_ml;
            far_z += (qz - v->center_vox[2]) * c->sz * c->zcran;
            far_n++;
        }
        if ((qz == 0 || qz == c->nz - 1) && lat > half_w + 10) left_scan = 1;
        for (int dz = -1; dz <= 1 && !rc; dz++)
            for (int dy = -1; dy <= 1 && !rc; dy++)
                for (int dx = -1; dx <= 1 && !rc; dx++) {
                    if (abs(dx) + abs(dy) + abs(dz) != 1 && dz != 0) continue; /* 8 in-plane + 2 along z */
                    int ax = qx + dx, ay = qy + dy, az = qz + dz;
                    if (ax < 0 || ay < 0 || az < zmin || ax >= c->nx || ay >= c->ny || az > zmax) continue;
                    double l = sgn * (ax - mid_x) * c->sx;
                    if (l < block || l > MAX_LAT_MM) continue;
                    size_t r = sp_idx(c, ax, ay, az);
                    if (c->cls[r] & SP_RVISIT) continue;
                    if (sp_smooth_at(c, ax, ay, az) <= c->t_bone) continue;
                    c->cls[r] |= SP_RVISIT;
                    rc = push(w, r);
                }
        /* past the transverse process a rib may show a gap (a joint, partial volume): jump it */
        if (lat > half_w + 15 && lat < REACH_MM + 15 && !rc) {
            int ox = qx + sgn;
            if (ox >= 0 && ox < c->nx && sp_smooth_at(c, ox, qy, qz) <= c->t_bone) /* an outer edge */
                rc = bridge_gap(c, w, qx, qy, qz, sgn, mid_x);
        }
        if (far_ml > ILIUM_ML) break;
    }
    for (size_t k = 0; k < w->nseen; k++) c->cls[w->seen[k]] &= (uint8_t)~SP_RVISIT;
    if (rc) return rc;
    /* a rib drops from its head as it runs out; one whose far part lies well above this body
     * is the rib of the vertebra above, reached through this one's transverse process */
    if (reach >= need && far_ml > 0) return far_ml <= ILIUM_ML && far_z / far_n <= RISE_MM;
    return left_scan ? 2 : 0;
}

int sp_ribs_find(sp_ctx *c, os_error *err) {
    walk w;
    memset(&w, 0, sizeof w);
    for (int i = 0; i < c->a->n_vertebrae; i++) {
        os_vertebra *v = &c->a->vertebrae[i];
        if (c->sacral[i]) { /* the walk would only find the pelvis */
            c->rib_known[i] = 1;
            continue;
        }
        double mid = 0, hw = 0;
        int n = 0;
        for (int z = v->z_first; z <= v->z_last; z++) {
            mid += c->canal_x[z];
            if (c->body_halfw[z] > hw) hw = c->body_halfw[z];
            n++;
        }
        mid /= n > 0 ? n : 1;
        if (hw < 10) hw = 10;
        int left = side_has_rib(c, i, -1, mid, hw, &w);
        int right = left < 0 ? left : side_has_rib(c, i, +1, mid, hw, &w);
        if (left < 0 || right < 0) {
            free(w.st);
            free(w.seen);
            return os_error_set(err, -ENOMEM, "out of memory following ribs");
        }
        v->has_rib = left == 1 || right == 1;
        /* without a rib, a rib-like bone leaving the scan may still be one */
        int top_cut = c->zcran > 0 ? v->z_last == c->nz - 1 : v->z_first == 0;
        c->rib_known[i] = v->has_rib || (left != 2 && right != 2 && !top_cut);
    }
    free(w.st);
    free(w.seen);
    return 0;
}
