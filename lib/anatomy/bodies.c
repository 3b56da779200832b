/* The vertebral body on each axial slice, in front of the canal: the bright bone (cortex,
 * endplates, dense trabecular bone) in front of the posterior wall, its convex hull, less the
 * soft tissue or fat reaching in from the hull's edge. The hull is what makes osteoporotic
 * bodies (trabecular 50–100 HU, barely denser than a disc) come out whole: only the cortex
 * has to be seen. The posterior elements are cut off at the posterior wall; bodies are split
 * from each other later, along the spine axis (discs.c, masks.c). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "spine_internal.h"

#define ROI_LAT_MM 40.0   /* half width searched either side of the canal */
#define ROI_ANT_MM 85.0   /* how far in front of the canal centre */
#define WALL_MAX_MM 30.0  /* canal centre to posterior wall, at most */

typedef struct roi {
    int x0, y0, w, h;
    int16_t *s;   /* smoothed HU */
    uint8_t *m;   /* work mask */
    int *stack;
    int *pts;     /* hull input, x,y pairs */
    int *hull;
} roi;

static void set_roi(const sp_ctx *c, int z, roi *r) {
    int hw = (int)ceil(ROI_LAT_MM / c->sx), ha = (int)ceil(ROI_ANT_MM / c->sy);
    int cx = (int)lround(c->canal_x[z]), cy = (int)lround(c->canal_y[z]);
    int ya = cy - c->ypost * ha;
    r->x0 = cx - hw < 0 ? 0 : cx - hw;
    int x1 = cx + hw >= c->nx ? c->nx - 1 : cx + hw;
    int ylo = cy < ya ? cy : ya, yhi = cy < ya ? ya : cy;
    r->y0 = ylo < 0 ? 0 : ylo;
    yhi = yhi >= c->ny ? c->ny - 1 : yhi;
    r->w = x1 - r->x0 + 1;
    r->h = yhi - r->y0 + 1;
    if (r->w < 1 || r->h < 1) r->w = r->h = 0;
    for (int y = 0; y < r->h; y++)
        for (int x = 0; x < r->w; x++) r->s[x + r->w * y] = (int16_t)sp_smooth_at(c, r->x0 + x, r->y0 + y, z);
}

/* mm in front of the canal centre of slice z, for image row y */
static double ant_mm(const sp_ctx *c, int z, int y) {
    return (c->canal_y[z] - y) * c->ypost * c->sy;
}

static double find_wall(const sp_ctx *c, int z, const roi *r) {
    int cx = (int)lround(c->canal_x[z]) - r->x0, band = (int)ceil(2.0 / c->sx);
    int cy = (int)lround(c->canal_y[z]);
    for (int y = cy; y >= 0 && y < c->ny; y -= c->ypost) {
        double a = ant_mm(c, z, y);
        if (a > WALL_MAX_MM) break;
        int ry = y - r->y0;
        if (ry < 0 || ry >= r->h) continue;
        int sum = 0, n = 0;
        for (int x = cx - band; x <= cx + band; x++)
            if (x >= 0 && x < r->w) {
                sum += r->s[x + r->w * ry];
                n++;
            }
        if (n && sum / n > c->t_bone) return a;
    }
    return NAN;
}

static long cross(const int *o, const int *a, const int *b) {
    return (long)(a[0] - o[0]) * (b[1] - o[1]) - (long)(a[1] - o[1]) * (b[0] - o[0]);
}

static int cmp_pt(const void *pa, const void *pb) {
    const int *a = pa, *b = pb;
    return a[0] != b[0] ? a[0] - b[0] : a[1] - b[1];
}

/* Andrew's monotone chain; returns the number of hull vertices (counter-clockwise). */
static int convex_hull(int *pts, int n, int *hull) {
    if (n < 3) {
        memcpy(hull, pts, (size_t)n * 2 * sizeof *pts);
        return n;
    }
    qsort(pts, (size_t)n, 2 * sizeof *pts, cmp_pt);
    int k = 0;
    for (int i = 0; i < n; i++) {
        while (k >= 2 && cross(&hull[2 * (k - 2)], &hull[2 * (k - 1)], &pts[2 * i]) <= 0) k--;
        memcpy(&hull[2 * k++], &pts[2 * i], 2 * sizeof *pts);
    }
    for (int i = n - 2, t = k + 1; i >= 0; i--) {
        while (k >= t && cross(&hull[2 * (k - 2)], &hull[2 * (k - 1)], &pts[2 * i]) <= 0) k--;
        memcpy(&hull[2 * k++], &pts[2 * i], 2 * sizeof *pts);
    }
    return k - 1;
}

