/* The spine frame of a slice: where the vertebral body is and which way is anterior, taken
 * from the spine half's body masks (on the slice itself when the body is cut there, otherwise
 * interpolated between the neighbouring bodies, e.g. across a disc). Muscles are placed
 * relative to it, so its errors become compartment errors: prefer the mask over guesses. */
#include <math.h>

#include "muscle_internal.h"

static void ap_dir(const ms_ctx *c, const os_vertebra *v, double *ax, double *ay) {
    const os_volume *vol = c->vol;
    double x = 0, y = 0;
    for (int i = 0; i < 3; i++) {
        x += v->ap_lps[i] * vol->row_dir[i];
        y += v->ap_lps[i] * vol->col_dir[i];
    }
    double n = hypot(x, y);
    if (n < 0.5) { /* no usable direction: anterior is -y in LPS */
        x = -vol->row_dir[1];
        y = -vol->col_dir[1];
        n = hypot(x, y);
    }
    *ax = x / n;
    *ay = y / n;
}

/* Centroid and half sizes of vertebra i's body on slice z; 0 when too little of it is there. */
static int body_on_slice(ms_ctx *c, int i, int z, ms_frame *f) {
    const uint8_t *bm = c->a->body_mask + c->plane * (size_t)z;
    double sx = 0, sy = 0;
    long n = 0;
    for (int y = 0; y < c->ny; y++)
        for (int x = 0; x < c->nx; x++)
            if (bm[(size_t)y * c->nx + x] == i + 1) sx += x, sy += y, n++;
    if (n * c->sx * c->sy < 150) return -1; /* a sliver near an endplate says little */
    f->cx = sx / n;
    f->cy = sy / n;
    ap_dir(c, &c->a->vertebrae[i], &f->ax, &f->ay);
    double umax = 0, vmin = 0, vmax = 0;
    ms_frame keep = c->fr;
    c->fr = *f;
    for (int y = 0; y < c->ny; y++)
        for (int x = 0; x < c->nx; x++)
            if (bm[(size_t)y * c->nx + x] == i + 1) {
                double u, v;
                ms_uv(c, x, y, &u, &v);
                if (fabs(u) > umax) umax = fabs(u);
                if (v < vmin) vmin = v;
                if (v > vmax) vmax = v;
            }
    c->fr = keep;
    f->hw = umax;
    f->hd = (vmax - vmin) / 2;
    f->vidx = i;
    return 0;
}

void ms_frame_sizes(ms_ctx *c) {
    for (int i = 0; i < c->a->n_vertebrae && i < OS_MAX_VERTEBRAE; i++) {
        const os_vertebra *v = &c->a->vertebrae[i];
        int z = (int)lround(v->center_vox[2]);
        ms_frame f;
        if (z >= 0 && z < c->nz && body_on_slice(c, i, z, &f) == 0) {
            c->vhw[i] = f.hw;
            c->vhd[i] = f.hd;
        } else { /* a typical lumbar body: 45 mm wide, 32 mm deep */
            c->vhw[i] = 22;
            c->vhd[i] = 16;
        }
    }
}

int ms_frame_at(ms_ctx *c, int z, ms_frame *f) {
    const os_anatomy *a = c->a;
    int best = -1;
    for (int i = 0; i < a->n_vertebrae; i++) {
        const os_vertebra *v = &a->vertebrae[i];
        if (z < v->z_first || z > v->z_last) continue;
        if (best < 0 || fabs(v->center_vox[2] - z) < fabs(a->vertebrae[best].center_vox[2] - z))
            best = i;
    }
    if (best >= 0 && body_on_slice(c, best, z, f) == 0) {
        /* sizes from the mid-body, where the mask is widest and least disturbed by endplates */
        f->hw = fmax(f->hw, 0.8 * c->vhw[best]);
        f->hd = fmax(f->hd, 0.8 * c->vhd[best]);
        f->level = a->vertebrae[best].level;
        return 0;
    }
    /* between bodies: interpolate the centres of the nearest body above and below */
    int lo = -1, hi = -1;
    for (int i = 0; i < a->n_vertebrae; i++) {
        double cz = a->vertebrae[i].center_vox[2];
        if (cz <= z && (lo < 0 || cz > a->vertebrae[lo].center_vox[2])) lo = i;
        if (cz >= z && (hi < 0 || cz < a->vertebrae[hi].center_vox[2])) hi = i;
    }
    if (lo < 0 && hi < 0) return -1;
    if (lo < 0) lo = hi;
    if (hi < 0) hi = lo;
    const os_vertebra *vl = &a->vertebrae[lo], *vh = &a->vertebrae[hi];
    double dz = vh->center_vox[2] - vl->center_vox[2];
    double t = dz > 0 ? (z - vl->center_vox[2]) / dz : 0;
    if (lo == hi && fabs(vl->center_vox[2] - z) * c->vol->spacing[2] > 40) return -1;
    f->cx = vl->center_vox[0] + t * (vh->center_vox[0] - vl->center_vox[0]);
    f->cy = vl->center_vox[1] + t * (vh->center_vox[1] - vl->center_vox[1]);
    ap_dir(c, t < 0.5 ? vl : vh, &f->ax, &f->ay);
    f->hw = c->vhw[lo] + t * (c->vhw[hi] - c->vhw[lo]);
    f->hd = c->vhd[lo] + t * (c->vhd[hi] - c->vhd[lo]);
    f->vidx = -1;
    f->level = (t < 0.5 ? vl : vh)->level;
    return 0;
}
