/* The spine's centre line through the vertebral bodies: a local linear fit of the per-slice
 * body centres (weighted by body area, so disc slices and stray slices count little) over a
 * window of about one vertebra. Its tangent is the local spine axis, tilted by lordosis,
 * along which discs are looked for and endplates are cut. */
#include <math.h>
#include <stdlib.h>

#include "spine_internal.h"

#define HALF_WINDOW_MM 22.0

int sp_centreline_fit(sp_ctx *c, os_error *err) {
    (void)err;
    double amax = 0;
    for (int z = c->z_lo; z <= c->z_hi; z++)
        if (c->body_area[z] > amax) amax = c->body_area[z];
    int hw = (int)ceil(HALF_WINDOW_MM / c->sz);
    if (hw < 1) hw = 1;
    for (int z = c->z_lo; z <= c->z_hi; z++) {
        double sw = 0, sz = 0, sxv = 0, syv = 0, szz = 0, szx = 0, szy = 0;
        for (int k = z - hw; k <= z + hw; k++) {
            if (k < c->z_lo || k > c->z_hi || isnan(c->body_x[k])) continue;
            double w = c->body_area[k] / (amax > 0 ? amax : 1);
            w = w * w; /* full cross-sections dominate partial ones */
            double zm = (k - z) * c->sz, xm = c->body_x[k] * c->sx, ym = c->body_y[k] * c->sy;
            sw += w;
            sz += w * zm;
            sxv += w * xm;
            syv += w * ym;
            szz += w * zm * zm;
            szx += w * zm * xm;
            szy += w * zm * ym;
        }
        double mx = 0, my = 0, x0, y0;
        if (sw <= 1e-9) {
            x0 = c->canal_x[z] * c->sx;
            y0 = (c->canal_y[z] - c->ypost * 20.0 / c->sy) * c->sy;
        } else {
            double zb = sz / sw, xb = sxv / sw, yb = syv / sw, var = szz / sw - zb * zb;
            if (var > 1.0) {
                mx = (szx / sw - zb * xb) / var;
                my = (szy / sw - zb * yb) / var;
            }
            /* lordosis tilts a body by at most ~45° (the sacrum); more is noise */
            if (mx > 1) mx = 1;
            if (mx < -1) mx = -1;
            if (my > 1) my = 1;
            if (my < -1) my = -1;
            x0 = xb - mx * zb;
            y0 = yb - my * zb;
        }
        c->cx[z] = x0 / c->sx;
        c->cy[z] = y0 / c->sy;
        double n = sqrt(mx * mx + my * my + 1);
        c->tan[z][0] = mx / n;
        c->tan[z][1] = my / n;
        c->tan[z][2] = 1 / n;
    }
    c->s_of_z[c->z_lo] = 0;
    for (int z = c->z_lo + 1; z <= c->z_hi; z++) {
        double dx = (c->cx[z] - c->cx[z - 1]) * c->sx, dy = (c->cy[z] - c->cy[z - 1]) * c->sy;
        c->s_of_z[z] = c->s_of_z[z - 1] + sqrt(dx * dx + dy * dy + c->sz * c->sz);
    }
    c->s_min = 0;
    c->s_max = c->s_of_z[c->z_hi];
    return 0;
}
