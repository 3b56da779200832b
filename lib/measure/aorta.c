/* lib/measure: the contrast phase, judged from the aorta's attenuation at L1–L2. The aorta
 * lies on the front of the vertebral body, a little to the left: the most homogeneous
 * round patches of blood-like HU in that window are its candidates, and the brightest of
 * them wins (with contrast the aorta is the brightest vessel there; without it, any blood
 * or soft-tissue patch reads "non-contrast" just the same). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "measure_internal.h"

/* Aortic HU boundaries of the phases. Unenhanced blood is 30–60 HU; the portal venous phase
 * (≈ 70 s) typically leaves the aorta at 150–200 HU; the arterial phase puts it above
 * 200–250 HU. 100 and 200 split these with room for habitus and timing. */
#define PHASE_NONCONTRAST_BELOW 100.0
#define PHASE_ARTERIAL_ABOVE 200.0

#define DISK_MM 5.0   /* smallest aortic radius is ≈ 7.5 mm: a 5 mm disk stays inside */
#define GRID_MM 1.5

os_phase mx_phase_of(double hu) {
    if (isnan(hu)) return OS_PHASE_UNKNOWN;
    if (hu < PHASE_NONCONTRAST_BELOW) return OS_PHASE_NONCONTRAST;
    return hu > PHASE_ARTERIAL_ABOVE ? OS_PHASE_ARTERIAL : OS_PHASE_PORTAL;
}

const char *mx_phase_name(os_phase p) {
    switch (p) {
    case OS_PHASE_NONCONTRAST: return "non-contrast";
    case OS_PHASE_ARTERIAL: return "arterial";
    case OS_PHASE_PORTAL: return "portal venous";
    default: return "unknown";
    }
}

typedef struct disk {
    double mean, sd, median;
    int ok;
} disk;

static disk disk_at(const os_volume *vol, const os_anatomy *a, int z, double cx, double cy, double *buf) {
    disk d = {NAN, NAN, NAN, 0};
    double rx = DISK_MM / vol->spacing[0], ry = DISK_MM / vol->spacing[1];
    int x0 = (int)floor(cx - rx), x1 = (int)ceil(cx + rx), y0 = (int)floor(cy - ry), y1 = (int)ceil(cy + ry);
    if (x0 < 0 || y0 < 0 || x1 >= vol->nx || y1 >= vol->ny) return d;
    size_t plane = (size_t)vol->nx * vol->ny, n = 0, bad = 0;
    double sum = 0, sq = 0;
    for (int y = y0; y <= y1; y++) {
        for (int x = x0; x <= x1; x++) {
            double ex = (x - cx) / rx, ey = (y - cy) / ry;
            if (ex * ex + ey * ey > 1) continue;
            size_t k = (size_t)z * plane + (size_t)y * vol->nx + x;
            if (a->body_mask && a->body_mask[k]) return d; /* bone is never the aorta */
            double hu = vol->hu[k];
            if (hu < -30 || hu > 700) bad++;
            buf[n++] = hu;
            sum += hu, sq += hu * hu;
        }
    }
    if (n < 5 || bad * 10 > n) return d;
    d.mean = sum / n;
    d.sd = sqrt(fmax(0, sq / n - d.mean * d.mean));
    d.median = mx_median(buf, n);
    d.ok = 1;
    return d;
}

static double aorta_at(const os_volume *vol, const os_anatomy *a, int level) {
    int vi = os_anatomy_vertebra_of(a, level);
    const os_level_slice *sl = &a->slices[level];
    if (vi < 0 || !sl->present || sl->z < 0 || sl->z >= vol->nz) return NAN;
    const os_vertebra *v = &a->vertebrae[vi];
    const double *ax = v->axis_lps, *ap = v->ap_lps;
    double lat[3] = {ax[1] * ap[2] - ax[2] * ap[1], ax[2] * ap[0] - ax[0] * ap[2], ax[0] * ap[1] - ax[1] * ap[0]};
    mx_geom g;
    if (mx_geom_init(&g, vol)) return NAN;
    int nd = (int)(60 / GRID_MM), nl = (int)(70 / GRID_MM), max_px = 0;
    max_px = (int)((2 * DISK_MM / vol->spacing[0] + 3) * (2 * DISK_MM / vol->spacing[1] + 3));
    double *buf = malloc((size_t)max_px * sizeof *buf);
    disk *cand = calloc((size_t)(nd + 1) * (nl + 1), sizeof *cand);
    if (!buf || !cand) {
        free(buf), free(cand);
        return NAN;
    }
    double min_sd = INFINITY;
    int nc = 0;
    for (int i = 0; i <= nd; i++) {
        for (int j = 0; j <= nl; j++) {
            double d = 5 + i * GRID_MM, l = -30 + j * GRID_MM, p[3], vx[3];
            for (int k = 0; k < 3; k++) p[k] = v->center_lps[k] + d * ap[k] + l * lat[k];
            mx_lps_to_vox(&g, p, vx);
            disk c = disk_at(vol, a, sl->z, vx[0], vx[1], buf);
            cand[nc++] = c;
            if (c.ok && c.sd < min_sd) min_sd = c.sd;
        }
    }
    /* Homogeneous means blood: as smooth as the smoothest patch, allowing for noise. */
    double best = NAN, best_mean = -INFINITY;
    for (int k = 0; k < nc; k++) {
        if (!cand[k].ok || cand[k].sd > 1.5 * min_sd + 5) continue;
        if (cand[k].mean > best_mean) best_mean = cand[k].mean, best = cand[k].median;
    }
    free(buf);
    free(cand);
    return best;
}

double mx_aorta_hu(const os_volume *vol, const os_anatomy *a, char *why, size_t why_len) {
    double sum = 0;
    int n = 0;
    static const int levels[2] = {OS_L1, OS_L2};
    for (int k = 0; k < 2; k++) {
        double hu = aorta_at(vol, a, levels[k]);
        if (isfinite(hu)) sum += hu, n++;
    }
    if (!n) {
        snprintf(why, why_len, "aorta not found at L1–L2: contrast phase unknown");
        return NAN;
    }
    return sum / n;
}
