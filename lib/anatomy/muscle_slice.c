/* The tissue map of one slice. The compartments say where each muscle is; the raw HU (not the
 * smoothed copy used to find the compartments) say what each pixel is, so areas and mean HU
 * follow the published thresholds: muscle -29…150 HU, fat -190…-30 HU. Fat inside a muscle
 * compartment is intermuscular; other fat is visceral inside the fascia, subcutaneous outside. */
#include "muscle_internal.h"

void ms_classify(const ms_ctx *c, uint8_t *tissue) {
    for (size_t p = 0; p < c->plane; p++) tissue[p] = OS_TISSUE_NONE;
    const ms_rect *r = &c->roi;
    for (int y = r->y0; y < r->y1; y++)
        for (int x = r->x0; x < r->x1; x++) {
            size_t p = (size_t)y * c->nx + x;
            if (!c->body[p]) continue;
            int h = c->hu[p], k = c->comp[p];
            if (k) {
                if (ms_is_muscle(h)) tissue[p] = (uint8_t)k;
                else if (ms_is_fat(h)) tissue[p] = OS_TISSUE_IMAT;
            } else if (ms_is_fat(h)) {
                tissue[p] = c->fascia[p] ? OS_TISSUE_VAT : OS_TISSUE_SAT;
            }
        }
}
