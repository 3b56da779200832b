/* Bone thresholds adapted to the scan: the image noise is measured in soft tissue, and the
 * threshold for "bright bone" (cortex, endplates) is raised on noisy scans so that noise in
 * soft tissue does not pass for bone. No fixed HU of cortex is assumed: anything from thin
 * osteoporotic cortex (~200 HU) to dense bone passes the same threshold. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "spine_internal.h"

int sp_smooth_at(const sp_ctx *c, int x, int y, int z) {
    if (c->den) return c->den[sp_idx(c, x, y, z)];
    const int16_t *s = c->vol->hu + c->plane * (size_t)z;
    if (!c->smooth) return s[(size_t)x + (size_t)c->nx * (size_t)y];
    int sum = 0;
    for (int dy = -1; dy <= 1; dy++) {
        int yy = y + dy < 0 ? 0 : y + dy >= c->ny ? c->ny - 1 : y + dy;
        for (int dx = -1; dx <= 1; dx++) {
            int xx = x + dx < 0 ? 0 : x + dx >= c->nx ? c->nx - 1 : x + dx;
            sum += s[(size_t)xx + (size_t)c->nx * (size_t)yy];
        }
    }
    return sum / 9;
}

void sp_smooth_slice(const sp_ctx *c, int z, int16_t *dst) {
    if (c->den) {
        memcpy(dst, c->den + c->plane * (size_t)z, c->plane * sizeof *dst);
        return;
    }
    const int16_t *s = c->vol->hu + c->plane * (size_t)z;
    int nx = c->nx, ny = c->ny;
    if (!c->smooth) {
        memcpy(dst, s, c->plane * sizeof *dst);
        return;
    }
    for (int y = 0; y < ny; y++) {
        const int16_t *r0 = s + (size_t)nx * (size_t)(y > 0 ? y - 1 : y);
        const int16_t *r1 = s + (size_t)nx * (size_t)y;
        const int16_t *r2 = s + (size_t)nx * (size_t)(y < ny - 1 ? y + 1 : y);
        int16_t *d = dst + (size_t)nx * (size_t)y;
        for (int x = 0; x < nx; x++) {
            int xl = x > 0 ? x - 1 : x, xr = x < nx - 1 ? x + 1 : x;
            int sum = r0[xl] + r0[x] + r0[xr] + r1[xl] + r1[x] + r1[xr] + r2[xl] + r2[x] + r2[xr];
            d[x] = (int16_t)(sum / 9);
        }
    }
}

/* In-plane 1-2-1 binomial smoothing of the whole volume into c->den. Its kernel is narrow
 * (half weight on the centre) so a 1–2 pixel cortex keeps most of its contrast while the
 * noise, which on coarse noisy series breaks the thin bone ring around the canal at any
 * threshold safely above soft tissue, drops to about a third or half. */
static int denoise(sp_ctx *c) {
    int nx = c->nx, ny = c->ny;
    c->den = malloc(c->plane * (size_t)c->nz * sizeof *c->den);
    int32_t *row = malloc(c->plane * sizeof *row);
    if (!c->den || !row) {
        free(row);
        free(c->den);
        c->den = NULL;
        return -1;
    }
    for (int z = 0; z < c->nz; z++) {
        const int16_t *s = c->vol->hu + c->plane * (size_t)z;
        int16_t *d = c->den + c->plane * (size_t)z;
        for (int y = 0; y < ny; y++)
            for (int x = 0; x < nx; x++) {
                size_t p = (size_t)x + (size_t)nx * (size_t)y;
                int xl = x > 0 ? x - 1 : x, xr = x < nx - 1 ? x + 1 : x;
                row[p] = s[p - (size_t)x + (size_t)xl] + 2 * s[p] + s[p - (size_t)x + (size_t)xr];
            }
        for (int y = 0; y < ny; y++) {
            size_t up = (size_t)nx * (size_t)(y > 0 ? y - 1 : y), mid = (size_t)nx * (size_t)y,
                   dn = (size_t)nx * (size_t)(y < ny - 1 ? y + 1 : y);
            for (int x = 0; x < nx; x++) {
                int32_t v = row[up + (size_t)x] + 2 * row[mid + (size_t)x] + row[dn + (size_t)x];
                d[mid + (size_t)x] = (int16_t)((v + 8) / 16);
            }
        }
    }
    free(row);
    return 0;
}

/* Median absolute difference of pixels lag apart along x, both in soft tissue, on a few
 * slices. At lag 1 on the raw HU that is the image noise; on a smoothed copy the lag is taken
 * past the kernel, so the two pixels are independent and the difference measures the noise
 * left after smoothing (soft-tissue texture only makes it err high, i.e. stricter). */
static double noise_estimate(const sp_ctx *c, const int16_t *vol, int lag) {
    size_t cap = 200000, n = 0;
    int *d = malloc(cap * sizeof *d);
    if (!d) return 15.0;
    int zs[3] = {c->nz / 4, c->nz / 2, (3 * c->nz) / 4};
    for (int k = 0; k < 3 && n < cap; k++) {
        const int16_t *s = vol + c->plane * (size_t)zs[k];
        for (int y = c->ny / 8; y < c->ny - c->ny / 8 && n < cap; y += 2)
            for (int x = c->nx / 8; x < c->nx - c->nx / 8 - lag && n < cap; x += 2) {
                size_t p = (size_t)x + (size_t)c->nx * (size_t)y;
                int a = s[p], b = s[p + (size_t)lag];
                if (a > -60 && a < 120 && b > -60 && b < 120) d[n++] = abs(a - b);
            }
    }
    double sd = 15.0;
    if (n > 1000) {
        qsort(d, n, sizeof *d, sp_cmp_int);
        sd = 1.4826 * d[n / 2] / sqrt(2.0);
    }
    free(d);
    return sd;
}

int sp_bone_setup(sp_ctx *c, os_error *err) {
    c->noise_sd = noise_estimate(c, c->vol->hu, 1);
    c->smooth = c->sx < 1.2 && c->sy < 1.2;
    /* Neighbouring CT pixels are correlated, so a 3×3 mean only about halves the noise. */
    double sm = c->smooth ? c->noise_sd / 2.0 : c->noise_sd;
    if (!c->smooth) {
        if (denoise(c)) return os_error_set(err, -ENOMEM, "out of memory smoothing the volume");
        sm = noise_estimate(c, c->den, 3);
    }
    c->den_sd = sm;
    double t = 100 + 4 * sm, tr = 100 + 4 * (c->smooth ? sm : c->noise_sd);
    c->t_bone = (int)(t < 170 ? 170 : t > 240 ? 240 : t);
    c->t_disc = (int)(tr < 170 ? 170 : tr > 240 ? 240 : tr);
    c->t_soft = 20;
    return 0;
}
