/* Turns the per-slice geometry of a series into a volume plan: which slices, in which order,
 * with which spacing, and what is wrong with the geometry. Real series arrive shuffled, with
 * duplicates (re-sends, two reconstructions in one series), missing slices and gantry tilt;
 * this is the one place that decides which of those stop the analysis and which only warn. */
#include "osteoscout/volume.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RAD2DEG (180.0 / 3.14159265358979323846)

/* Orientations closer than this are "the same": scanners write cosines with 6 decimals. */
#define SAME_ORIENTATION_DEG 1.0
/* Positions closer than this along the normal are the same slice. */
#define SAME_POSITION_MM 0.01
#define GAP_FACTOR 1.5
#define SPACING_SPREAD 0.10
#define TILT_WARN_DEG 1.0
#define THICKNESS_TOLERANCE 0.10

static double dot3(const double a[3], const double b[3]) {
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

static void cross3(const double a[3], const double b[3], double out[3]) {
    out[0] = a[1] * b[2] - a[2] * b[1];
    out[1] = a[2] * b[0] - a[0] * b[2];
    out[2] = a[0] * b[1] - a[1] * b[0];
}

static double normalize3(double v[3]) {
    double len = sqrt(dot3(v, v));
    if (len > 0) {
        v[0] /= len;
        v[1] /= len;
        v[2] /= len;
    }
    return len;
}

static double angle_deg(const double a[3], const double b[3]) {
    double c = dot3(a, b) / (sqrt(dot3(a, a)) * sqrt(dot3(b, b)));
    if (c > 1) c = 1;
    if (c < -1) c = -1;
    return acos(c) * RAD2DEG;
}

static void add_warning(os_volume_plan *plan, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The last slot says how many were dropped rather than silently losing them. */
static void add_warning(os_volume_plan *plan, const char *fmt, ...) {
    if (plan->n_warnings >= OS_VOLUME_MAX_WARNINGS) return;
    if (plan->n_warnings == OS_VOLUME_MAX_WARNINGS - 1) {
        snprintf(plan->warnings[plan->n_warnings++], OS_WARNING_MAX,
                 "further geometry warnings omitted");
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(plan->warnings[plan->n_warnings++], OS_WARNING_MAX, fmt, ap);
    va_end(ap);
}

static void format_orientation(const double o[6], char *buf, size_t len) {
    snprintf(buf, len, "%g\\%g\\%g\\%g\\%g\\%g", o[0], o[1], o[2], o[3], o[4], o[5]);
}

/* Same sheet of paper: mixing orientations, sizes or pixel spacing in one volume is never
 * something a warning can make safe. */
static int check_consistent(const os_slice_geom *g, size_t n, os_error *err) {
    const os_slice_geom *ref = &g[0];
    if (ref->rows <= 0 || ref->cols <= 0)
        return os_error_set(err, -EINVAL, "slice has no matrix size (%d×%d)", ref->cols, ref->rows);
    if (!(ref->pixel_spacing[0] > 0) || !(ref->pixel_spacing[1] > 0))
        return os_error_set(err, -EINVAL, "slice has no pixel spacing (%g\\%g)",
                            ref->pixel_spacing[0], ref->pixel_spacing[1]);
    for (size_t i = 1; i < n; i++) {
        const os_slice_geom *s = &g[i];
        double dr = angle_deg(ref->orientation, s->orientation);
        double dc = angle_deg(ref->orientation + 3, s->orientation + 3);
        if (dr > SAME_ORIENTATION_DEG || dc > SAME_ORIENTATION_DEG) {
            char a[128], b[128];
            format_orientation(ref->orientation, a, sizeof a);
            format_orientation(s->orientation, b, sizeof b);
            return os_error_set(err, -EINVAL,
                                "mixed orientations: %s and %s (%.1f° apart) in one series", a, b,
                                dr > dc ? dr : dc);
        }
        if (s->rows != ref->rows || s->cols != ref->cols)
            return os_error_set(err, -EINVAL, "mixed matrix sizes: %d×%d and %d×%d in one series",
                                ref->cols, ref->rows, s->cols, s->rows);
        for (int k = 0; k < 2; k++) {
            if (fabs(s->pixel_spacing[k] - ref->pixel_spacing[k]) > 1e-3 * ref->pixel_spacing[k])
                return os_error_set(err, -EINVAL,
                                    "mixed pixel spacing: %g\\%g and %g\\%g mm in one series",
                                    ref->pixel_spacing[0], ref->pixel_spacing[1],
                                    s->pixel_spacing[0], s->pixel_spacing[1]);
        }
    }
    return 0;
}

typedef struct keyed {
    double d;   /* position along the normal */
    size_t idx; /* index into the geometry array */
} keyed;

static int cmp_keyed(const void *a, const void *b) {
    const keyed *x = a, *y = b;
    if (x->d < y->d) return -1;
    if (x->d > y->d) return 1;
    /* Ties keep input order, so "first kept" among duplicates means the first received. */
    return (x->idx > y->idx) - (x->idx < y->idx);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_of(double *v, size_t n) {
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void check_spacing(os_volume_plan *plan, const keyed *k, const double *diffs, size_t nd,
                          double median) {
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < nd; i++) {
        if (diffs[i] > GAP_FACTOR * median) {
            add_warning(plan, "gap of %.1f mm between slices at z=%.1f and z=%.1f mm "
                              "(median spacing %.1f mm)",
                        diffs[i], k[i].d, k[i + 1].d, median);
            continue; /* a gap is already reported; it should not also count as spread */
        }
        if (diffs[i] < lo) lo = diffs[i];
        if (diffs[i] > hi) hi = diffs[i];
    }
    if (hi >= lo && (hi - lo) > SPACING_SPREAD * median)
        add_warning(plan, "inconsistent slice spacing: %.2f to %.2f mm (median %.2f mm)", lo, hi,
                    median);
}

static void check_thickness(os_volume_plan *plan, const os_slice_geom *g, const keyed *k,
                            size_t nk) {
    double *t = malloc(nk * sizeof *t);
    size_t nt = 0;
    if (!t) return;
    for (size_t i = 0; i < nk; i++)
        if (g[k[i].idx].thickness > 0) t[nt++] = g[k[i].idx].thickness;
    if (nt > 0) {
        double thick = median_of(t, nt), sp = plan->spacing[2];
        if (fabs(thick - sp) > THICKNESS_TOLERANCE * sp)
            add_warning(plan, "slice thickness %.2f mm differs from slice spacing %.2f mm (%s)",
                        thick, sp, thick > sp ? "overlapping slices" : "tissue between slices is not sampled");
    }
    free(t);
}

int os_volume_plan_make(const os_slice_geom *geoms, size_t n, os_volume_plan *plan, os_error *err) {
    memset(plan, 0, sizeof *plan);
    if (!geoms || n == 0) return os_error_set(err, -EINVAL, "no slices to make a volume from");
    int rc = check_consistent(geoms, n, err);
    if (rc) return rc;

    const os_slice_geom *ref = &geoms[0];
    double row[3] = {ref->orientation[0], ref->orientation[1], ref->orientation[2]};
    double col[3] = {ref->orientation[3], ref->orientation[4], ref->orientation[5]};
    double normal[3];
    if (normalize3(row) < 1e-6 || normalize3(col) < 1e-6)
        return os_error_set(err, -EINVAL, "slice orientation is not a pair of directions (%g\\%g\\%g\\%g\\%g\\%g)",
                            ref->orientation[0], ref->orientation[1], ref->orientation[2],
                            ref->orientation[3], ref->orientation[4], ref->orientation[5]);
    cross3(row, col, normal);
    if (normalize3(normal) < 1e-6)
        return os_error_set(err, -EINVAL, "slice orientation has parallel row and column directions");

    keyed *k = malloc(n * sizeof *k);
    double *diffs = malloc(n * sizeof *diffs);
    double *sorted_diffs = malloc(n * sizeof *sorted_diffs);
    if (!k || !diffs || !sorted_diffs) {
        free(k);
        free(diffs);
        free(sorted_diffs);
        return os_error_set(err, -ENOMEM, "out of memory planning a volume of %zu slices", n);
    }
    for (size_t i = 0; i < n; i++) {
        k[i].d = dot3(geoms[i].position, normal);
        k[i].idx = i;
    }
    qsort(k, n, sizeof *k, cmp_keyed);

    /* Drop duplicates in place, keeping the first of each position. */
    size_t nk = 1, n_dup = 0;
    double first_dup = 0;
    for (size_t i = 1; i < n; i++) {
        if (k[i].d - k[nk - 1].d < SAME_POSITION_MM) {
            if (n_dup++ == 0) first_dup = k[i].d;
            continue;
        }
        k[nk++] = k[i];
    }
    if (nk < 2) {
        double z = k[0].d;
        free(k);
        free(diffs);
        free(sorted_diffs);
        return os_error_set(err, -EINVAL,
                            "fewer than 2 distinct slice positions (%zu slice%s, all at z=%.1f mm)",
                            n, n == 1 ? "" : "s", z);
    }
    if (n_dup > 0)
        add_warning(plan, "%zu duplicate slice position%s (first at z=%.1f mm); the first slice "
                          "at each position was kept",
                    n_dup, n_dup == 1 ? "" : "s", first_dup);

    size_t nd = nk - 1;
    for (size_t i = 0; i < nd; i++) diffs[i] = k[i + 1].d - k[i].d;
    memcpy(sorted_diffs, diffs, nd * sizeof *diffs);
    double median = median_of(sorted_diffs, nd);

    plan->order = malloc(nk * sizeof *plan->order);
    if (!plan->order) {
        free(k);
        free(diffs);
        free(sorted_diffs);
        return os_error_set(err, -ENOMEM, "out of memory planning a volume of %zu slices", n);
    }
    for (size_t i = 0; i < nk; i++) plan->order[i] = k[i].idx;
    plan->n_order = nk;
    plan->nx = ref->cols;
    plan->ny = ref->rows;
    plan->nz = (int)nk;
    /* PixelSpacing is (between rows, between columns); x runs along a row. */
    plan->spacing[0] = ref->pixel_spacing[1];
    plan->spacing[1] = ref->pixel_spacing[0];
    plan->spacing[2] = median;
    memcpy(plan->origin, geoms[k[0].idx].position, sizeof plan->origin);
    memcpy(plan->row_dir, row, sizeof row);
    memcpy(plan->col_dir, col, sizeof col);
    memcpy(plan->normal, normal, sizeof normal);
    plan->z_min = k[0].d;
    plan->z_max = k[nk - 1].d;

    /* Tilt: a tilted gantry shears the stack, so consecutive positions drift within the
     * slice plane while each slice still faces the same way. */
    const double *p0 = geoms[k[0].idx].position, *p1 = geoms[k[nk - 1].idx].position;
    double disp[3] = {p1[0] - p0[0], p1[1] - p0[1], p1[2] - p0[2]};
    plan->tilt_deg = angle_deg(disp, normal);

    check_spacing(plan, k, diffs, nd, median);
    if (plan->tilt_deg > TILT_WARN_DEG)
        add_warning(plan, "gantry tilt of %.1f° (slices displaced off the normal)", plan->tilt_deg);
    check_thickness(plan, geoms, k, nk);

    free(k);
    free(diffs);
    free(sorted_diffs);
    return 0;
}

void os_volume_plan_free(os_volume_plan *plan) {
    if (!plan) return;
    free(plan->order);
    plan->order = NULL;
    plan->n_order = 0;
}
