/* lib/measure: opportunistic L1 bone density — screening, never a diagnosis.
 *
 * The L1 trabecular HU is compared with configurable thresholds (Pickhardt 2013: ≤ 110 HU
 * likely osteoporosis, ≤ 160 HU possible low bone mass) after subtracting the configured
 * offset of the contrast phase read from the aorta. Because scanners and protocols shift
 * HU, a phantomless internal calibration is reported beside it: two references every scan
 * holds, air outside the patient and subcutaneous fat, are mapped linearly to their nominal
 * -1000 and -100 HU and L1 is carried along. It assumes the scanner's error is linear in
 * HU over that range and that this patient's fat is nominal fat. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "measure_internal.h"

#define AIR_MARGIN_MM 15.0   /* away from skin (partial volume) and from the table */
#define BORDER_PX 8          /* away from the image edge (reconstruction circle) */

double mx_calibrate(double hu, double air, double fat) {
    if (isnan(hu) || isnan(air) || isnan(fat) || fat - air < 500) return NAN;
    return -1000 + (hu - air) * 900 / (fat - air);
}

/* Median HU of air outside the body outline of a level's slice. The table lies behind the
 * patient, so only air beside and in front of the body counts; padding outside the
 * reconstruction circle (≤ -1100 HU) and anything not air-like is left out. */
static double air_at(const os_volume *vol, const os_level_slice *sl) {
    if (!sl->present || !sl->body || sl->z < 0 || sl->z >= vol->nz) return NAN;
    int nx = vol->nx, ny = vol->ny;
    int y_min = ny, y_max = -1;
    for (int y = 0; y < ny; y++)
        for (int x = 0; x < nx; x++)
            if (sl->body[(size_t)y * nx + x]) {
                if (y < y_min) y_min = y;
                if (y > y_max) y_max = y;
            }
    if (y_max < 0) return NAN;
    /* Rows run anterior → posterior on an ordinary axial scan; flip when they do not. */
    int rows_to_posterior = vol->col_dir[1] >= 0;
    int mx = (int)ceil(AIR_MARGIN_MM / vol->spacing[0]), my = (int)ceil(AIR_MARGIN_MM / vol->spacing[1]);
    double y_mid = (y_min + y_max) / 2.0;
    /* Distance to the body by a coarse check along row and column: enough for a margin. */
    size_t cap = (size_t)nx * ny / 4 + 1, n = 0;
    double *v = malloc(cap * sizeof *v);
    if (!v) return NAN;
    const int16_t *hu = vol->hu + (size_t)sl->z * nx * ny;
    for (int y = BORDER_PX; y < ny - BORDER_PX && n < cap; y += 2) {
        if (rows_to_posterior ? y > y_mid : y < y_mid) continue;
        for (int x = BORDER_PX; x < nx - BORDER_PX && n < cap; x += 2) {
            if (sl->body[(size_t)y * nx + x]) continue;
            int near = 0;
            for (int d = -mx; d <= mx && !near; d += 2)
                if (x + d >= 0 && x + d < nx && sl->body[(size_t)y * nx + x + d]) near = 1;
            for (int d = -my; d <= my && !near; d += 2)
                if (y + d >= 0 && y + d < ny && sl->body[(size_t)(y + d) * nx + x]) near = 1;
            if (near) continue;
            int h = hu[(size_t)y * nx + x];
            if (h <= -1100 || h > -500) continue;
            v[n++] = h;
        }
    }
    double m = n >= 50 ? mx_median(v, n) : NAN;
    free(v);
    return m;
}

static double fat_at(const os_volume *vol, const os_level_slice *sl) {
    if (!sl->present || !sl->tissue || sl->z < 0 || sl->z >= vol->nz) return NAN;
    size_t plane = (size_t)vol->nx * vol->ny, n = 0;
    double *v = malloc(plane * sizeof *v);
    if (!v) return NAN;
    const int16_t *hu = vol->hu + (size_t)sl->z * plane;
    for (size_t k = 0; k < plane; k++)
        if (sl->tissue[k] == OS_TISSUE_SAT) v[n++] = hu[k];
    double m = n >= 50 ? mx_median(v, n) : NAN;
    free(v);
    return m;
}

void mx_bmd(const os_volume *vol, const os_anatomy *a, const os_measure_opts *o, os_measurements *m) {
    os_bmd *b = &m->bmd;
    memset(b, 0, sizeof *b);
    b->l1_hu_mean = b->l1_hu_median = b->air_hu = b->sat_hu = b->l1_hu_calibrated = NAN;
    b->aorta_hu = b->threshold_hu_used = NAN;
    b->phase = OS_PHASE_UNKNOWN;
    int i = os_anatomy_vertebra_of(a, OS_L1);
    if (i < 0 || i >= m->n_vertebrae) {
        snprintf(b->note, sizeof b->note, "L1 is not in the scan (or was not identified): bone density not assessed");
        return;
    }
    const os_vertebra_measure *v = &m->vertebrae[i];
    if (isnan(v->trab_hu_mean)) {
        snprintf(b->note, sizeof b->note, "L1 found but its trabecular bone could not be measured");
        return;
    }
    b->present = 1;
    b->l1_hu_mean = v->trab_hu_mean;
    b->l1_hu_median = v->trab_hu_median;
    char why[256] = "";
    b->aorta_hu = mx_aorta_hu(vol, a, why, sizeof why);
    b->phase = mx_phase_of(b->aorta_hu);
    b->air_hu = air_at(vol, &a->slices[OS_L1]);
    if (isnan(b->air_hu)) b->air_hu = air_at(vol, &a->slices[OS_L3]);
    b->sat_hu = fat_at(vol, &a->slices[OS_L1]);
    if (isnan(b->sat_hu)) b->sat_hu = fat_at(vol, &a->slices[OS_L3]);
    b->l1_hu_calibrated = mx_calibrate(b->l1_hu_mean, b->air_hu, b->sat_hu);
    double off = o->phase_offset_hu[b->phase >= 0 && b->phase < 4 ? b->phase : 0];
    b->threshold_hu_used = b->l1_hu_mean - (isfinite(off) ? off : 0);
    const char *cat = b->threshold_hu_used <= o->bmd_osteoporosis_hu ? "likely osteoporosis"
                      : b->threshold_hu_used <= o->bmd_low_hu        ? "possible low bone mass"
                                                                     : "normal";
    snprintf(b->category, sizeof b->category, "%s", cat);
    if (why[0]) snprintf(b->note, sizeof b->note, "%s", why);
    else if (isnan(b->l1_hu_calibrated))
        snprintf(b->note, sizeof b->note, "internal calibration not possible: no usable air or subcutaneous fat");
}
