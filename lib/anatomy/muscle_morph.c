/* Distances and morphology for the muscle half, with radii in mm so the same rules hold for
 * 0.6 mm and 3 mm pixels: an exact Euclidean distance transform (Felzenszwalb–Huttenlocher,
 * linear in the pixels) makes a dilation or erosion of any radius cost two passes. Everything
 * works inside a rectangle of the slice, which is where the time goes. */
#include <float.h>
#include <string.h>

#include "muscle_internal.h"

#define MS_INF 1e20f

/* One line of squared distances: f[i] in, d[i] out, samples s mm apart (Felzenszwalb 2012). */
static void edt_1d(const float *f, float *d, int n, double s, int *v, float *z) {
    int k = -1;
    for (int q = 0; q < n; q++) {
        if (f[q] >= MS_INF) continue;
        float fq = f[q] + (float)(q * s) * (float)(q * s);
        while (k >= 0) {
            float sv = (float)(v[k] * s);
            float x = (fq - (f[v[k]] + sv * sv)) / (float)(2 * s * (q - v[k]));
            if (x <= z[k]) {
                k--;
                continue;
            }
            k++;
            v[k] = q;
            z[k] = x;
            z[k + 1] = MS_INF;
            break;
        }
        if (k < 0) { /* the first finite sample, or one lower than every parabola so far */
            k = 0;
            v[0] = q;
            z[0] = -MS_INF;
            z[1] = MS_INF;
        }
    }
    if (k < 0) {
        for (int q = 0; q < n; q++) d[q] = MS_INF;
        return;
    }
    k = 0;
    for (int q = 0; q < n; q++) {
        float qs = (float)(q * s);
        while (z[k + 1] < qs) k++;
        float dv = qs - (float)(v[k] * s);
        d[q] = dv * dv + f[v[k]];
    }
}

void ms_dist2(ms_ctx *c, const uint8_t *mask, int val, const ms_rect *r, float *out) {
    int w = r->x1 - r->x0, h = r->y1 - r->y0, nmax = w > h ? w : h;
    float *f = c->ftmp, *d = f + nmax, *z = d + nmax;
    int *v = c->itmp;
    for (int y = r->y0; y < r->y1; y++) {
        size_t row = (size_t)y * c->nx;
        for (int x = r->x0; x < r->x1; x++) f[x - r->x0] = (mask[row + x] == val) ? 0 : MS_INF;
        edt_1d(f, d, w, c->sx, v, z);
        for (int x = r->x0; x < r->x1; x++) out[row + x] = d[x - r->x0];
    }
    for (int x = r->x0; x < r->x1; x++) {
        for (int y = r->y0; y < r->y1; y++) f[y - r->y0] = out[(size_t)y * c->nx + x];
        edt_1d(f, d, h, c->sy, v, z);
        for (int y = r->y0; y < r->y1; y++) out[(size_t)y * c->nx + x] = d[y - r->y0];
    }
}

void ms_dilate(ms_ctx *c, const uint8_t *in, uint8_t *out, double r_mm, const ms_rect *r) {
    ms_dist2(c, in, 1, r, c->d2);
    float r2 = (float)(r_mm * r_mm) + 1e-3f;
    for (int y = r->y0; y < r->y1; y++)
        for (int x = r->x0; x < r->x1; x++) {
            size_t p = (size_t)y * c->nx + x;
            out[p] = c->d2[p] <= r2;
        }
}

void ms_erode(ms_ctx *c, const uint8_t *in, uint8_t *out, double r_mm, const ms_rect *r) {
    ms_dist2(c, in, 0, r, c->d2);
    float r2 = (float)(r_mm * r_mm) + 1e-3f;
    for (int y = r->y0; y < r->y1; y++)
        for (int x = r->x0; x < r->x1; x++) {
            size_t p = (size_t)y * c->nx + x;
            out[p] = in[p] && c->d2[p] > r2;
        }
}

void ms_close(ms_ctx *c, uint8_t *m, double r_mm, const ms_rect *r) {
    ms_dilate(c, m, c->t3, r_mm, r);
    /* erosion of the dilated mask, where the rectangle's edge counts as inside so that a
     * structure cut by the rectangle is not eaten from that side */
    ms_dist2(c, c->t3, 0, r, c->d2);
    float r2 = (float)(r_mm * r_mm) + 1e-3f;
    for (int y = r->y0; y < r->y1; y++)
        for (int x = r->x0; x < r->x1; x++) {
            size_t p = (size_t)y * c->nx + x;
            m[p] = c->t3[p] && c->d2[p] > r2;
        }
}

