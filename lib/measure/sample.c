/* lib/measure: sampling the volume at arbitrary points in patient space. Heights are
 * measured along each vertebra's own (tilted) axis in mm, so every measurement here goes
 * through LPS → voxel and trilinear interpolation rather than along the voxel grid. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "measure_internal.h"

int mx_geom_init(mx_geom *g, const os_volume *vol) {
    /* Columns of A are the voxel steps in mm; inverting A rather than transposing keeps
     * oblique or non-orthogonal grids (gantry tilt) right. */
    double A[3][3];
    for (int r = 0; r < 3; r++) {
        A[r][0] = vol->row_dir[r] * vol->spacing[0];
        A[r][1] = vol->col_dir[r] * vol->spacing[1];
        A[r][2] = vol->normal[r] * vol->spacing[2];
    }
    double det = A[0][0] * (A[1][1] * A[2][2] - A[1][2] * A[2][1]) -
                 A[0][1] * (A[1][0] * A[2][2] - A[1][2] * A[2][0]) +
                 A[0][2] * (A[1][0] * A[2][1] - A[1][1] * A[2][0]);
    if (!isfinite(det) || fabs(det) < 1e-12) return -EINVAL;
    g->vol = vol;
    g->m[0][0] = (A[1][1] * A[2][2] - A[1][2] * A[2][1]) / det;
    g->m[0][1] = (A[0][2] * A[2][1] - A[0][1] * A[2][2]) / det;
    g->m[0][2] = (A[0][1] * A[1][2] - A[0][2] * A[1][1]) / det;
    g->m[1][0] = (A[1][2] * A[2][0] - A[1][0] * A[2][2]) / det;
    g->m[1][1] = (A[0][0] * A[2][2] - A[0][2] * A[2][0]) / det;
    g->m[1][2] = (A[0][2] * A[1][0] - A[0][0] * A[1][2]) / det;
    g->m[2][0] = (A[1][0] * A[2][1] - A[1][1] * A[2][0]) / det;
    g->m[2][1] = (A[0][1] * A[2][0] - A[0][0] * A[2][1]) / det;
    g->m[2][2] = (A[0][0] * A[1][1] - A[0][1] * A[1][0]) / det;
    return 0;
}

void mx_lps_to_vox(const mx_geom *g, const double p[3], double v[3]) {
    double d[3] = {p[0] - g->vol->origin[0], p[1] - g->vol->origin[1], p[2] - g->vol->origin[2]};
    for (int r = 0; r < 3; r++) v[r] = g->m[r][0] * d[0] + g->m[r][1] * d[1] + g->m[r][2] * d[2];
}

/* Corner and weights of the trilinear cell; 0 when outside. A volume one voxel thick in
 * some direction is interpolated in the others only. */
static int cell(const os_volume *vol, const double v[3], int c[3], double f[3]) {
    const int n[3] = {vol->nx, vol->ny, vol->nz};
    for (int k = 0; k < 3; k++) {
        if (!(v[k] >= -1e-9 && v[k] <= n[k] - 1 + 1e-9)) return 0;
        double x = v[k] < 0 ? 0 : v[k] > n[k] - 1 ? n[k] - 1 : v[k];
        c[k] = (int)floor(x);
        if (c[k] >= n[k] - 1) c[k] = n[k] > 1 ? n[k] - 2 : 0;
        f[k] = n[k] > 1 ? x - c[k] : 0;
    }
    return 1;
}

double mx_hu_at(const mx_geom *g, const double v[3]) {
    const os_volume *vol = g->vol;
    int c[3];
    double f[3];
    if (!cell(vol, v, c, f)) return NAN;
    size_t sx = 1, sy = (size_t)vol->nx, sz = (size_t)vol->nx * (size_t)vol->ny;
    size_t dx = vol->nx > 1 ? sx : 0, dy = vol->ny > 1 ? sy : 0, dz = vol->nz > 1 ? sz : 0;
    const int16_t *p = vol->hu + c[0] * sx + c[1] * sy + c[2] * sz;
    double c00 = p[0] * (1 - f[0]) + p[dx] * f[0];
    double c10 = p[dy] * (1 - f[0]) + p[dy + dx] * f[0];
    double c01 = p[dz] * (1 - f[0]) + p[dz + dx] * f[0];
    double c11 = p[dz + dy] * (1 - f[0]) + p[dz + dy + dx] * f[0];
    double c0 = c00 * (1 - f[1]) + c10 * f[1], c1 = c01 * (1 - f[1]) + c11 * f[1];
    return c0 * (1 - f[2]) + c1 * f[2];
}

