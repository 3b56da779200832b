/* Series summaries from DICOM headers, for choosing a series where there is no database
 * (offline analysis). The store computes the same summary from its rows for the daemon. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osteoscout/select.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int same_orientation(const double a[6], const double b[6]) {
    for (int i = 0; i < 6; i++)
        if (fabs(a[i] - b[i]) > 1e-3) return 0;
    return 1;
}

void os_select_summarise(const os_dicom_header *const *h, size_t n, os_series_summary *out) {
    memset(out, 0, sizeof *out);
    if (n == 0) return;
    snprintf(out->series_uid, sizeof out->series_uid, "%s", h[0]->series_uid);
    snprintf(out->study_uid, sizeof out->study_uid, "%s", h[0]->study_uid);
    snprintf(out->modality, sizeof out->modality, "%s", h[0]->modality);
    snprintf(out->description, sizeof out->description, "%s", h[0]->series_description);
    snprintf(out->kernel, sizeof out->kernel, "%s", h[0]->convolution_kernel);
    snprintf(out->state, sizeof out->state, "complete");
    out->series_number = h[0]->series_number;
    out->n_instances = (int)n;
    double *thick = calloc(n, sizeof *thick);
    size_t n_thick = 0;
    double seen[16][6];
    int n_seen = 0, have_z = 0;
    for (size_t i = 0; i < n; i++) {
        out->n_slices += h[i]->frames > 1 ? h[i]->frames : 1;
        if (strstr(h[i]->image_type, "LOCALIZER")) out->n_localizer++;
        if (thick && h[i]->slice_thickness > 0) thick[n_thick++] = h[i]->slice_thickness;
        if (!h[i]->has_orientation) continue;
        const double *o = h[i]->orientation;
        if (!out->has_orientation) {
            out->has_orientation = 1;
            memcpy(out->orientation, o, sizeof out->orientation);
        }
        int known = 0;
        for (int k = 0; k < n_seen && !known; k++) known = same_orientation(seen[k], o);
        if (!known) {
            out->n_orientations++;
            if (n_seen < 16) memcpy(seen[n_seen++], o, sizeof seen[0]);
        }
        if (!h[i]->has_position) continue;
        double nx = o[1] * o[5] - o[2] * o[4], ny = o[2] * o[3] - o[0] * o[5], nz = o[0] * o[4] - o[1] * o[3];
        const double *p0 = h[i]->position, *p1 = h[i]->frames > 1 ? h[i]->position_last : h[i]->position;
        double z0 = p0[0] * nx + p0[1] * ny + p0[2] * nz, z1 = p1[0] * nx + p1[1] * ny + p1[2] * nz;
        double lo = fmin(z0, z1), hi = fmax(z0, z1);
        if (!have_z || lo < out->z_min) out->z_min = lo;
        if (!have_z || hi > out->z_max) out->z_max = hi;
        have_z = 1;
    }
    if (n_thick) {
        qsort(thick, n_thick, sizeof *thick, cmp_double);
        out->slice_thickness = n_thick % 2 ? thick[n_thick / 2] : (thick[n_thick / 2 - 1] + thick[n_thick / 2]) / 2;
    }
    free(thick);
}
