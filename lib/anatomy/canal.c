/* The spinal canal, slice by slice: a low-density hole enclosed by bone (body in front,
 * pedicles and laminae around) with a vertebral body in front of it. Candidates are chained
 * along z by dynamic programming so that stray holes (bowel ringed by contrast, the inside of
 * an osteoporotic body) cannot pull the track away; slices where the ring is open (discs,
 * foramina) are bridged by interpolation. The canal anchors everything that follows: it is
 * the one structure that is unmistakable on every vertebra, whatever the bone density. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "spine_internal.h"

#define MAX_CAND 8

typedef struct cand {
    double x, y; /* full-resolution voxel coordinates */
    double score;
    double area_mm2;
} cand;

typedef struct grid {
    int k, w, h;        /* downsampling factor and size */
    double px, py;      /* mm per grid pixel */
    int16_t *d;         /* smoothed HU */
    uint8_t *m;         /* 0 free, 1 bone, 2 outside */
    int *stack;
    int made_z;         /* the slice d holds (-1: none): one slice is looked at up to 3 times */
} grid;

static void make_grid(const sp_ctx *c, int z, grid *g) {
    if (g->made_z == z) return;
    g->made_z = z;
    if (g->k == 1) {
        sp_smooth_slice(c, z, g->d);
        return;
    }
    const int16_t *s = c->vol->hu + c->plane * (size_t)z;
    int k = g->k;
    int *row = g->stack; /* free between searches, and far longer than one grid row */
    for (int y = 0; y < g->h; y++) {
        memset(row, 0, (size_t)g->w * sizeof *row);
        for (int dy = 0; dy < k; dy++) {
            const int16_t *line = s + (size_t)c->nx * (size_t)(y * k + dy);
            for (int x = 0; x < g->w; x++)
                for (int dx = 0; dx < k; dx++) row[x] += line[x * k + dx];
        }
        for (int x = 0; x < g->w; x++) g->d[x + g->w * y] = (int16_t)(row[x] / (k * k));
    }
}

/* Marks the background reachable from the border through non-bone (4-connected). */
static void fill_outside(grid *g) {
    int w = g->w, h = g->h, top = 0;
    for (int x = 0; x < w; x++) {
        g->stack[top++] = x;
        g->stack[top++] = x + w * (h - 1);
    }
    for (int y = 0; y < h; y++) {
        g->stack[top++] = w * y;
        g->stack[top++] = w - 1 + w * y;
    }
    while (top) {
        int p = g->stack[--top];
        if (g->m[p]) continue;
        g->m[p] = 2;
        int x = p % w, y = p / w;
        if (x > 0 && !g->m[p - 1]) g->stack[top++] = p - 1;
        if (x < w - 1 && !g->m[p + 1]) g->stack[top++] = p + 1;
        if (y > 0 && !g->m[p - w]) g->stack[top++] = p - w;
        if (y < h - 1 && !g->m[p + w]) g->stack[top++] = p + w;
    }
}

/* Walks anterior from the hole: a vertebral body must follow (a bony front 12–60 mm deep,
 * filled with tissue denser than fat). */
static int body_in_front(const sp_ctx *c, const grid *g, int x, int y) {
    int step = -c->ypost, wall = -1, last = -1, n = 0, dense = 0;
    double max_mm = 75;
    for (int yy = y, i = 0; yy >= 0 && yy < g->h && i * g->py < max_mm; yy += step, i++) {
        int v = g->d[x + g->w * yy];
        int bone = v > c->t_bone;
        if (wall < 0) {
            if (bone) wall = i;
            else if (i * g->py > 25) return 0;
            continue;
        }
        if ((i - wall) * g->py > 60) break;
        n++;
        if (v > c->t_soft) dense++;
        if (bone) last = i;
        else if (v < -40 && (i - wall) * g->py > 8) break; /* fat in front of the body */
    }
    if (wall < 0 || last < 0) return 0;
    double depth = (last - wall) * g->py;
    return depth >= 12 && depth <= 60 && n > 0 && dense >= 0.75 * n;
}

/* Grows the bone by one grid pixel (3×3), so a ring broken by a pixel or two of noise or
 * partial volume (thin laminae, thick slices that catch the ring over part of their
 * thickness) still encloses its canal; the foramina and the disc levels, many millimetres
 * open, stay open. The hole shrinks by that pixel all round, its centre stays. */
