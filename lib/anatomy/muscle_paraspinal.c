/* Psoas, erector spinae and quadratus lumborum: the muscles that lie against the spine. Each
 * grows from seeds placed where that muscle always is relative to the vertebral body (psoas
 * against its lateral surface, erector either side of the spinous process behind the laminae,
 * QL lateral to the transverse process tips), through muscle-density tissue only, inside a
 * region it may not leave; the three grow at once so each contested pixel goes to the nearest
 * seed. Bowel, kidney or vessels of muscle density are only reached when they touch a muscle
 * inside its region, and fat planes stop the growth everywhere else. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "muscle_internal.h"

#define SKIN_MM 3.0    /* skin and the dermis: muscle density, never muscle */
#define BONE_HU 200    /* smoothed: cortex and posterior elements */
#define BONE_PAD_MM 1.5

typedef struct zone {
    double vmin, vmax, umin, umax, geo_mm;
} zone;

static int in_zone(const zone *z, double u, double v) {
    double au = fabs(u);
    return v >= z->vmin && v <= z->vmax && au >= z->umin && au <= z->umax;
}

static void zones(const ms_ctx *c, zone zs[4]) {
    double hw = c->fr.hw, hd = c->fr.hd;
    /* psoas arises at T12–L1 and thickens down to L4–L5; quadratus lumborum hangs from the
     * 12th rib: how far each may reach follows the level, which keeps the liver, spleen and
     * kidneys (muscle-dense, lying on both at the upper levels) out of them */
    static const double ps_reach[OS_LEVEL_COUNT] = {8, 10, 16, 28, 40, 52, 62, 70, 70};
    static const double ql_reach[OS_LEVEL_COUNT] = {0, 0, 18, 30, 40, 45, 45, 35, 20};
    int lv = c->fr.level;
    double ps = lv >= 0 && lv < OS_LEVEL_COUNT ? ps_reach[lv] : 45;
    double ql = lv >= 0 && lv < OS_LEVEL_COUNT ? ql_reach[lv] : 40;
    zs[OS_TISSUE_PSOAS] = (zone){-hd - 25, hd + 8, 0.3 * hw, hw + 12 + ps, ps + 10};
    zs[OS_TISSUE_ERECTOR] = (zone){hd + 3, hd + 112, 0, hw + 75, 120};
    zs[OS_TISSUE_QL] = (zone){hd - 10, hd + 35, hw + 8, hw + 55 + ql, ql};
}

/* Seeds: muscle-density pixels in a small area each muscle is certain to occupy. */
static int seed_of(const ms_ctx *c, double u, double v, double dist_body) {
    double hw = c->fr.hw, hd = c->fr.hd, au = fabs(u);
    if (dist_body >= 2 && dist_body <= 8 && fabs(v) < 0.6 * hd && au > 0.6 * hw) return OS_TISSUE_PSOAS;
    /* behind the transverse processes, from beside the spinous process out to about the
     * width of the body again: multifidus medially, longissimus and iliocostalis laterally.
     * Seeding all of it matters: thin fat septa part them, and growth does not cross fat. */
    if (au >= 8 && au <= fmin(hw + 25, 50) && v >= hd + 22 && v <= hd + 42) return OS_TISSUE_ERECTOR;
    if (au >= hw + 35 && au <= hw + 55 && v >= hd - 2 && v <= hd + 14) return OS_TISSUE_QL;
    return 0;
}

static int cmp_i16(const void *a, const void *b) {
    return *(const int16_t *)a - *(const int16_t *)b;
}

/* Median smoothed HU of the seeds plus a margin for noise and for muscle's own spread (an
 * enhanced liver or kidney lies above it); never above the published 150 HU. */
static int muscle_ceiling(ms_ctx *c, const int *seeds, int n) {
    c->muscle_ref = 45; /* typical, when the seeds are too few to say */
    if (n < 10) return OS_MUSCLE_HU_MAX;
    int16_t *v = (int16_t *)c->ftmp; /* free here: the distance scratch is not in use */
    int cap = 2 * (3 * (c->nx > c->ny ? c->nx : c->ny) + 4); /* int16s that fit in ftmp */
    int m = n < cap ? n : cap, stride = n / m;
    for (int i = 0; i < m; i++) v[i] = c->sm[seeds[i * stride]];
    qsort(v, (size_t)m, sizeof *v, cmp_i16);
    c->muscle_ref = v[m / 2];
    int hi = v[m / 2] + 40;
    return hi < OS_MUSCLE_HU_MAX ? hi : OS_MUSCLE_HU_MAX;
}

