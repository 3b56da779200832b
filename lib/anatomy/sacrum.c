/* The sacrum: the first sacral body carries the alae, bone that runs on sideways from the
 * body, level with its front part, far beyond the body's own width (to the sacroiliac
 * joints). A lumbar body has only psoas beside it there; its transverse processes sit
 * further back. Column by column across the front part of the body, bright bone (even the
 * thin cortex of a fatty ala) is looked for; a slice is sacral when it continues well past the
 * body on both sides, and a piece is sacral when enough of its slices are. */
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

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
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
    qsort(w, (size_t)n, sizeof *w, cmp_double);
    return w[n / 2];
}

int sp_sacrum_find(sp_ctx *c, os_error *err) {
    (void)err;
    double ref = reference_half_width(c);
    for (int i = 0; i < c->a->n_vertebrae; i++) {
        const os_vertebra *v = &c->a->vertebrae[i];
        int n = 0, hits = 0;
        for (int z = v->z_first; z <= v->z_last; z++) {
            if (isnan(c->body_x[z]) || c->body_area[z] <= 0) continue;
            double wall = c->wall_a[z], depth = 2 * c->body_halfd[z];
            double a_lo = wall + 0.25 * depth, a_hi = wall + depth;
            double l = lateral_reach(c, z, c->body_x[z], a_lo, a_hi, -1);
            double r = lateral_reach(c, z, c->body_x[z], a_lo, a_hi, +1);
            n++;
            if (l > ref + BEYOND_MM && r > ref + BEYOND_MM) hits++;
        }
        c->sacral[i] = n > 0 && hits >= SACRAL_SHARE * n && hits >= 1;
    }
    return 0;
}
