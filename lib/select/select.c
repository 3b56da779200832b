/* Series selection: of the series in a study, which one is the analysable axial CT, and a
 * sentence for each of the others so an operator can see why it was passed over. A study
 * typically holds a scout, thin and thick reconstructions in soft and sharp kernels, and
 * sometimes reformats or dose reports; the measurements want a thin-ish, soft-kernel axial
 * stack that covers the lumbar spine. */
#include "osteoscout/select.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define RAD2DEG (180.0 / 3.14159265358979323846)
/* Thickness range the measurements were designed for: thinner is noisy, thicker blurs. */
#define PREFERRED_THICK_MIN 1.5
#define PREFERRED_THICK_MAX 3.0

/* Appends "; "-separated sentences. */
/* Slices, not files: an Enhanced CT object carries a whole series in one instance. */
static int slices_of(const os_series_summary *s) { return s->n_slices > 0 ? s->n_slices : s->n_instances; }

static void reason_add(char *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reason_add(char *r, const char *fmt, ...) {
    size_t len = strlen(r);
    if (len > 0 && len + 2 < OS_SELECT_REASON_MAX) {
        memcpy(r + len, "; ", 3);
        len += 2;
    }
    if (len + 1 >= OS_SELECT_REASON_MAX) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r + len, OS_SELECT_REASON_MAX - len, fmt, ap);
    va_end(ap);
}

/* Angle between the slice normal and the patient's head-feet axis. */
static double axial_angle_deg(const double o[6]) {
    double n[3] = {o[1] * o[5] - o[2] * o[4], o[2] * o[3] - o[0] * o[5], o[0] * o[4] - o[1] * o[3]};
    double len = sqrt(n[0] * n[0] + n[1] * n[1] + n[2] * n[2]);
    if (len < 1e-9) return 90.0;
    double c = fabs(n[2]) / len;
    if (c > 1) c = 1;
    return acos(c) * RAD2DEG;
}

/* Fills r with why s cannot be analysed; returns 1 when it can. */
static int eligible(const os_series_summary *s, const os_select_rules *rules, char *r) {
    r[0] = '\0';
    if (strcmp(s->modality, "CT") != 0) {
        reason_add(r, "modality %s is not CT", s->modality[0] ? s->modality : "(none)");
        return 0;
    }
    if (strcmp(s->state, "receiving") == 0) reason_add(r, "still receiving");
    if (s->n_localizer > 0) {
        if (2 * s->n_localizer >= s->n_instances)
            reason_add(r, "localizer/scout series");
        else
            reason_add(r, "contains %d localizer instance%s", s->n_localizer,
                       s->n_localizer == 1 ? "" : "s");
    }
    if (!s->has_orientation)
        reason_add(r, "no slice orientation (ImageOrientationPatient missing)");
    else if (s->n_orientations > 1)
        reason_add(r, "mixed orientations (%d distinct)", s->n_orientations);
    else {
        double a = axial_angle_deg(s->orientation);
        if (a > rules->max_tilt_deg)
            reason_add(r, "not axial (normal %.0f° from the patient axis)", a);
    }
    if (slices_of(s) < rules->min_slices)
        reason_add(r, "only %d slice%s (need %d)", slices_of(s), slices_of(s) == 1 ? "" : "s",
                   rules->min_slices);
    /* Unknown thickness (0) is not held against a series: the volume plan measures the real
     * spacing later, and many reformats omit SliceThickness. */
    if (s->slice_thickness > rules->max_thickness_mm)
        reason_add(r, "slice thickness %.1f mm (max %g)", s->slice_thickness,
                   rules->max_thickness_mm);
    double coverage = s->z_max - s->z_min;
    if (coverage < rules->min_z_coverage_mm)
        reason_add(r, "z coverage %.0f mm (need %g)", coverage, rules->min_z_coverage_mm);
    return r[0] == '\0';
}

static int preferred_thickness(const os_series_summary *s) {
    return s->slice_thickness >= PREFERRED_THICK_MIN && s->slice_thickness <= PREFERRED_THICK_MAX;
}

static const char *softness_word(int s) {
    return s > 0 ? "soft-tissue" : s < 0 ? "sharp" : "unrecognised";
}

/* < 0 when a is preferred over b. When why is given it receives the deciding criterion,
 * worded from the winner's side. */
static int compare(const os_series_summary *a, const os_series_summary *b, char *why, size_t len) {
    int sa = os_select_kernel_softness(a->kernel), sb = os_select_kernel_softness(b->kernel);
    const os_series_summary *win = a, *lose = b;
    int c;
    if (sa != sb) {
        c = sb - sa;
        if (c > 0) win = b, lose = a;
        if (why) {
            int sw = c > 0 ? sb : sa, sl = c > 0 ? sa : sb;
            snprintf(why, len, "%s kernel %s over %s kernel %s", softness_word(sw),
                     win->kernel[0] ? win->kernel : "(none)", softness_word(sl),
                     lose->kernel[0] ? lose->kernel : "(none)");
        }
        return c;
    }
    int ta = preferred_thickness(a), tb = preferred_thickness(b);
    if (ta != tb) {
        c = tb - ta;
        if (c > 0) win = b, lose = a;
        if (why) {
            if (lose->slice_thickness > 0)
                snprintf(why, len, "slice thickness %.1f mm is within %.1f–%.0f mm, this one's %.1f mm is not",
                         win->slice_thickness, PREFERRED_THICK_MIN, PREFERRED_THICK_MAX,
                         lose->slice_thickness);
            else
                snprintf(why, len, "slice thickness %.1f mm is within %.1f–%.0f mm, this one's is unknown",
                         win->slice_thickness, PREFERRED_THICK_MIN, PREFERRED_THICK_MAX);
        }
        return c;
    }
    if (slices_of(a) != slices_of(b)) {
        c = slices_of(b) - slices_of(a);
        if (c > 0) win = b, lose = a;
        if (why)
            snprintf(why, len, "more slices: %d vs %d", slices_of(win), slices_of(lose));
        return c;
    }
    /* Deterministic tie-break, so re-running selection never flips between equals. */
    c = strcmp(a->series_uid, b->series_uid);
    if (why) snprintf(why, len, "equally suitable, lower series UID");
    return c;
}

int os_select_series(const os_series_summary *series, size_t n, const os_select_rules *rules,
                     char (*reasons)[OS_SELECT_REASON_MAX]) {
    int best = -1;
    for (size_t i = 0; i < n; i++) {
        if (!eligible(&series[i], rules, reasons[i])) continue;
        if (best < 0 || compare(&series[i], &series[best], NULL, 0) < 0) best = (int)i;
    }
    if (best < 0) return -1;
    for (size_t i = 0; i < n; i++) {
        if (reasons[i][0] != '\0') continue; /* ineligible: already explained */
        if ((int)i == best) {
            snprintf(reasons[i], OS_SELECT_REASON_MAX, "chosen%s",
                     series[i].slice_thickness > 0 ? "" : " (slice thickness unknown)");
            continue;
        }
        char why[200];
        compare(&series[best], &series[i], why, sizeof why);
        /* Named by number and description, as a radiologist knows series; UIDs stay out of
         * reasons because reasons are logged. */
        reason_add(reasons[i], "eligible, but series %d \"%s\" is preferred (%s)", series[best].series_number,
                   series[best].description, why);
    }
    return best;
}