/* Pixel rectangle holding |u| <= ext_u, v0 <= v <= v1, clipped to the image. */
static void uv_rect(const ms_ctx *c, double ext_u, double v0, double v1, ms_rect *r) {
    *r = (ms_rect){c->nx, c->ny, 0, 0};
    for (int k = 0; k < 4; k++) {
        double u = (k & 1) ? ext_u : -ext_u, v = (k & 2) ? v1 : v0;
        /* (u, v) back to pixels: the frame is a rotation in mm space */
        double dx = -u * c->fr.ay - v * c->fr.ax, dy = u * c->fr.ax - v * c->fr.ay;
        int x = (int)floor(c->fr.cx + dx / c->sx), y = (int)floor(c->fr.cy + dy / c->sy);
        if (x < r->x0) r->x0 = x;
        if (y < r->y0) r->y0 = y;
        if (x + 2 > r->x1) r->x1 = x + 2;
        if (y + 2 > r->y1) r->y1 = y + 2;
    }
    if (r->x0 < 0) r->x0 = 0;
    if (r->y0 < 0) r->y0 = 0;
    if (r->x1 > c->nx) r->x1 = c->nx;
    if (r->y1 > c->ny) r->y1 = c->ny;
}

/* Rectangle around the spine that holds all three zones. */
void ms_paraspinal_rect(const ms_ctx *c, ms_rect *r) {
    uv_rect(c, c->fr.hw + 100, -c->fr.hd - 30, c->fr.hd + 115, r);
}

/* The bounding box of label k in comp within r, grown by m mm; 0 when k is absent. */
static int label_box(const ms_ctx *c, int k, const ms_rect *r, double m, ms_rect *b) {
    *b = (ms_rect){r->x1, r->y1, r->x0, r->y0};
    for (int y = r->y0; y < r->y1; y++)
        for (int x = r->x0; x < r->x1; x++)
            if (c->comp[(size_t)y * c->nx + x] == k) {
                if (x < b->x0) b->x0 = x;
                if (y < b->y0) b->y0 = y;
                if (x >= b->x1) b->x1 = x + 1;
                if (y >= b->y1) b->y1 = y + 1;
            }
    if (b->x1 <= b->x0) return 0;
    int mx = (int)ceil(m / c->sx) + 1, my = (int)ceil(m / c->sy) + 1;
    b->x0 = b->x0 - mx > r->x0 ? b->x0 - mx : r->x0;
    b->y0 = b->y0 - my > r->y0 ? b->y0 - my : r->y0;
    b->x1 = b->x1 + mx < r->x1 ? b->x1 + mx : r->x1;
    b->y1 = b->y1 + my < r->y1 ? b->y1 + my : r->y1;
    return 1;
}

/* A quadratus lumborum that was stopped by the edge of its region along more than 20 mm
 * did not end in fat: it ran on into liver, spleen or kidney (QL is thin and ends in fat or
 * the posterior wall), so that side's QL is not trusted at all. */
static void drop_leaks(ms_ctx *c, const ms_rect *r, const uint8_t *blocked) {
    double len[2] = {0, 0}, px = sqrt(c->sx * c->sy);
    for (int y = r->y0; y < r->y1; y++)
        for (int x = r->x0; x < r->x1; x++) {
            size_t p = (size_t)y * c->nx + x;
            if (blocked[p] != OS_TISSUE_QL || c->comp[p]) continue;
            double u, v;
            ms_uv(c, x, y, &u, &v);
            len[u > 0] += px;
        }
    for (int side = 0; side < 2; side++) {
        if (len[side] <= 20) continue;
        for (int y = r->y0; y < r->y1; y++)
            for (int x = r->x0; x < r->x1; x++) {
                size_t p = (size_t)y * c->nx + x;
                if (c->comp[p] != OS_TISSUE_QL) continue;
                double u, v;
                ms_uv(c, x, y, &u, &v);
                if ((u > 0) == side) c->comp[p] = 0;
            }
    }
}

/* The pixels a muscle's edge with fat or bone crosses are muscle when more than half of them
 * is (raw HU in the muscle range, as the published thresholds count them); the smoothed copy
 * the growth ran on reads them as fat or bone (which is what tells them from the edge of a
 * kidney or bowel loop lying on the muscle) and leaves them out, a loss that grows with the
 * pixel. */