double mx_label_at(const mx_geom *g, const uint8_t *mask, int label, const double v[3]) {
    const os_volume *vol = g->vol;
    int c[3];
    double f[3];
    if (!mask || !cell(vol, v, c, f)) return NAN;
    size_t sy = (size_t)vol->nx, sz = (size_t)vol->nx * (size_t)vol->ny;
    size_t dx = vol->nx > 1 ? 1 : 0, dy = vol->ny > 1 ? sy : 0, dz = vol->nz > 1 ? sz : 0;
    const uint8_t *p = mask + c[0] + c[1] * sy + c[2] * sz;
#define IS(o) (p[o] == label ? 1.0 : 0.0)
    double c00 = IS(0) * (1 - f[0]) + IS(dx) * f[0];
    double c10 = IS(dy) * (1 - f[0]) + IS(dy + dx) * f[0];
    double c01 = IS(dz) * (1 - f[0]) + IS(dz + dx) * f[0];
    double c11 = IS(dz + dy) * (1 - f[0]) + IS(dz + dy + dx) * f[0];
#undef IS
    double c0 = c00 * (1 - f[1]) + c10 * f[1], c1 = c01 * (1 - f[1]) + c11 * f[1];
    return c0 * (1 - f[2]) + c1 * f[2];
}

double mx_blur_sigma(const mx_geom *g, const double d[3]) {
    const os_volume *vol = g->vol;
    const double *dirs[3] = {vol->row_dir, vol->col_dir, vol->normal};
    double var = 0;
    for (int k = 0; k < 3; k++) {
        double w = vol->spacing[k] * fabs(d[0] * dirs[k][0] + d[1] * dirs[k][1] + d[2] * dirs[k][2]);
        var += w * w / 4;
    }
    /* The reconstruction kernel blurs a little even at fine voxels. */
    return sqrt(var + 0.3 * 0.3);
}

void mx_box_kernel(const mx_geom *g, const double d[3], double sigma0, double *a, double *b) {
    const os_volume *vol = g->vol;
    const double *dirs[3] = {vol->row_dir, vol->col_dir, vol->normal};
    double w[3];
    for (int k = 0; k < 3; k++)
        w[k] = vol->spacing[k] * fabs(d[0] * dirs[k][0] + d[1] * dirs[k][1] + d[2] * dirs[k][2]);
    int big = w[0] >= w[1] && w[0] >= w[2] ? 0 : w[1] >= w[2] ? 1 : 2;
    double rest = 0;
    for (int k = 0; k < 3; k++)
        if (k != big) rest += w[k] * w[k];
    /* The scanner's own blur, as a uniform of the same variance (12 σ²). */
    *a = w[big];
    *b = sqrt(rest + 12 * sigma0 * sigma0);
    if (*b > *a) {
        double t = *a;
        *a = *b, *b = t;
    }
}

int mx_corners(const mx_geom *g, const double v[3], const double origin[3], const double d[3], double w[8],
               double c[8]) {
    const os_volume *vol = g->vol;
    int cc[3];
    double f[3];
    if (!cell(vol, v, cc, f)) return 0;
    for (int k = 0; k < 8; k++) {
        int dx = k & 1, dy = (k >> 1) & 1, dz = (k >> 2) & 1;
        w[k] = (dx ? f[0] : 1 - f[0]) * (dy ? f[1] : 1 - f[1]) * (dz ? f[2] : 1 - f[2]);
        double p[3];
        os_volume_voxel_to_lps(vol, cc[0] + dx, cc[1] + dy, cc[2] + dz, p);
        c[k] = (p[0] - origin[0]) * d[0] + (p[1] - origin[1]) * d[1] + (p[2] - origin[2]) * d[2];
    }
    return 1;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double mx_median(double *x, size_t n) {
    if (n == 0) return NAN;
    qsort(x, n, sizeof *x, cmp_double);
    return n % 2 ? x[n / 2] : (x[n / 2 - 1] + x[n / 2]) / 2;
}