static int in_hull(const int *h, int n, int x, int y) {
    if (n < 3) return 0;
    for (int i = 0; i < n; i++) {
        const int *a = &h[2 * i], *b = &h[2 * ((i + 1) % n)];
        int p[2] = {x, y};
        if (cross(a, b, p) < 0) return 0;
    }
    return 1;
}

/* Segments slice z; writes SP_BODY bits and the slice's statistics. */
static void segment_slice(sp_ctx *c, int z, roi *r, double wall) {
    int w = r->w, h = r->h;
    size_t np = (size_t)w * (size_t)h;
    int cxi = (int)lround(c->canal_x[z]);
    /* 1: bright bone in the allowed zone; then keep the components touching the midline */
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double a = ant_mm(c, z, r->y0 + y), lat = fabs((r->x0 + x - c->canal_x[z]) * c->sx);
            r->m[x + w * y] = r->s[x + w * y] > c->t_bone && a >= wall - 2 && a <= wall + 65 &&
                              lat <= ROI_LAT_MM - 5;
        }
    int npts = 0, band = (int)ceil(10.0 / c->sx);
    for (int y = 0; y < h; y++)
        for (int dx = -band; dx <= band; dx++) {
            int x = cxi - r->x0 + dx;
            if (x < 0 || x >= w) continue;
            size_t p0 = (size_t)x + (size_t)w * (size_t)y;
            double a = ant_mm(c, z, r->y0 + y);
            if (r->m[p0] != 1 || a > wall + 50) continue;
            int top = 0;
            r->stack[top++] = (int)p0;
            r->m[p0] = 2;
            while (top) {
                int p = r->stack[--top], px = p % w, py = p / w;
                r->pts[2 * npts] = px;
                r->pts[2 * npts + 1] = py;
                npts++;
                for (int ny = py - 1; ny <= py + 1; ny++)
                    for (int nx = px - 1; nx <= px + 1; nx++)
                        if (nx >= 0 && nx < w && ny >= 0 && ny < h && r->m[nx + w * ny] == 1) {
                            r->m[nx + w * ny] = 2;
                            r->stack[top++] = nx + w * ny;
                        }
            }
        }
    c->body_x[z] = c->body_y[z] = NAN;
    c->body_area[z] = c->body_halfw[z] = c->body_halfd[z] = 0;
    if (npts * c->sx * c->sy < 25) return;
    /* 2: hull, less soft tissue or fat connected to the hull's outside */
    int nh = convex_hull(r->pts, npts, r->hull);
    for (size_t i = 0; i < np; i++) r->m[i] = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            if (in_hull(r->hull, nh, x, y) && ant_mm(c, z, r->y0 + y) >= wall - 2) r->m[x + w * y] = 1;
    int top = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t p = (size_t)x + (size_t)w * (size_t)y;
            if (r->m[p] != 1 || r->s[p] >= c->t_soft) continue;
            int edge = x == 0 || y == 0 || x == w - 1 || y == h - 1 || !r->m[p - 1] ||
                       !r->m[p + 1] || !r->m[p - (size_t)w] || !r->m[p + (size_t)w];
            if (edge) {
                r->m[p] = 3;
                r->stack[top++] = (int)p;
            }
        }
    while (top) {
        int p = r->stack[--top], px = p % w, py = p / w;
        const int nb[4] = {px > 0 ? p - 1 : -1, px < w - 1 ? p + 1 : -1, py > 0 ? p - w : -1,
                           py < h - 1 ? p + w : -1};
        for (int k = 0; k < 4; k++)
            if (nb[k] >= 0 && r->m[nb[k]] == 1 && r->s[nb[k]] < c->t_soft) {
                r->m[nb[k]] = 3;
                r->stack[top++] = nb[k];
            }
    }
    double sx = 0, sy = 0;
    int n = 0, xmin = w, xmax = -1;
    double amin = 1e9, amax = -1e9;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            if (r->m[x + w * y] != 1) continue;
            c->cls[sp_idx(c, r->x0 + x, r->y0 + y, z)] |= SP_BODY;
            sx += r->x0 + x;
            sy += r->y0 + y;
            n++;
            if (x < xmin) xmin = x;
            if (x > xmax) xmax = x;
            double a = ant_mm(c, z, r->y0 + y);
            if (a < amin) amin = a;
            if (a > amax) amax = a;
        }
    if (!n) return;
    c->body_x[z] = sx / n;
    c->body_y[z] = sy / n;
    c->body_area[z] = n * c->sx * c->sy;
    c->body_halfw[z] = (xmax - xmin + 1) * c->sx / 2;
    c->body_halfd[z] = (amax - amin + c->sy) / 2;
}