static void edge_pixels(ms_ctx *c, const ms_rect *r, const uint8_t *vb, const uint8_t *bone) {
    double pv_mm = fmax(c->sx, c->sy);
    for (int k = OS_TISSUE_PSOAS; k <= OS_TISSUE_QL; k++) {
        uint8_t *m = c->t1, *ring = c->t3;
        ms_rect b;
        if (!label_box(c, k, r, pv_mm, &b)) continue;
        for (int y = b.y0; y < b.y1; y++)
            for (int x = b.x0; x < b.x1; x++) {
                size_t p = (size_t)y * c->nx + x;
                m[p] = c->comp[p] == k;
            }
        ms_dilate(c, m, ring, pv_mm, &b);
        for (int y = b.y0; y < b.y1; y++)
            for (int x = b.x0; x < b.x1; x++) {
                size_t p = (size_t)y * c->nx + x;
                if (ring[p] && !c->comp[p] && c->body[p] && !(vb && vb[p]) && ms_is_muscle(c->hu[p]) &&
                    (c->sm[p] < OS_MUSCLE_HU_MIN || bone[p]))
                    c->comp[p] = (uint8_t)k;
            }
    }
}

/* The vertebral body on this slice: its mask, or where the mask holds under half of the
 * body's cross-section, the body's ellipse from the spine frame. On a disc, and on a slice
 * where an osteoporotic body's cortex fell under the bone threshold (trabecular bone of
 * 80 HU on 3 mm pixels), the mask is a sliver or nothing; the psoas seeds, placed a few mm
 * from the body's side, then landed against that sliver inside the body, and the psoas at
 * L3 was missed (muscle area 12.6 % short), while the body's inside, of muscle density,
 * was open to the growth. NULL without body masks at all. */
#define BODY_MASK_SHARE 0.5
static const uint8_t *vertebral_body(ms_ctx *c) {
    if (!c->a->body_mask) return NULL;
    const uint8_t *bm = c->a->body_mask + c->plane * (size_t)c->z;
    ms_rect r;
    uv_rect(c, c->fr.hw + 12, -c->fr.hd - 12, c->fr.hd + 12, &r);
    long n = 0;
    for (int y = r.y0; y < r.y1; y++)
        for (int x = r.x0; x < r.x1; x++) n += bm[(size_t)y * c->nx + x] != 0;
    double ellipse_mm2 = M_PI * c->fr.hw * c->fr.hd;
    if (n * c->sx * c->sy >= BODY_MASK_SHARE * ellipse_mm2) return bm;
    memcpy(c->vbody, bm, c->plane);
    for (int y = r.y0; y < r.y1; y++)
        for (int x = r.x0; x < r.x1; x++) {
            double u, v;
            ms_uv(c, x, y, &u, &v);
            if ((u / c->fr.hw) * (u / c->fr.hw) + (v / c->fr.hd) * (v / c->fr.hd) <= 1)
                c->vbody[(size_t)y * c->nx + x] = 1;
        }
    return c->vbody;
}