static void close_gaps(grid *g) {
    int w = g->w, h = g->h;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            if (g->m[x + w * y] != 1) continue;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int xx = x + dx, yy = y + dy;
                    if (xx >= 0 && yy >= 0 && xx < w && yy < h && !g->m[xx + w * yy]) g->m[xx + w * yy] = 4;
                }
        }
    for (int i = 0; i < w * h; i++)
        if (g->m[i] == 4) g->m[i] = 1;
}

/* CSF and epidural fat keep a canal's mean near water (up to about 60 HU where a thick slice
 * blurs its bony ring into it), while the inside of an osteoporotic body is marrow at 60-110
 * HU and, ringed by its cortex, is a hole too. A dense hole stays a candidate, but costs the
 * chain more than a few skipped slices, so that where a slice offers both the body's hole
 * and the canal behind it, the chain keeps to the canal. */
#define DENSE_HOLE_FROM 50.0
#define DENSE_HOLE_TO 100.0
#define DENSE_HOLE_COST 0.8
static double dense_share(double hu) {
    double t = (hu - DENSE_HOLE_FROM) / (DENSE_HOLE_TO - DENSE_HOLE_FROM);
    return t < 0 ? 0 : t > 1 ? 1 : t;
}

static int find_candidates(const sp_ctx *c, grid *g, int z, int thr, int close, cand *out) {
    int w = g->w, h = g->h, n = 0;
    size_t np = (size_t)w * (size_t)h;
    make_grid(c, z, g);
    for (size_t i = 0; i < np; i++) g->m[i] = g->d[i] > thr;
    if (close) close_gaps(g);
    fill_outside(g);
    double pix_mm2 = g->px * g->py;
    for (size_t p0 = 0; p0 < np && n < MAX_CAND; p0++) {
        if (g->m[p0]) continue;
        /* one hole: grow it, gather its size, centre, density and extent */
        int top = 0, area = 0, x0 = w, x1 = -1, y0 = h, y1 = -1;
        double sx = 0, sy = 0, shu = 0;
        g->stack[top++] = (int)p0;
        g->m[p0] = 3;
        while (top) {
            int p = g->stack[--top];
            int x = p % w, y = p / w;
            area++;
            sx += x;
            sy += y;
            shu += g->d[p];
            if (x < x0) x0 = x;
            if (x > x1) x1 = x;
            if (y < y0) y0 = y;
            if (y > y1) y1 = y;
            const int nb[4] = {x > 0 ? p - 1 : -1, x < w - 1 ? p + 1 : -1, y > 0 ? p - w : -1,
                               y < h - 1 ? p + w : -1};
            for (int k = 0; k < 4; k++)
                if (nb[k] >= 0 && !g->m[nb[k]]) {
                    g->m[nb[k]] = 3;
                    g->stack[top++] = nb[k];
                }
        }
        double a_mm2 = area * pix_mm2, wmm = (x1 - x0 + 1) * g->px, hmm = (y1 - y0 + 1) * g->py;
        double hu = shu / area;
        if (a_mm2 < 35 || a_mm2 > 900 || wmm < 5 || hmm < 4 || wmm > 40 || hmm > 35) continue;
        if (wmm > 3.5 * hmm || hmm > 3 * wmm) continue;
        if (hu < -90 || hu > 110) continue;
        int cxg = (int)lround(sx / area), cyg = (int)lround(sy / area);
        if (!body_in_front(c, g, cxg, cyg)) continue;
        out[n].x = (sx / area + 0.5) * g->k - 0.5;
        out[n].y = (sy / area + 0.5) * g->k - 0.5;
        out[n].score = 1.0 + (a_mm2 > 120 ? 0.3 : 0.0) - DENSE_HOLE_COST * dense_share(hu);
        out[n].area_mm2 = a_mm2;
        n++;
    }
    return n;
}

/* Best chain of candidates along z: each link may skip slices (open rings) for a small
 * price, and must move in-plane no more than the spine's curvature allows. */