/* Flood from every background pixel on the rectangle's edge; what it cannot reach is a hole. */
void ms_fill_holes(ms_ctx *c, uint8_t *m, const ms_rect *r) {
    uint8_t *seen = c->t3;
    int *q = c->queue, n = 0;
    for (int y = r->y0; y < r->y1; y++)
        for (int x = r->x0; x < r->x1; x++) {
            size_t p = (size_t)y * c->nx + x;
            seen[p] = 0;
            if (!m[p] && (x == r->x0 || y == r->y0 || x == r->x1 - 1 || y == r->y1 - 1)) {
                seen[p] = 1;
                q[n++] = (int)p;
            }
        }
    for (int i = 0; i < n; i++) {
        int p = q[i], x = p % c->nx, y = p / c->nx;
        static const int dx[4] = {1, -1, 0, 0}, dy[4] = {0, 0, 1, -1};
        for (int k = 0; k < 4; k++) { /* 4-connected background: 8-connected objects */
            int xx = x + dx[k], yy = y + dy[k];
            if (xx < r->x0 || yy < r->y0 || xx >= r->x1 || yy >= r->y1) continue;
            size_t pp = (size_t)yy * c->nx + xx;
            if (m[pp] || seen[pp]) continue;
            seen[pp] = 1;
            q[n++] = (int)pp;
        }
    }
    for (int y = r->y0; y < r->y1; y++)
        for (int x = r->x0; x < r->x1; x++) {
            size_t p = (size_t)y * c->nx + x;
            if (!seen[p]) m[p] = 1;
        }
}

long ms_keep_component(ms_ctx *c, uint8_t *m, int x0, int y0, const ms_rect *r) {
    if (x0 < r->x0 || y0 < r->y0 || x0 >= r->x1 || y0 >= r->y1) return 0;
    size_t p0 = (size_t)y0 * c->nx + x0;
    if (!m[p0]) return 0;
    int *q = c->queue, n = 0;
    m[p0] = 2;
    q[n++] = (int)p0;
    for (int i = 0; i < n; i++) {
        int p = q[i], x = p % c->nx, y = p / c->nx;
        for (int dy = -1; dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++) {
                int xx = x + dx, yy = y + dy;
                if (xx < r->x0 || yy < r->y0 || xx >= r->x1 || yy >= r->y1) continue;
                size_t pp = (size_t)yy * c->nx + xx;
                if (m[pp] != 1) continue;
                m[pp] = 2;
                q[n++] = (int)pp;
            }
    }
    for (int y = r->y0; y < r->y1; y++)
        for (int x = r->x0; x < r->x1; x++) {
            size_t p = (size_t)y * c->nx + x;
            m[p] = m[p] == 2;
        }
    return n;
}

/* A 3×3 binomial filter ([1 2 1] each way): it cuts the noise's SD to about 0.4 and blurs
 * less than a box, so thin fat planes and the wall's layers survive on any pixel size. */
void ms_smooth(ms_ctx *c, const ms_rect *r) {
    float *acc = c->d2; /* plane-sized scratch */
    for (int y = r->y0; y < r->y1; y++) {
        const int16_t *src = c->hu + (size_t)y * c->nx;
        for (int x = r->x0; x < r->x1; x++) {
            int xl = x > r->x0 ? x - 1 : x, xr = x + 1 < r->x1 ? x + 1 : x;
            acc[(size_t)y * c->nx + x] = 0.25f * src[xl] + 0.5f * src[x] + 0.25f * src[xr];
        }
    }
    for (int y = r->y0; y < r->y1; y++) {
        const float *up = acc + (size_t)(y > r->y0 ? y - 1 : y) * c->nx;
        const float *mid = acc + (size_t)y * c->nx;
        const float *dn = acc + (size_t)(y + 1 < r->y1 ? y + 1 : y) * c->nx;
        for (int x = r->x0; x < r->x1; x++) {
            float v = 0.25f * up[x] + 0.5f * mid[x] + 0.25f * dn[x];
            c->sm[(size_t)y * c->nx + x] = (int16_t)(v < 0 ? v - 0.5f : v + 0.5f);
        }
    }
}
