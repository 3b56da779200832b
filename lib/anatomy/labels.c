/* Level labels, the way a radiologist counts on an abdominal CT: the last rib-bearing
 * vertebra is T12; the vertebra above the sacrum is L5; with both in view the two must
 * agree (five lumbar vertebrae between). When they disagree (transitional anatomy, a
 * hypoplastic 12th rib, which is also the easiest landmark to miss) the sacral count is kept,
 * and the sentence and the confidence say so.
 * A landmark out of view is not guessed: with one landmark the labels carry less confidence,
 * with none they are left unset. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "spine_internal.h"

/* The last rib-bearing vertebra before the first one judged rib-free; confirmed only when
 * that rib-free vertebra is in view below it. */
static int t12_from_ribs(const sp_ctx *c, int *confirmed) {
    const os_anatomy *a = c->a;
    int last = -1;
    *confirmed = 0;
    for (int i = 0; i < a->n_vertebrae; i++) {
        if (c->sacral[i]) break;
        if (a->vertebrae[i].has_rib) {
            last = i;
            continue;
        }
        if (last >= 0 && c->rib_known[i]) {
            *confirmed = 1;
            return last;
        }
        if (last < 0 && c->rib_known[i]) return -1; /* top of the view is already lumbar */
    }
    return last;
}

static int l5_from_sacrum(const sp_ctx *c) {
    const os_anatomy *a = c->a;
    for (int i = 1; i < a->n_vertebrae; i++)
        if (c->sacral[i] && !c->sacral[i - 1]) return i - 1;
    return -1;
}

static void set_levels(sp_ctx *c, int ref_index, int ref_level, double conf) {
    os_anatomy *a = c->a;
    for (int i = 0; i < a->n_vertebrae; i++) {
        int lv = ref_level + (i - ref_index);
        os_vertebra *v = &a->vertebrae[i];
        v->level = lv >= 0 && lv < OS_LEVEL_COUNT ? lv : -1;
        v->confidence = v->level >= 0 ? conf : 0;
        if (v->level >= 0 && v->cut_by_fov) v->confidence *= 0.7;
    }
}

/* A piece much taller than its neighbours may be two bodies with a disc not found. */
static int suspicious_heights(sp_ctx *c) {
    os_anatomy *a = c->a;
    double hs[OS_MAX_VERTEBRAE];
    int n = 0;
    for (int i = 0; i < a->n_vertebrae; i++) {
        const os_vertebra *v = &a->vertebrae[i];
        double h = (v->z_last - v->z_first + 1) * c->sz;
        c->height_mm[i] = v->cut_by_fov ? 0 : h;
        if (!v->cut_by_fov && !c->sacral[i]) hs[n++] = h;
    }
    if (n < 3) return 0;
    for (int i = 0; i < n; i++) /* tiny n: a simple sort */
        for (int j = i + 1; j < n; j++)
            if (hs[j] < hs[i]) {
                double t = hs[i];
                hs[i] = hs[j];
                hs[j] = t;
            }
    double med = hs[n / 2];
    int bad = 0;
    for (int i = 0; i < a->n_vertebrae; i++)
        if (c->height_mm[i] > 1.7 * med && !c->sacral[i]) {
            os_anatomy_warn(a, "vertebra %d of %d spans %.0f mm along z, much more than its neighbours: "
                               "a disc may have been missed", i + 1, a->n_vertebrae, c->height_mm[i]);
            bad = 1;
        }
    return bad;
}

void sp_labels_assign(sp_ctx *c) {
    os_anatomy *a = c->a;
    int confirmed = 0;
    int t12 = t12_from_ribs(c, &confirmed);
    int l5 = l5_from_sacrum(c);
    a->t12_by_ribs = confirmed ? t12 : -1;
    a->l5_by_sacrum = l5;
    for (int i = 0; i < a->n_vertebrae; i++) a->vertebrae[i].level = -1;
    if (a->n_vertebrae == 0) {
        snprintf(a->labelling, sizeof a->labelling,
                 "The spinal canal was found but no vertebral body could be segmented.");
        os_anatomy_warn(a, "no vertebral body found");
        return;
    }
    int odd = suspicious_heights(c);
    double penalty = odd ? 0.7 : 1.0;
    if (confirmed && l5 >= 0) {
        if (l5 - t12 == 5) {
            set_levels(c, t12, OS_T12, 0.95 * penalty);
            snprintf(a->labelling, sizeof a->labelling,
                     "Labelled from the last rib-bearing vertebra (T12) and confirmed by counting up "
                     "from the sacrum (L5): the two agree.");
        } else {
            /* A short 12th rib is easily missed (and is the commoner variant): the sacrum wins. */
            set_levels(c, l5, OS_L5, 0.5 * penalty);
            snprintf(a->labelling, sizeof a->labelling,
                     "Labelled by counting up from the sacrum (L5); the last rib-bearing vertebra implies "
                     "%d lumbar-type vertebrae instead of 5 (transitional anatomy or a missed short rib), "
                     "so the labels are uncertain.", l5 - t12);
            os_anatomy_warn(a, "rib count and sacrum disagree: %d lumbar-type vertebrae between the last "
                               "rib-bearing vertebra and the sacrum; labels follow the sacrum", l5 - t12);
        }
    } else if (confirmed) {
        set_levels(c, t12, OS_T12, 0.8 * penalty);
        snprintf(a->labelling, sizeof a->labelling,
                 "Labelled from the last rib-bearing vertebra (T12); the sacrum is not in view, so the "
                 "count could not be cross-checked.");
        os_anatomy_warn(a, "sacrum not in view: labels rest on the ribs alone");
    } else if (l5 >= 0) {
        set_levels(c, l5, OS_L5, 0.8 * penalty);
        snprintf(a->labelling, sizeof a->labelling,
                 "Labelled by counting up from the sacrum (L5); the last rib-bearing vertebra is not in "
                 "view or not clear, so the count could not be cross-checked.");
        os_anatomy_warn(a, "last rib-bearing vertebra not seen: labels rest on the sacrum alone");
    } else if (t12 >= 0) {
        snprintf(a->labelling, sizeof a->labelling,
                 "No rib-free vertebra is seen below the rib-bearing one(s) (the scan ends first) and "
                 "the sacrum is not in view: T12 cannot be placed, so no level is given.");
        os_anatomy_warn(a, "rib-bearing vertebrae seen but not the last one: levels undetermined");
    } else {
        snprintf(a->labelling, sizeof a->labelling,
                 "Neither a rib-bearing vertebra followed by a rib-free one nor the sacrum is in view: "
                 "vertebrae are reported without levels.");
        os_anatomy_warn(a, "no landmark (last rib, sacrum) in view: levels not assigned");
    }
    for (int i = 0; i < a->n_vertebrae; i++)
        if (a->vertebrae[i].cut_by_fov)
            os_anatomy_warn(a, "%s body is cut by the edge of the scan",
                            a->vertebrae[i].level >= 0 ? os_level_name(a->vertebrae[i].level) : "a");
}