static int chain(sp_ctx *c, cand (*cd)[MAX_CAND], const int *nc) {
    int nz = c->nz, gap = (int)(45.0 / c->sz) + 1;
    double *best = malloc((size_t)nz * MAX_CAND * sizeof *best);
    int *prev = malloc((size_t)nz * MAX_CAND * sizeof *prev);
    if (!best || !prev) {
        free(best);
        free(prev);
        return -ENOMEM;
    }
    double top = -1;
    int top_at = -1;
    for (int z = 0; z < nz; z++)
        for (int i = 0; i < nc[z]; i++) {
            int id = z * MAX_CAND + i;
            best[id] = cd[z][i].score;
            prev[id] = -1;
            for (int zz = z - 1; zz >= 0 && zz >= z - gap; zz--) {
                double dz = (z - zz) * c->sz;
                for (int j = 0; j < nc[zz]; j++) {
                    double dx = (cd[z][i].x - cd[zz][j].x) * c->sx, dy = (cd[z][i].y - cd[zz][j].y) * c->sy;
                    double d = sqrt(dx * dx + dy * dy), lim = 5 + 0.6 * dz;
                    if (d > lim) continue;
                    double r = d / (3 + 0.3 * dz);
                    double v = best[zz * MAX_CAND + j] + cd[z][i].score - 0.3 * r * r -
                               0.05 * (z - zz - 1);
                    if (v > best[id]) {
                        best[id] = v;
                        prev[id] = zz * MAX_CAND + j;
                    }
                }
            }
            if (best[id] > top) {
                top = best[id];
                top_at = id;
            }
        }
    int n = 0, zmax = -1, zmin = nz;
    for (int id = top_at; id >= 0; id = prev[id]) {
        int z = id / MAX_CAND, i = id % MAX_CAND;
        c->canal_x[z] = cd[z][i].x;
        c->canal_y[z] = cd[z][i].y;
        c->canal_seen[z] = 1;
        if (z > zmax) zmax = z;
        if (z < zmin) zmin = z;
        n++;
    }
    free(best);
    free(prev);
    c->z_lo = zmin;
    c->z_hi = zmax;
    return n;
}

/* The canal keeps its size from vertebra to vertebra (the lumbar one is about 1.5 times the
 * thoracic one), while the inside of an osteoporotic body, no denser than soft tissue and
 * ringed by its cortex, is a hole 3-5 times as large; with a bright aorta in front it passes
 * for a canal with a body in front. Where the chain took such holes, they are dropped and
 * the chain is found again. */
#define CANAL_AREA_RATIO 2.2
static int drop_oversized(sp_ctx *c, cand (*cd)[MAX_CAND], int *nc, int n) {
    double *areas = malloc((size_t)n * sizeof *areas);
    if (!areas) return n;
    int k = 0;
    for (int z = 0; z < c->nz && k < n; z++)
        if (c->canal_seen[z])
            for (int i = 0; i < nc[z]; i++)
                if (cd[z][i].x == c->canal_x[z] && cd[z][i].y == c->canal_y[z]) areas[k++] = cd[z][i].area_mm2;
    if (k == 0) {
        free(areas);
        return n;
    }
    qsort(areas, (size_t)k, sizeof *areas, sp_cmp_double);
    double limit = CANAL_AREA_RATIO * areas[k / 2];
    int oversized = areas[k - 1] > limit;
    free(areas);
    if (!oversized) return n;
    for (int z = 0; z < c->nz; z++) {
        int m = 0;
        for (int i = 0; i < nc[z]; i++)
            if (cd[z][i].area_mm2 <= limit) cd[z][m++] = cd[z][i];
        nc[z] = m;
        c->canal_seen[z] = 0;
        c->canal_x[z] = c->canal_y[z] = 0;
    }
    return chain(c, cd, nc);
}

/* Distance (mm) from grid pixel (x, y) along (dx, dy), each -1, 0 or 1, to the first pixel
 * brighter than thr within RAY_MM; -1 where there is none. */
#define RAY_MM 22.0
static double ray_dist(const grid *g, int x, int y, int dx, int dy, int thr) {
    double step = sqrt(dx * dx * g->px * g->px + dy * dy * g->py * g->py);
    for (int i = 1; i * step <= RAY_MM; i++) {
        int xx = x + i * dx, yy = y + i * dy;
        if (xx < 0 || yy < 0 || xx >= g->w || yy >= g->h) break;
        if (g->d[xx + g->w * yy] > thr) return i * step;
    }
    return -1;
}