/* The posterior wall lies a near-constant distance in front of the canal along a vertebra,
 * but at mid-height the basivertebral vein leaves it through a hole in the midline cortex,
 * and on coarse pixels an osteoporotic wall beside that hole stays below the bone
 * threshold: the walk from the canal then runs on through the body to bone 10-20 mm
 * further forward, and a body cut at that wall lost its back on those slices (a 25.6 mm
 * posterior height read 16.9 mm). The body is cut no further forward than the walls of the
 * slices around it allow. Only the body's cut: the rib and sacrum steps read the walls as
 * found (on the bench, holding those too mislabelled a study). */
#define WALL_WINDOW_MM 12.0
#define WALL_JUMP_MM 10.0
#define WALL_WINDOW_MAX 61 /* slices: ±12 mm at 0.4 mm spacing */
static double body_wall(const sp_ctx *c, int z) {
    double win[WALL_WINDOW_MAX];
    int k = (int)ceil(WALL_WINDOW_MM / c->sz), m = 0;
    if (2 * k + 1 > WALL_WINDOW_MAX) k = (WALL_WINDOW_MAX - 1) / 2;
    for (int zz = z - k; zz <= z + k; zz++)
        if (zz >= c->z_lo && zz <= c->z_hi) win[m++] = c->wall_a[zz];
    if (m < 3) return c->wall_a[z];
    qsort(win, (size_t)m, sizeof *win, sp_cmp_double);
    return fmin(c->wall_a[z], win[m / 2] + WALL_JUMP_MM);
}

/* Walls missing on a slice (disc levels, open rings) come from the nearest slices that had one. */
static void fill_walls(sp_ctx *c) {
    for (int z = c->z_lo; z <= c->z_hi; z++) {
        if (!isnan(c->wall_a[z])) continue;
        int lo = z - 1, hi = z + 1;
        while (lo >= c->z_lo && isnan(c->wall_a[lo])) lo--;
        while (hi <= c->z_hi && isnan(c->wall_a[hi])) hi++;
        double a = lo >= c->z_lo ? c->wall_a[lo] : NAN, b = hi <= c->z_hi ? c->wall_a[hi] : NAN;
        c->wall_a[z] = isnan(a) ? (isnan(b) ? 8.0 : b) : isnan(b) ? a : a + (b - a) * (z - lo) / (hi - lo);
    }
}

int sp_bodies_segment(sp_ctx *c, os_error *err) {
    roi r;
    memset(&r, 0, sizeof r);
    int maxw = 2 * (int)ceil(ROI_LAT_MM / c->sx) + 2, maxh = (int)ceil(ROI_ANT_MM / c->sy) + 2;
    size_t np = (size_t)maxw * (size_t)maxh;
    r.s = malloc(np * sizeof *r.s);
    r.m = malloc(np);
    r.stack = malloc(np * 9 * sizeof *r.stack);
    r.pts = malloc(np * 2 * sizeof *r.pts);
    r.hull = malloc((np + 1) * 2 * sizeof *r.hull);
    int rc = 0;
    if (!r.s || !r.m || !r.stack || !r.pts || !r.hull) {
        rc = os_error_set(err, -ENOMEM, "out of memory segmenting vertebral bodies");
        goto done;
    }
    for (int z = 0; z < c->nz; z++) {
        c->wall_a[z] = NAN;
        c->body_x[z] = c->body_y[z] = NAN;
    }
    for (int z = c->z_lo; z <= c->z_hi; z++) {
        set_roi(c, z, &r);
        c->wall_a[z] = r.w ? find_wall(c, z, &r) : NAN;
    }
    fill_walls(c);
    for (int z = c->z_lo; z <= c->z_hi; z++) {
        if (sp_cancelled(c)) {
            rc = os_error_set(err, -ECANCELED, "cancelled");
            goto done;
        }
        set_roi(c, z, &r);
        if (r.w) segment_slice(c, z, &r, body_wall(c, z));
    }
done:
    free(r.s);
    free(r.m);
    free(r.stack);
    free(r.pts);
    free(r.hull);
    return rc;
}
