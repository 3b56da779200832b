/* lib/measure: trabecular attenuation of a vertebral body — mean and median of the raw HU
 * inside the trabecular ROI (the body eroded away from its cortex, the basivertebral vein
 * left out, as TotalSegmentator's spine report does). The median resists the odd bone
 * island or vein the ROI still holds. When anatomy gives no trabecular ROI the body mask
 * is eroded here by the configured distance. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "measure_internal.h"

#define HIST_MIN (-2048)
#define HIST_N 8192

/* Box erosion, one axis at a time (separable): coarse near corners, but a trabecular ROI
 * only has to stay clear of the cortex, not follow it. */
static uint8_t *erode(const os_volume *vol, const uint8_t *mask, int label, double mm) {
    int n[3] = {vol->nx, vol->ny, vol->nz};
    size_t total = (size_t)n[0] * n[1] * n[2];
    uint8_t *cur = malloc(total), *tmp = malloc(total);
    if (!cur || !tmp) {
        free(cur), free(tmp);
        return NULL;
    }
    for (size_t k = 0; k < total; k++) cur[k] = mask[k] == label;
    size_t stride[3] = {1, (size_t)n[0], (size_t)n[0] * n[1]};
    for (int ax = 0; ax < 3; ax++) {
        int r = (int)floor(mm / vol->spacing[ax] + 1e-6);
        if (r <= 0) continue;
        memcpy(tmp, cur, total);
        for (size_t k = 0; k < total; k++) {
            if (!tmp[k]) continue;
            /* Beyond the scan's edge is unknown, not cortex: it erodes nothing. */
            int c = (int)(k / stride[ax] % (size_t)n[ax]), keep = 1;
            for (int d = 1; keep && d <= r; d++)
                keep = (c - d < 0 || tmp[k - d * stride[ax]]) && (c + d >= n[ax] || tmp[k + d * stride[ax]]);
            cur[k] = (uint8_t)keep;
        }
    }
    free(tmp);
    return cur;
}

/* Endplate height along the axis at AP offset x, piecewise linear through the measured
 * lines (held flat beyond the outermost ones); NAN when fewer than two lines were found. */
static double endplate_at(const mx_endplates *ep, const double *hv, double x) {
    double ax[3], hx[3];
    int n = 0;
    for (int k = 2; k >= 0; k--) /* posterior → anterior: a increasing */
        if (isfinite(ep->a[k]) && isfinite(hv[k])) ax[n] = ep->a[k], hx[n++] = hv[k];
    if (n < 2) return NAN;
    if (x <= ax[0]) return hx[0];
    for (int j = 1; j < n; j++)
        if (x <= ax[j]) return hx[j - 1] + (hx[j] - hx[j - 1]) * (x - ax[j - 1]) / (ax[j] - ax[j - 1]);
    return hx[n - 1];
}

/* Whether the voxel lies at least the erosion inside the endplates the heights found. The
 * body mask (and so any ROI eroded from it) can overshoot a wedge's sloping or a crushed
 * body's compressed endplate by several mm, and the dense endplate then pulls the mean up.
 * The margin shrinks on a thin body (30 % of its height a side) so a central band remains. */
static int inside_endplates(const os_volume *vol, const mx_endplates *ep, double erosion_mm, size_t k) {
    size_t plane = (size_t)vol->nx * vol->ny;
    double p[3], d[3];
    os_volume_voxel_to_lps(vol, (double)(k % (size_t)vol->nx), (double)(k / (size_t)vol->nx % (size_t)vol->ny),
                           (double)(k / plane), p);
    for (int j = 0; j < 3; j++) d[j] = p[j] - ep->c[j];
    double x = d[0] * ep->ap[0] + d[1] * ep->ap[1] + d[2] * ep->ap[2];
    double h = d[0] * ep->ax[0] + d[1] * ep->ax[1] + d[2] * ep->ax[2];
    double lo = endplate_at(ep, ep->lo, x), hi = endplate_at(ep, ep->hi, x);
    if (!(hi > lo)) return 1; /* nothing measured here: the mask's ROI stands */
    double e = fmin(erosion_mm, 0.3 * (hi - lo));
    return h >= lo + e && h <= hi - e;
}

int mx_trabecular(const os_volume *vol, const os_anatomy *a, int i, double erosion_mm, const mx_endplates *ep,
                  os_vertebra_measure *vm) {
    vm->trab_hu_mean = vm->trab_hu_median = NAN;
    vm->trab_voxels = 0;
    const uint8_t *roi = a->trab_mask;
    uint8_t *own = NULL;
    int label = i + 1;
    if (!roi) {
        if (!a->body_mask) return -1;
        own = erode(vol, a->body_mask, label, erosion_mm);
        if (!own) return -1;
        roi = own, label = 1;
    }
    uint32_t *hist = calloc(HIST_N, sizeof *hist);
    if (!hist) {
        free(own);
        return -1;
    }
    size_t total = (size_t)vol->nx * vol->ny * vol->nz, n = 0;
    /* Only the body's slices need looking at. */
    const os_vertebra *v = &a->vertebrae[i];
    size_t plane = (size_t)vol->nx * vol->ny, k0 = 0, k1 = total;
    if (v->z_first >= 0 && v->z_last >= v->z_first && v->z_last < vol->nz) {
        k0 = (size_t)v->z_first * plane;
        k1 = (size_t)(v->z_last + 1) * plane;
    }
    double sum = 0;
    int use_ep = 0;
    if (ep) /* two measured lines at least, or the endplates are unknown */
        for (int j = 0; j < 3; j++) use_ep += isfinite(ep->a[j]) && isfinite(ep->lo[j]) && isfinite(ep->hi[j]);
    use_ep = use_ep >= 2;
    for (size_t k = k0; k < k1; k++) {
        if (roi[k] != label) continue;
        if (use_ep && !inside_endplates(vol, ep, erosion_mm, k)) continue;
        int h = vol->hu[k] - HIST_MIN;
        hist[h < 0 ? 0 : h >= HIST_N ? HIST_N - 1 : h]++;
        sum += vol->hu[k];
        n++;
    }
    if (n) {
        vm->trab_hu_mean = sum / (double)n;
        /* Median of integers: the middle one, or the mean of the two middle ones. */
        size_t lo_rank = (n - 1) / 2, hi_rank = n / 2, acc = 0;
        int lo = -1, hi = -1;
        for (int h = 0; h < HIST_N && hi < 0; h++) {
            acc += hist[h];
            if (lo < 0 && acc > lo_rank) lo = h;
            if (acc > hi_rank) hi = h;
        }
        vm->trab_hu_median = (lo + hi) / 2.0 + HIST_MIN;
    }
    vm->trab_voxels = (int)n;
    free(hist);
    free(own);
    return n ? 0 : -1;
}