/* How many of 8 rays from grid pixel (x, y) meet bone; *ant: the anterior one. */
static int ray_hits(const sp_ctx *c, const grid *g, int x, int y, int thr, int *ant) {
    int hits = 0;
    *ant = 0;
    for (int dy = -1; dy <= 1; dy++)
        for (int dx = -1; dx <= 1; dx++) {
            if (!dx && !dy) continue;
            int hit = ray_dist(g, x, y, dx, dy, thr) > 0;
            hits += hit;
            if (hit && dx == 0 && dy == -c->ypost) *ant = 1;
        }
    return hits;
}

/* How far (mm) grid pixel (x, y) lies from the middle of the walls around it: the body's back
 * and the laminae in front and behind, the pedicles either side. An axis counts only where
 * both walls are met at a canal's width apart (open at a foramen or a disc, it says nothing). */
#define WALLS_MIN_MM 8.0
#define WALLS_AP_MAX_MM 30.0
#define WALLS_LR_MAX_MM 35.0
static double off_centre(const sp_ctx *c, const grid *g, int x, int y, int thr) {
    double a = ray_dist(g, x, y, 0, -c->ypost, thr), p = ray_dist(g, x, y, 0, c->ypost, thr);
    double l = ray_dist(g, x, y, -1, 0, thr), r = ray_dist(g, x, y, 1, 0, thr);
    double oy = a > 0 && p > 0 && a + p >= WALLS_MIN_MM && a + p <= WALLS_AP_MAX_MM ? (a - p) / 2 : 0;
    double ox = l > 0 && r > 0 && l + r >= WALLS_MIN_MM && l + r <= WALLS_LR_MAX_MM ? (l - r) / 2 : 0;
    return hypot(ox, oy);
}

/* Beyond the ends of the chain the ring is often open on every slice for a vertebra or more
 * (foramina, thick slices that average the pedicles with the discs, the sacral canal). There
 * the canal is followed from its last position: a soft-tissue spot near it, with bone in
 * front (the body) and around it on most sides, though not enclosing it, and midway between
 * the walls it does have. Ray counts alone tie across the canal and tip towards the body's
 * back, where the next slice's search starts: the track then drifts forward a few mm a slice,
 * and the pedicle box in front of it lands on the back of the body, whose cortex it counts
 * as pedicles. */
static void extend_end(sp_ctx *c, grid *g, int thr, int zstep, int dir) {
    int from = dir > 0 ? c->z_hi : c->z_lo;
    double x = c->canal_x[from], y = c->canal_y[from];
    int miss = 0, max_miss = (int)(45.0 / (c->sz * zstep)) + 1;
    for (int z = from + dir * zstep; z >= 0 && z < c->nz && miss <= max_miss; z += dir * zstep) {
        make_grid(c, z, g);
        double rad = 4 + 0.5 * (miss + 1) * zstep * c->sz;
        double gx0 = (x + 0.5) / g->k - 0.5, gy0 = (y + 0.5) / g->k - 0.5;
        int rx = (int)ceil(rad / g->px), ry = (int)ceil(rad / g->py);
        double best = -1e9;
        int bx = -1, by = -1;
        for (int gy = (int)lround(gy0) - ry; gy <= (int)lround(gy0) + ry; gy++)
            for (int gx = (int)lround(gx0) - rx; gx <= (int)lround(gx0) + rx; gx++) {
                if (gx < 0 || gy < 0 || gx >= g->w || gy >= g->h) continue;
                double d = hypot((gx - gx0) * g->px, (gy - gy0) * g->py);
                int v = g->d[gx + g->w * gy], ant;
                if (d > rad || v < -90 || v > 110) continue;
                int h = ray_hits(c, g, gx, gy, thr, &ant);
                if (!ant || h < 6) continue;
                /* a dense spot (marrow) costs as much as one ray that met no bone, and a mm off
                 * the middle of the walls as much as a mm moved */
                double sc = 10.0 * h - d - off_centre(c, g, gx, gy, thr) - 10.0 * dense_share(v);
                if (sc > best && body_in_front(c, g, gx, gy)) {
                    best = sc;
                    bx = gx;
                    by = gy;
                }
            }
        if (bx < 0) {
            miss++;
            continue;
        }
        miss = 0;
        x = (bx + 0.5) * g->k - 0.5;
        y = (by + 0.5) * g->k - 0.5;
        c->canal_x[z] = x;
        c->canal_y[z] = y;
        c->canal_seen[z] = 1;
        if (z > c->z_hi) c->z_hi = z;
        if (z < c->z_lo) c->z_lo = z;
    }
}

