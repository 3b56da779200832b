/* The trunk's outline on one slice: everything denser than -500 HU (skin, fat, organs; lung
 * and bowel gas come back as filled holes), opened with a 12 mm disc so that what hangs on by a
 * thin neck — an arm resting on the flank, the table, a cushion, a catheter — falls off, then
 * the piece holding the spine, restored to its own outline. */
#include <math.h>
#include <stdlib.h>

#include "muscle_internal.h"

#define BODY_HU (-500)
#define OPEN_MM 12.0

int ms_body_outline(ms_ctx *c) {
    uint8_t *thr = c->t1, *core = c->t2, *body = c->body;
    ms_rect r = {c->nx, c->ny, 0, 0};
    for (int y = 0; y < c->ny; y++)
        for (int x = 0; x < c->nx; x++) {
            size_t p = (size_t)y * c->nx + x;
            thr[p] = c->hu[p] > BODY_HU;
            body[p] = 0;
            if (!thr[p]) continue;
            if (x < r.x0) r.x0 = x;
            if (y < r.y0) r.y0 = y;
            if (x >= r.x1) r.x1 = x + 1;
            if (y >= r.y1) r.y1 = y + 1;
        }
    if (r.x1 <= r.x0) return -1;
    /* one pixel of margin so that the edge of the rectangle is background */
    r.x0 = r.x0 > 0 ? r.x0 - 1 : 0;
    r.y0 = r.y0 > 0 ? r.y0 - 1 : 0;
    r.x1 = r.x1 < c->nx ? r.x1 + 1 : c->nx;
    r.y1 = r.y1 < c->ny ? r.y1 + 1 : c->ny;
    ms_erode(c, thr, core, OPEN_MM, &r);

    int sx = (int)lround(c->fr.cx), sy = (int)lround(c->fr.cy);
    if (sx < r.x0 || sy < r.y0 || sx >= r.x1 || sy >= r.y1 || !core[(size_t)sy * c->nx + sx]) {
        /* the spine centre is near an edge: take the core pixel nearest to it */
        double best = INFINITY;
        for (int y = r.y0; y < r.y1; y++)
            for (int x = r.x0; x < r.x1; x++) {
                if (!core[(size_t)y * c->nx + x]) continue;
                double d = hypot((x - c->fr.cx) * c->sx, (y - c->fr.cy) * c->sy);
                if (d < best) best = d, sx = x, sy = y;
            }
        if (!isfinite(best) || best > 60) return -1;
    }
    if (ms_keep_component(c, core, sx, sy, &r) <= 0) return -1;
    ms_dilate(c, core, body, OPEN_MM + 0.5 * fmax(c->sx, c->sy), &r);
    for (int y = r.y0; y < r.y1; y++)
        for (int x = r.x0; x < r.x1; x++) {
            size_t p = (size_t)y * c->nx + x;
            body[p] = body[p] && thr[p];
        }
    /* the restored outline can carry crumbs of what was cut off: keep the trunk's piece */
    ms_keep_component(c, body, sx, sy, &r);
    ms_fill_holes(c, body, &r);
    /* the work rectangle shrinks to the trunk */
    ms_rect b = {r.x1, r.y1, r.x0, r.y0};
    for (int y = r.y0; y < r.y1; y++)
        for (int x = r.x0; x < r.x1; x++)
            if (body[(size_t)y * c->nx + x]) {
                if (x < b.x0) b.x0 = x;
                if (y < b.y0) b.y0 = y;
                if (x >= b.x1) b.x1 = x + 1;
                if (y >= b.y1) b.y1 = y + 1;
            }
    b.x0 = b.x0 > 0 ? b.x0 - 1 : 0;
    b.y0 = b.y0 > 0 ? b.y0 - 1 : 0;
    b.x1 = b.x1 < c->nx ? b.x1 + 1 : c->nx;
    b.y1 = b.y1 < c->ny ? b.y1 + 1 : c->ny;
    c->roi = b;
    return 0;
}