void ms_paraspinal(ms_ctx *c) {
    zone zs[4];
    zones(c, zs);
    ms_rect r;
    ms_paraspinal_rect(c, &r);
    if (r.x0 < c->roi.x0) r.x0 = c->roi.x0;
    if (r.y0 < c->roi.y0) r.y0 = c->roi.y0;
    if (r.x1 > c->roi.x1) r.x1 = c->roi.x1;
    if (r.y1 > c->roi.y1) r.y1 = c->roi.y1;
    if (r.x1 - r.x0 < 8 || r.y1 - r.y0 < 8) return;

    /* candidates: muscle density, inside the skin, away from bone */
    uint8_t *cand = c->t1, *bone = c->t2;
    const uint8_t *vb = vertebral_body(c);
    for (int y = r.y0; y < r.y1; y++)
        for (int x = r.x0; x < r.x1; x++) {
            size_t p = (size_t)y * c->nx + x;
            bone[p] = c->sm[p] > BONE_HU || (vb && vb[p]);
        }
    ms_dilate(c, bone, bone, BONE_PAD_MM, &r);
    ms_dist2(c, c->body, 0, &r, c->d2);
    for (int y = r.y0; y < r.y1; y++)
        for (int x = r.x0; x < r.x1; x++) {
            size_t p = (size_t)y * c->nx + x;
            cand[p] = c->body[p] && !bone[p] && ms_is_muscle(c->sm[p]) && c->d2[p] > SKIN_MM * SKIN_MM;
        }
    /* distance from the vertebral body, for the psoas seeds */
    ms_rect rb;
    uv_rect(c, c->fr.hw + 12, -c->fr.hd - 12, c->fr.hd + 12, &rb);
    if (vb && rb.x1 > rb.x0 && rb.y1 > rb.y0) {
        for (int y = rb.y0; y < rb.y1; y++)
            for (int x = rb.x0; x < rb.x1; x++) {
                size_t p = (size_t)y * c->nx + x;
                c->t3[p] = vb[p] != 0;
            }
        ms_dist2(c, c->t3, 1, &rb, c->d2);
    }

    int *q = c->queue, n = 0;
    float *geo = c->d2; /* reused: geodesic length walked, mm */
    for (int y = r.y0; y < r.y1; y++)
        for (int x = r.x0; x < r.x1; x++) {
            size_t p = (size_t)y * c->nx + x;
            if (!cand[p] || c->comp[p]) continue;
            double u, v;
            ms_uv(c, x, y, &u, &v);
            int in_rb = x >= rb.x0 && x < rb.x1 && y >= rb.y0 && y < rb.y1;
            double db = vb ? (in_rb ? sqrt(c->d2[p]) : 1e9) : fabs(fabs(u) - c->fr.hw);
            int k = seed_of(c, u, v, db);
            if (k && zs[k].geo_mm > 0 && in_zone(&zs[k], u, v)) {
                c->comp[p] = (uint8_t)k;
                q[n++] = (int)p;
            }
        }
    for (int i = 0; i < n; i++) geo[q[i]] = 0;
    /* Muscle is muscle-dense but no denser than its own seeds allow: an enhanced kidney, liver
     * or bowel wall touching a muscle stays out. Unenhanced organs can only be kept out by the
     * zones and by fat planes. */
    int hi = muscle_ceiling(c, q, n), kept = 0;
    for (int y = r.y0; y < r.y1; y++)
        for (int x = r.x0; x < r.x1; x++) {
            size_t p = (size_t)y * c->nx + x;
            if (cand[p] && c->sm[p] > hi) cand[p] = 0;
        }
    for (int i = 0; i < n; i++) {
        if (cand[q[i]]) q[kept++] = q[i];
        else c->comp[q[i]] = 0;
    }
    n = kept;
    uint8_t *blocked = c->t3; /* where a muscle was stopped by its region, not by fat */
    for (int y = r.y0; y < r.y1; y++) memset(blocked + (size_t)y * c->nx + r.x0, 0, (size_t)(r.x1 - r.x0));
    double step[3][3];
    for (int dy = -1; dy <= 1; dy++)
        for (int dx = -1; dx <= 1; dx++) step[dy + 1][dx + 1] = hypot(dx * c->sx, dy * c->sy);
    for (int i = 0; i < n; i++) {
        int p = q[i], x = p % c->nx, y = p / c->nx, k = c->comp[p];
        for (int dy = -1; dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++) {
                int xx = x + dx, yy = y + dy;
                if (xx < r.x0 || yy < r.y0 || xx >= r.x1 || yy >= r.y1) continue;
                size_t pp = (size_t)yy * c->nx + xx;
                if (!cand[pp] || c->comp[pp]) continue;
                float g = geo[p] + (float)step[dy + 1][dx + 1];
                double u, v;
                ms_uv(c, xx, yy, &u, &v);
                if (g > zs[k].geo_mm || !in_zone(&zs[k], u, v)) {
                    blocked[pp] = (uint8_t)k;
                    continue;
                }
                c->comp[pp] = (uint8_t)k;
                geo[pp] = g;
                q[n++] = (int)pp;
            }
    }

    drop_leaks(c, &r, blocked);

    /* each muscle's compartment: its grown pixels closed over the fat septa and holes inside
     * it (that fat is intermuscular), never over another muscle */
    for (int k = OS_TISSUE_PSOAS; k <= OS_TISSUE_QL; k++) {
        uint8_t *m = c->t1;
        ms_rect b;
        double pad_mm = BONE_PAD_MM + 0.5 * fmax(c->sx, c->sy);
        if (!label_box(c, k, &r, 3.0 + pad_mm, &b)) continue;
        for (int y = b.y0; y < b.y1; y++)
            for (int x = b.x0; x < b.x1; x++) {
                size_t p = (size_t)y * c->nx + x;
                m[p] = c->comp[p] == k;
            }
        ms_close(c, m, 3.0, &b);
        ms_fill_holes(c, m, &b);
        /* the margin kept off the bone during growth belongs to the muscle lying on it */
        uint8_t *pad = c->t3;
        ms_dilate(c, m, pad, pad_mm, &b);
        for (int y = b.y0; y < b.y1; y++)
            for (int x = b.x0; x < b.x1; x++) {
                size_t p = (size_t)y * c->nx + x;
                if (c->comp[p] || !c->body[p]) continue;
                if (m[p] || (pad[p] && bone[p] && c->sm[p] <= BONE_HU && !(vb && vb[p])))
                    c->comp[p] = (uint8_t)k;
            }
    }
    edge_pixels(c, &r, vb, bone);
}