/* Between seen slices: linear; beyond the ends: held, for as far as a vertebra reaches. */
static void bridge(sp_ctx *c) {
    int last = -1;
    for (int z = c->z_lo; z <= c->z_hi; z++) {
        if (!c->canal_seen[z]) continue;
        if (last >= 0 && z - last > 1)
            for (int k = last + 1; k < z; k++) {
                double t = (double)(k - last) / (z - last);
                c->canal_x[k] = c->canal_x[last] + t * (c->canal_x[z] - c->canal_x[last]);
                c->canal_y[k] = c->canal_y[last] + t * (c->canal_y[z] - c->canal_y[last]);
            }
        last = z;
    }
    int reach = (int)(25.0 / c->sz);
    int lo = c->z_lo - reach < 0 ? 0 : c->z_lo - reach;
    int hi = c->z_hi + reach >= c->nz ? c->nz - 1 : c->z_hi + reach;
    for (int z = lo; z < c->z_lo; z++) {
        c->canal_x[z] = c->canal_x[c->z_lo];
        c->canal_y[z] = c->canal_y[c->z_lo];
    }
    for (int z = c->z_hi + 1; z <= hi; z++) {
        c->canal_x[z] = c->canal_x[c->z_hi];
        c->canal_y[z] = c->canal_y[c->z_hi];
    }
    c->z_lo = lo;
    c->z_hi = hi;
}

int sp_canal_track(sp_ctx *c, os_error *err) {
    grid g;
    memset(&g, 0, sizeof g);
    g.made_z = -1;
    double pmin = c->sx < c->sy ? c->sx : c->sy;
    /* ~2 mm pixels are plenty to see a 10–20 mm canal, and keep this step cheap */
    g.k = (int)lround(2.0 / pmin);
    if (g.k < 1) g.k = 1;
    g.w = c->nx / g.k;
    g.h = c->ny / g.k;
    g.px = c->sx * g.k;
    g.py = c->sy * g.k;
    size_t np = (size_t)g.w * (size_t)g.h;
    g.d = malloc(np * sizeof *g.d);
    g.m = malloc(np);
    g.stack = malloc(np * 4 * sizeof *g.stack);
    cand(*cd)[MAX_CAND] = malloc((size_t)c->nz * sizeof *cd);
    int *nc = calloc((size_t)c->nz, sizeof *nc);
    int rc = 0;
    if (!g.d || !g.m || !g.stack || !cd || !nc) {
        rc = os_error_set(err, -ENOMEM, "out of memory tracking the spinal canal");
        goto done;
    }
    /* thin slices: every ~2 mm is enough, the chain bridges the rest */
    double tr = 60 + 3 * c->den_sd;
    int t_ring = (int)(tr < 120 ? 120 : tr > c->t_bone ? c->t_bone : tr);
    int zstep = (int)lround(2.0 / c->sz);
    if (zstep < 1) zstep = 1;
    for (int z = 0; z < c->nz; z += zstep) {
        if (sp_cancelled(c)) {
            rc = os_error_set(err, -ECANCELED, "cancelled");
            goto done;
        }
        nc[z] = find_candidates(c, &g, z, c->t_bone, 0, cd[z]);
        /* Thin laminae and pedicles (partial volume on coarse pixels or thick slices, noise
         * on fine ones) fall below the bright-bone threshold in places, and the ring opens.
         * Around the canal (CSF, epidural fat) any tissue a few noise SDs above soft tissue
         * is bone, so retry the ring at that, then with gaps of a pixel closed. */
        if (!nc[z] && t_ring < c->t_bone) nc[z] = find_candidates(c, &g, z, t_ring, 0, cd[z]);
        if (!nc[z]) nc[z] = find_candidates(c, &g, z, t_ring, 1, cd[z]);
    }
    int n = chain(c, cd, nc);
    if (n > 0) n = drop_oversized(c, cd, nc, n);
    if (n < 0) {
        rc = os_error_set(err, -ENOMEM, "out of memory tracking the spinal canal");
        goto done;
    }
    if (n < 2 && c->nz > 2) {
        rc = 1;
        goto done;
    }
    extend_end(c, &g, t_ring, zstep, +1);
    extend_end(c, &g, t_ring, zstep, -1);
    bridge(c);
done:
    free(g.d);
    free(g.m);
    free(g.stack);
    free(cd);
    free(nc);
    return rc;
}
