/* The trabecular ROI of each body (trab_mask): the body mask eroded ~4 mm in-plane and ~3 mm
 * along z (away from cortex and endplates, as TotalSegmentator's spine report does), less the
 * basivertebral vein's region (the middle of the posterior part of the body, where a
 * low-density channel enters). On coarse data the erosion shrinks until at least one voxel
 * remains, so every body gets a reading, however few voxels it rests on. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "spine_internal.h"

#define ERODE_XY_MM 4.0
#define ERODE_Z_MM 3.0
#define VEIN_DEPTH 0.30 /* posterior share of the body's depth */
#define VEIN_WIDTH 0.25 /* half width of the excluded band, as a share of the body's width */

/* 1D erosion along a line of n samples at stride: keeps v where the run of v is ≥ r either side. */
static void erode_line(uint8_t *m, size_t start, size_t stride, int n, uint8_t v, int r, uint8_t *tmp) {
    if (r <= 0) return;
    for (int i = 0; i < n; i++) tmp[i] = m[start + stride * (size_t)i] == v;
    int i = 0;
    while (i < n) {
        if (!tmp[i]) {
            i++;
            continue;
        }
        int j = i;
        while (j < n && tmp[j]) j++;
        for (int k = i; k < j; k++)
            if (k - i < r || j - 1 - k < r) m[start + stride * (size_t)k] = 0;
        i = j;
    }
}

static int erode_vertebra(sp_ctx *c, int idx, const int box[6], int rx, int ry, int rz, uint8_t *tmp) {
    uint8_t v = (uint8_t)(idx + 1), *t = c->a->trab_mask;
    const uint8_t *b = c->a->body_mask;
    for (int z = box[4]; z <= box[5]; z++)
        for (int y = box[2]; y <= box[3]; y++)
            for (int x = box[0]; x <= box[1]; x++) {
                size_t p = sp_idx(c, x, y, z);
                t[p] = b[p] == v ? v : (t[p] == v ? 0 : t[p]);
            }
    int w = box[1] - box[0] + 1, h = box[3] - box[2] + 1, d = box[5] - box[4] + 1;
    for (int z = box[4]; z <= box[5]; z++) {
        for (int y = box[2]; y <= box[3]; y++) erode_line(t, sp_idx(c, box[0], y, z), 1, w, v, rx, tmp);
        for (int x = box[0]; x <= box[1]; x++) erode_line(t, sp_idx(c, x, box[2], z), (size_t)c->nx, h, v, ry, tmp);
    }
    for (int y = box[2]; y <= box[3]; y++)
        for (int x = box[0]; x <= box[1]; x++) erode_line(t, sp_idx(c, x, y, box[4]), c->plane, d, v, rz, tmp);
    int n = 0;
    for (int z = box[4]; z <= box[5]; z++)
        for (int y = box[2]; y <= box[3]; y++)
            for (int x = box[0]; x <= box[1]; x++) n += t[sp_idx(c, x, y, z)] == v;
    return n;
}

/* Removes the basivertebral vein's region, unless that would leave nothing. */
static void cut_vein(sp_ctx *c, int idx, const int box[6]) {
    const os_vertebra *vt = &c->a->vertebrae[idx];
    uint8_t v = (uint8_t)(idx + 1), *t = c->a->trab_mask;
    const uint8_t *b = c->a->body_mask;
    /* front-back and lateral directions in the slice plane, in mm */
    double ax = 0, ay = 0;
    for (int z = vt->z_first; z <= vt->z_last; z++) {
        ax += (c->cx[z] - c->canal_x[z]) * c->sx;
        ay += (c->cy[z] - c->canal_y[z]) * c->sy;
    }
    double an = hypot(ax, ay);
    if (an < 1e-6) {
        ax = 0;
        ay = -c->ypost;
        an = 1;
    }
    ax /= an;
    ay /= an;
    double amin = 1e9, amax = -1e9, lmin = 1e9, lmax = -1e9;
    for (int z = box[4]; z <= box[5]; z++)
        for (int y = box[2]; y <= box[3]; y++)
            for (int x = box[0]; x <= box[1]; x++) {
                if (b[sp_idx(c, x, y, z)] != v) continue;
                double dx = (x - c->cx[z]) * c->sx, dy = (y - c->cy[z]) * c->sy;
                double a = dx * ax + dy * ay, l = -dx * ay + dy * ax;
                if (a < amin) amin = a;
                if (a > amax) amax = a;
                if (l < lmin) lmin = l;
                if (l > lmax) lmax = l;
            }
    double acut = amin + VEIN_DEPTH * (amax - amin), lhalf = VEIN_WIDTH * (lmax - lmin);
    int kept = 0, cut = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int z = box[4]; z <= box[5]; z++)
            for (int y = box[2]; y <= box[3]; y++)
                for (int x = box[0]; x <= box[1]; x++) {
                    size_t p = sp_idx(c, x, y, z);
                    if (t[p] != v) continue;
                    double dx = (x - c->cx[z]) * c->sx, dy = (y - c->cy[z]) * c->sy;
                    double a = dx * ax + dy * ay, l = -dx * ay + dy * ax;
                    int in_vein = a < acut && fabs(l - 0.5 * (lmin + lmax)) < lhalf;
                    if (pass == 0) {
                        kept += !in_vein;
                        cut += in_vein;
                    } else if (in_vein && kept > 0) {
                        t[p] = 0;
                    }
                }
}

int sp_trab_build(sp_ctx *c, os_error *err) {
    int len = c->nx > c->ny ? c->nx : c->ny;
    if (c->nz > len) len = c->nz;
    uint8_t *tmp = malloc((size_t)len);
    if (!tmp) return os_error_set(err, -ENOMEM, "out of memory eroding the trabecular ROIs");
    for (int i = 0; i < c->a->n_vertebrae; i++) {
        const int *box = c->vbox[i];
        if (box[1] < box[0]) continue;
        int rx = (int)lround(ERODE_XY_MM / c->sx), ry = (int)lround(ERODE_XY_MM / c->sy),
            rz = (int)lround(ERODE_Z_MM / c->sz);
        if (rz < 1) rz = 1;
        /* shrink the erosion until something is left (coarse or small bodies) */
        while (erode_vertebra(c, i, box, rx, ry, rz, tmp) == 0 && (rx > 0 || ry > 0 || rz > 0)) {
            if (rz > 0) rz--;
            else {
                if (rx > 0) rx--;
                if (ry > 0) ry--;
            }
        }
        cut_vein(c, i, box);
    }
    free(tmp);
    return 0;
}
