/* The sacrum: the first sacral body carries the alae, bone that runs on sideways from the
 * body, level with its front part, far beyond the body's own width (to the sacroiliac
 * joints). A lumbar body has only psoas beside it there; its transverse processes sit
 * further back. Column by column across the front part of the body, bright bone (even the
 * thin cortex of a fatty ala) is looked for; a slice is sacral when it continues well past the
 * body on both sides. The top of the sacrum is found this way before the discs (to place
 * L5/S1); a piece is sacral when it lies below the disc placed there, or failing that when
 * enough of its slices are sacral. */
#include <math.h>
#include <stdlib.h>

#include "spine_internal.h"

#define BEYOND_MM 18.0      /* bone this far past a typical body's side, on both sides */
#define SACRAL_SHARE 0.35   /* share of a piece's slices that must look sacral */

/* How far (mm from the midline) bone continues column by column on one side. */
static double lateral_reach(const sp_ctx *c, int z, double mid_x, double a_lo, double a_hi, int sgn) {
    double reach = 0;
    int misses = 0, max_miss = (int)ceil(3.0 / c->sx);
    for (double lat = 0; lat < 130; lat += c->sx) {
        int x = (int)lround(mid_x + sgn * lat / c->sx);
        if (x < 0 || x >= c->nx) break;
        int hit = 0;
        for (int y = 0; y < c->ny && !hit; y++) {
            double a = (c->canal_y[z] - y) * c->ypost * c->sy;
            if (a < a_lo || a > a_hi) continue;
            hit = sp_smooth_at(c, x, y, z) > c->t_bone;
        }
        if (hit) {
            reach = lat;
            misses = 0;
        } else if (++misses > max_miss) {
            break;
        }
    }
    return reach;
}

/* The typical half width of a body here: the median over pieces of their widest slice. The
 * sacral piece's own width is no reference, as its outline already takes in part of the alae. */
static double reference_half_width(const sp_ctx *c) {
    double w[OS_MAX_VERTEBRAE];
    int n = 0;
    for (int i = 0; i < c->a->n_vertebrae; i++) {
        const os_vertebra *v = &c->a->vertebrae[i];
        double m = 0;
        for (int z = v->z_first; z <= v->z_last; z++)
            if (c->body_halfw[z] > m) m = c->body_halfw[z];
        if (m > 0) w[n++] = m;
    }
    if (!n) return 25;
    qsort(w, (size_t)n, sizeof *w, sp_cmp_double);
    return w[n / 2];
}

/* Whether slice z shows bone running on sideways from the front of the body on both sides:
 * -1 no body there, 0 no, 1 yes. */
static int slice_sacral(const sp_ctx *c, int z, double ref, double beyond) {
    if (isnan(c->body_x[z]) || c->body_area[z] <= 0) return -1;
    double wall = c->wall_a[z], depth = 2 * c->body_halfd[z];
    double a_lo = wall + 0.25 * depth, a_hi = wall + depth;
    double l = lateral_reach(c, z, c->body_x[z], a_lo, a_hi, -1);
    double r = lateral_reach(c, z, c->body_x[z], a_lo, a_hi, +1);
    return l > ref + beyond && r > ref + beyond;
}

/* Before the bodies are split, the typical half width from the slices: the median over the
 * slices whose cross-section is near full size. */
static double slice_half_width(const sp_ctx *c) {
    double amax = 0;
    for (int z = c->z_lo; z <= c->z_hi; z++)
        if (c->body_area[z] > amax) amax = c->body_area[z];
    double *w = malloc((size_t)(c->z_hi - c->z_lo + 1) * sizeof *w);
    if (!w) return 25;
    int n = 0;
    for (int z = c->z_lo; z <= c->z_hi; z++)
        if (c->body_area[z] > 0.5 * amax) w[n++] = c->body_halfw[z];
    double r = 25;
    if (n) {
        qsort(w, (size_t)n, sizeof *w, sp_cmp_double);
        r = w[n / 2];
    }
    free(w);
    return r;
}

/* The top of the sacrum (the alae at the S1 level), found slice by slice before any disc is
 * chosen, so that the L5/S1 disc can be placed on it rather than on a dip that thick slices
 * or a fracture may blur: the cranial-most sacral slice with sacral slices among the next
 * SAC_RUN_MM caudal to it (a third of them, at least one: one noisy slice is no sacrum). The sacrum tapers fast below the
 * alae, so there it need only be clearly wider than a body (TAPER_MM past its side). */
#define TAPER_MM 8.0
#define SAC_RUN_MM 12.0
void sp_sacrum_top(sp_ctx *c) {
    c->s_sacrum = NAN;
    if (c->z_hi < c->z_lo) return;
    double ref = slice_half_width(c);
    int run = (int)ceil(SAC_RUN_MM / c->sz), dir = -c->zcran; /* dir: caudal step in z */
    int z0 = c->zcran > 0 ? c->z_hi : c->z_lo;
    for (int z = z0; z >= c->z_lo && z <= c->z_hi; z += dir) {
        if (slice_sacral(c, z, ref, BEYOND_MM) != 1) continue;
        int more = 0;
        for (int k = 1; k <= run; k++) {
            int zz = z + k * dir;
            if (zz < c->z_lo || zz > c->z_hi) break;
            more += slice_sacral(c, zz, ref, TAPER_MM) == 1;
        }
        int room = 0;
        for (int k = 1; k <= run; k++) room += z + k * dir >= c->z_lo && z + k * dir <= c->z_hi;
        int need = room / 3 > 1 ? room / 3 : 1;
        if (room > 0 && more >= need) {
            c->s_sacrum = c->s_of_z[z];
            return;
        }
    }
}

/* With the top of the sacrum seen and a disc on it, the pieces caudal to that disc are
 * sacral: the thin slices of a short sacrum in view are too few for the share below. */
#define ON_SACRUM_MM 10.0 /* the caudal disc is that near the sacral top: it is L5/S1 */
static int sacral_by_disc(sp_ctx *c) {
    if (isnan(c->s_sacrum) || c->n_discs == 0) return 0;
    const sp_disc *d = c->zcran > 0 ? &c->discs[0] : &c->discs[c->n_discs - 1];
    if (fabs(d->s - c->s_sacrum) > ON_SACRUM_MM) return 0;
    for (int i = 0; i < c->a->n_vertebrae; i++) {
        const os_vertebra *v = &c->a->vertebrae[i];
        int zc = (int)lround(v->center_vox[2]);
        if (zc < c->z_lo) zc = c->z_lo;
        if (zc > c->z_hi) zc = c->z_hi;
        double s = c->s_of_z[zc];
        c->sacral[i] = c->zcran > 0 ? s < d->s : s > d->s;
    }
    return 1;
}

int sp_sacrum_find(sp_ctx *c, os_error *err) {
    (void)err;
    if (sacral_by_disc(c)) return 0;
    double ref = reference_half_width(c);
    for (int i = 0; i < c->a->n_vertebrae; i++) {
        const os_vertebra *v = &c->a->vertebrae[i];
        int n = 0, hits = 0;
        for (int z = v->z_first; z <= v->z_last; z++) {
            int k = slice_sacral(c, z, ref, BEYOND_MM);
            if (k < 0) continue;
            n++;
            hits += k;
        }
        c->sacral[i] = n > 0 && hits >= SACRAL_SHARE * n && hits >= 1;
    }
    return 0;
}
