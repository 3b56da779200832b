/* lib/measure: anterior, middle and posterior heights of a vertebral body, measured the way
 * TotalSegmentator's spine report does so figures compare: in the vertebra's own frame
 * (axis cranial, ap posterior → anterior, lateral = axis × ap), at 85 %, 50 % and 15 % of
 * the body's antero-posterior depth from its posterior wall, along the local axis. The body
 * mask gives the depth and a first guess of each endplate; the HU profile (edge.c) then
 * places each endplate to a fraction of a voxel, even across 5 mm slices. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "measure_internal.h"

#define STEP_MM 0.25
#define REACH_MM 60.0       /* farthest a body surface can be from its centre */
#define BAND_MM 5.0         /* lateral half-width averaged for each line: noise, not anatomy */
#define BAND_AP_MM 1.5      /* and antero-posterior (a wedge's slope averages out) */
#define MARGIN_MM 14.0      /* profile beyond the mask: the disc and some of the neighbour */
#define THIN_SIGMA_MM 1.25  /* blur below which the profile resolves the rim on its own */
/* The lateral walls give the rim's excess up to coarser pixels (3 mm) than an endplate
 * resolves its own: the wall fit only needs the excess, not a sub-mm position, and it
 * tries several scanner blurs. Without it the typical DEFAULT_RIM stood in, and a rim
 * assumed too light for the study moved thick-slice endplates outward by 2 mm each (a
 * biconcave middle read 22 mm for 18). */
#define WALL_THIN_SIGMA_MM 1.6
#define DEFAULT_RIM 600.0   /* HU × mm: a typical cortical excess when nothing resolves it */
#define DEFAULT_SIGMA0 0.3  /* mm: a typical reconstruction kernel's blur */
/* How far the HU fit may move an endplate from where the body mask puts it. A mask drawn
 * round a wedge or a compressed endplate overshoots it by up to several mm (the sloping
 * surface cuts each slice obliquely and partial volume smears it into the disc), and the
 * anterior height at 85 % of the depth is exactly where a wedge's overshoot is largest. */
#define BODY_REACH_MM 10.0 /* a grade 3 wedge or biconcave body drops its endplate ~10 mm */
#define WALL_REACH_MM 20.0  /* how far inside the mask's AP extent a wall may be found: the mask can take in
                            * the aorta or crus lying against the body, over 15 mm */
/* A fit whose "body" is this much darker than the body's middle line fitted a disc, fat or
 * a vein instead of this body: the trabecular bone of one body varies less (the
 * basivertebral vein darkens the posterior line by about 20 HU; a crushed body's middle can
 * be 50 HU brighter). Sclerosis brightens, so only darker counts. */
#define UNLIKE_BONE_HU 60.0

typedef struct frame {
    double c[3], ax[3], ap[3], lat[3];
} frame;

static void point(const frame *f, double a, double l, double h, double out[3]) {
    for (int k = 0; k < 3; k++) out[k] = f->c[k] + a * f->ap[k] + l * f->lat[k] + h * f->ax[k];
}

static int make_frame(const os_vertebra *v, frame *f) {
    memcpy(f->c, v->center_lps, sizeof f->c);
    double n = 0, d = 0;
    for (int k = 0; k < 3; k++) n += v->axis_lps[k] * v->axis_lps[k];
    if (!(n > 1e-12)) return -1;
    for (int k = 0; k < 3; k++) f->ax[k] = v->axis_lps[k] / sqrt(n);
    for (int k = 0; k < 3; k++) d += v->ap_lps[k] * f->ax[k];
    n = 0; /* keep ap exactly perpendicular to the axis, whatever rounding came in */
    for (int k = 0; k < 3; k++) f->ap[k] = v->ap_lps[k] - d * f->ax[k], n += f->ap[k] * f->ap[k];
    if (!(n > 1e-12)) return -1;
    for (int k = 0; k < 3; k++) f->ap[k] /= sqrt(n);
    f->lat[0] = f->ax[1] * f->ap[2] - f->ax[2] * f->ap[1];
    f->lat[1] = f->ax[2] * f->ap[0] - f->ax[0] * f->ap[2];
    f->lat[2] = f->ax[0] * f->ap[1] - f->ax[1] * f->ap[0];
    return 0;
}

/* Mean over a band of parallel lines of the mask fraction (label) or of HU (label < 0),
 * at s along `which` through the point (a, l, h) of the frame; the band spreads over the
 * two other frame directions by the given half-widths. NAN if any line leaves the volume. */
static double band_at(const mx_geom *g, const os_anatomy *an, const frame *f, int which, double a, double l,
                      double h, double s, double w1, double w2, int label) {
    double sum = 0;
    int n = 0;
    double st1 = w1 > 0 ? w1 / ceil(w1) : 1, st2 = w2 > 0 ? w2 / ceil(w2) : 1; /* ≈ 1 mm apart */
    for (double o1 = -w1; o1 <= w1 + 1e-9; o1 += st1) {
        for (double o2 = -w2; o2 <= w2 + 1e-9; o2 += st2) {
            double pa = a, pl = l, ph = h;
            if (which == 0) pa += o2, pl += o1, ph += s;
            else if (which == 1) pa += s, pl += o1, ph += o2;
            else pl += s, pa += o2, ph += o1;
            double p[3], v[3];
            point(f, pa, pl, ph, p);
            mx_lps_to_vox(g, p, v);
            double x = label < 0 ? mx_hu_at(g, v) : mx_label_at(g, an->body_mask, label, v);
            if (isnan(x)) return NAN;
            sum += x, n++;
        }
    }
    return sum / n;
}

/* Outermost 50 % crossings of the mask on either side of the centre along a line, keeping
 * to the run that holds the centre (so a neighbour's body never counts). */
static int mask_extent(const mx_geom *g, const os_anatomy *an, const frame *f, int which, double a, double l,
                       double h, double w1, double w2, int label, double *lo, double *hi) {
    int n = (int)(REACH_MM / STEP_MM);
    double prev = band_at(g, an, f, which, a, l, h, 0, w1, w2, label);
    if (!(prev >= 0.5)) return -1;
    for (int side = -1; side <= 1; side += 2) {
        double last_in = 0, edge = NAN, pv = prev;
        int gap = 0;
        for (int k = 1; k <= n; k++) {
            double s = side * k * STEP_MM, x = band_at(g, an, f, which, a, l, h, s, w1, w2, label);
            if (isnan(x)) break;
            if (x >= 0.5) {
                last_in = s, gap = 0;
            } else {
                if (gap == 0) edge = last_in + side * STEP_MM * (pv - 0.5) / (pv - x);
                /* A hole of a few mm (the basivertebral vein) is not the surface. */
                if (++gap * STEP_MM > 4.0) break;
            }
            pv = x;
        }
        if (isnan(edge)) return -1;
        if (side < 0) *lo = edge;
        else *hi = edge;
    }
    return 0;
}

/* Where along the axis line (going away from the body from `from`, direction dir = ±1)
 * the next vertebral body's mask begins; NAN when none within `reach`. */
static double neighbour_surface(const mx_geom *g, const os_anatomy *an, const frame *f, double a, int label,
                                double from, int dir, double reach) {
    double prev = 0;
    for (double t = 0; t <= reach; t += STEP_MM) {
        double s = from + dir * t, x = 0;
        for (int nb = label - 1; nb <= label + 1; nb += 2) {
            if (nb < 1 || nb > an->n_vertebrae) continue;
            double y = band_at(g, an, f, 0, a, 0, 0, s, BAND_MM, 0, nb);
            if (isnan(y)) return NAN;
            if (y > x) x = y;
        }
        if (x >= 0.5) return t > 0 ? s - dir * STEP_MM * (x - 0.5) / (x - prev) : s;
        prev = x;
    }
    return NAN;
}

/* Band-averaged HU along a line, with the voxels its central line was interpolated from
 * (the band's lines see the same layers when the band runs along the layers). */
static int profile_along(const mx_geom *g, const os_anatomy *an, const frame *f, int which, double a, double l,
                         double h, double s0, double s1, double w1, double w2, double ds, int flip,
                         double sigma0, mx_profile *p) {
    if (mx_profile_alloc(p, s0, s1, ds)) return -1;
    double d[3], o[3];
    const double *dir = which == 0 ? f->ax : which == 1 ? f->ap : f->lat;
    for (int k = 0; k < 3; k++) d[k] = flip ? -dir[k] : dir[k];
    point(f, a, l, h, o);
    mx_box_kernel(g, d, sigma0, &p->ka, &p->kb);
    for (int j = 0; j < p->n; j++) {
        double s = s0 + j * ds, q[3], v[3];
        p->hu[j] = band_at(g, an, f, which, a, l, h, flip ? -s : s, w1, w2, -1);
        for (int k = 0; k < 3; k++) q[k] = o[k] + s * d[k];
        mx_lps_to_vox(g, q, v);
        if (!mx_corners(g, v, o, d, p->w8 + 8 * (size_t)j, p->c8 + 8 * (size_t)j)) p->hu[j] = NAN;
        else mx_profile_merge(p, j);
    }
    return 0;
}

/* Cortical excess of the lateral walls at mid-height, where in-plane pixels resolve it,
 * and the scanner's blur that best explains them (tried over a few widths: a kernel
 * assumed too wide inflates the rim, one too narrow shrinks it). */
static double wall_rim(const mx_geom *g, const os_anatomy *an, const frame *f, int label, double *sigma0) {
    static const double S0[] = {0, 0.2, 0.4, 0.6, 0.8};
    double lo, hi, r[2];
    int n = 0;
    *sigma0 = DEFAULT_SIGMA0;
    if (mx_blur_sigma(g, f->lat) > WALL_THIN_SIGMA_MM) return NAN;
    if (mask_extent(g, an, f, 2, 0, 0, 0, 2.0, 2.0, label, &lo, &hi)) return NAN;
    double total[5] = {0}, rims[5][2];
    int ok[5][2] = {{0}};
    for (int side = 0; side < 2; side++) {
        /* The left wall is walked with s negated so both are crossed going +s. */
        double e = side ? hi : -lo;
        mx_profile p;
        if (profile_along(g, an, f, 2, 0, 0, 0, e - 8, e + 6, 6.0, 3.0, STEP_MM, !side, 0, &p)) return NAN;
        const double *d = f->lat;
        double dd[3] = {side ? d[0] : -d[0], side ? d[1] : -d[1], side ? d[2] : -d[2]};
        for (int k = 0; k < 5; k++) {
            double err;
            mx_box_kernel(g, dd, S0[k], &p.ka, &p.kb);
            rims[k][side] = mx_fit_wall_rim(&p, e, &err);
            ok[k][side] = isfinite(rims[k][side]) && rims[k][side] > 0 && rims[k][side] < 3000;
            total[k] += isfinite(err) ? err : 1e30;
        }
        mx_profile_free(&p);
    }
    int best = 0;
    for (int k = 1; k < 5; k++)
        if (total[k] < total[best]) best = k;
    for (int side = 0; side < 2; side++)
        if (ok[best][side]) r[n++] = rims[best][side];
    if (n) *sigma0 = S0[best];
    return n ? mx_median(r, (size_t)n) : NAN;
}

/* The discs the middle line resolved: each darker than the body by a clear margin (an
 * osteoporotic body no brighter than its discs gives nothing to hold); NAN where not. */
#define DISC_CONTRAST_HU 60.0
static void resolved_discs(const mx_edge_fit *fit, double disc_hu[2]) {
    for (int side = 0; side < 2; side++)
        disc_hu[side] = fit->disc_hu[side] < fit->bone_hu - DISC_CONTRAST_HU ? fit->disc_hu[side] : NAN;
}

void mx_wall_rim(const mx_geom *g, const os_anatomy *an, int i, double *excess, double *sigma0) {
    *excess = *sigma0 = NAN;
    frame f;
    if (!an->body_mask || make_frame(&an->vertebrae[i], &f) || mx_blur_sigma(g, f.ax) <= THIN_SIGMA_MM) return;
    double s0;
    *excess = wall_rim(g, an, &f, i + 1, &s0);
    if (isfinite(*excess)) *sigma0 = s0;
}

int mx_heights(const mx_geom *g, const os_anatomy *an, int i, double excess, double sigma0_study,
               os_vertebra_measure *vm, mx_endplates *ep) {
    const os_vertebra *v = &an->vertebrae[i];
    int label = i + 1;
    vm->h_ant = vm->h_mid = vm->h_post = vm->ap_depth_mm = vm->ratio_min_max = NAN;
    mx_endplates ep_unused;
    if (!ep) ep = &ep_unused;
    for (int k = 0; k < 3; k++) ep->a[k] = ep->lo[k] = ep->hi[k] = NAN;
    frame f;
    if (!an->body_mask || make_frame(v, &f)) {
        snprintf(vm->note, sizeof vm->note, "heights not measured: no body mask or no axis");
        return -1;
    }
    /* The AP depth sets where the three heights are taken, so a mask that runs on beyond
     * the anterior cortex (an osteophyte, or the aorta or crus touching the body) or is
     * drawn a little wide puts the "anterior" line at the wall or in soft tissue, where a
     * wedge is tallest or nothing is bone. The mask gives a first guess of each wall and
     * the HU profile along the mid-line (whose cortical rim in-plane pixels resolve) places
     * it, as the endplates are placed. */
    double post, ant;
    if (mask_extent(g, an, &f, 1, 0, 0, 0, 2.0, 2.0, label, &post, &ant)) {
        snprintf(vm->note, sizeof vm->note, "heights not measured: the body's AP extent was not found");
        return -1;
    }
    /* Run at any in-plane blur: the model carries the blur, and a mask that took in the
     * aorta is as wrong on coarse pixels as on fine ones. */
    for (int side = 0; side < 2; side++) {
        /* Each wall is crossed going +s from inside: the posterior one with s negated.
         * A band of ±3 mm laterally and along the axis averages out noise, keeps well off
         * the endplates and still sees the posterior cortex beside the basivertebral
         * vein's notch. */
        double e = side ? ant : -post, rim;
        mx_profile p;
        if (profile_along(g, an, &f, 1, 0, 0, 0, fmax(2.0, e - WALL_REACH_MM - 4), e + 6, 3.0, 3.0, STEP_MM,
                          !side, DEFAULT_SIGMA0, &p))
            continue;
        double w = mx_fit_wall_pos(&p, fmax(3.0, e - WALL_REACH_MM), e + 1.5, &rim);
        mx_profile_free(&p);
        /* Only a wall with a real cortical rim replaces the mask's. */
        if (isfinite(w) && rim > 100) {
            if (side) ant = w;
            else post = -w;
        }
    }
    vm->ap_depth_mm = ant - post;
    memcpy(ep->c, f.c, sizeof ep->c), memcpy(ep->ax, f.ax, sizeof ep->ax), memcpy(ep->ap, f.ap, sizeof ep->ap);
    double sigma = mx_blur_sigma(g, f.ax);
    double rim = NAN, sigma0 = DEFAULT_SIGMA0;
    if (sigma > THIN_SIGMA_MM) {
        rim = isfinite(excess) ? excess : DEFAULT_RIM;
        if (isfinite(sigma0_study)) sigma0 = sigma0_study;
    }
    static const double U[3] = {0.85, 0.50, 0.15};
    /* On thick slices the middle line goes first: lordosis thins the discs towards the
     * back, and where a disc is thinner than a slice its dark band is filled in by the
     * bright rims on both sides, so a profile that also solves for the disc's HU can trade
     * it for the endplates' positions over several mm (a 3–4 mm posterior disc on 5 mm
     * slices). The discs' HU is taken from the middle line (thicker there than at the back,
     * and clear of the anterior wall and a wedge's slope) and held for the other two. */
    static const int ORDER[3] = {1, 0, 2};
    /* The axis points cranially and the vertebrae run cranial to caudal. */
    const int beyond[2] = {i + 1 < an->n_vertebrae, i > 0};
    double h[3], disc_hu[2] = {NAN, NAN}, mid_bone = NAN;
    int fallback = 0, failed = 0, unlike = 0;
    for (int o = 0; o < 3; o++) {
        int k = ORDER[o];
        double a = post + U[k] * vm->ap_depth_mm, lo = NAN, hi = NAN;
        h[k] = NAN;
        if (mask_extent(g, an, &f, 0, a, 0, 0, BAND_MM, 0, label, &lo, &hi)) {
            failed++;
            continue;
        }
        mx_profile p;
        if (profile_along(g, an, &f, 0, a, 0, 0, lo - MARGIN_MM, hi + MARGIN_MM, BAND_MM, BAND_AP_MM,
                          fmin(0.5, fmax(0.2, sigma / 4)), 0, sigma0, &p)) {
            failed++;
            continue;
        }
        /* An endplate whose blurred edge runs off the volume cannot be placed. */
        int cut = 0;
        for (int j = 0; j < p.n; j++) {
            double s = p.s0 + j * p.ds;
            if (isnan(p.hu[j]) && (fabs(s - lo) < 3 * sigma + 2 || fabs(s - hi) < 3 * sigma + 2)) cut = 1;
        }
        mx_edge_fit fit;
        if (cut) {
            failed++;
        } else if (mx_fit_body(&p, lo, hi, neighbour_surface(g, an, &f, a, label, lo, -1, MARGIN_MM),
                               neighbour_surface(g, an, &f, a, label, hi, 1, MARGIN_MM), rim,
                               k != 1 ? disc_hu : NULL, BODY_REACH_MM, beyond, &fit) == 0 &&
                   fabs(fit.lo - lo) < BODY_REACH_MM + 1 && fabs(fit.hi - hi) < BODY_REACH_MM + 1) {
            if (k == 1) mid_bone = fit.bone_hu;
            if (k != 1 && fit.bone_hu < mid_bone - UNLIKE_BONE_HU) {
                unlike++, failed++;
            } else {
                h[k] = fit.hi - fit.lo;
                ep->a[k] = a, ep->lo[k] = fit.lo, ep->hi[k] = fit.hi;
            }
            if (k == 1 && sigma > THIN_SIGMA_MM) resolved_discs(&fit, disc_hu);
        } else {
            h[k] = hi - lo; /* the mask's own extent: coarser, but honest */
            ep->a[k] = a, ep->lo[k] = lo, ep->hi[k] = hi;
            fallback++;
        }
        mx_profile_free(&p);
    }
    vm->h_ant = h[0], vm->h_mid = h[1], vm->h_post = h[2];
    if (unlike)
        snprintf(vm->note, sizeof vm->note,
                 "%d of 3 heights not measured: the HU profile there shows no bone like the body's middle", unlike);
    else if (failed)
        snprintf(vm->note, sizeof vm->note, "%d of 3 heights not measured: the body runs off the scan or its mask",
                 failed);
    else if (fallback)
        snprintf(vm->note, sizeof vm->note, "%d of 3 heights from the body mask only (the HU profile did not fit)",
                 fallback);
    if (!failed) {
        double mn = fmin(h[0], fmin(h[1], h[2])), mx = fmax(h[0], fmax(h[1], h[2]));
        vm->ratio_min_max = mx > 0 ? mn / mx : NAN;
    }
    return failed ? -1 : 0;
}

/* A measured body must sit between two discs: the gap along the axis from its posterior
 * endplate to the neighbour's facing one (the posterior line, where wedges hinge and
 * biconcave bodies stay intact, so a fracture never widens it) is a disc a few mm thick.
 * A gap that is negative or far wider than any disc means one of the two bodies was
 * measured on the wrong extent (a body mask split inside a body, or two bodies merged);
 * both are then withheld rather than graded on a wrong height. */
#define DISC_MIN_MM 0.5
#define DISC_MAX_MM 18.0

static double posterior_gap(const mx_endplates *up, const mx_endplates *dn) {
    if (!isfinite(up->lo[2]) || !isfinite(dn->hi[2])) return NAN;
    double d = 0;
    for (int k = 0; k < 3; k++) {
        double pu = up->c[k] + up->a[2] * up->ap[k] + up->lo[2] * up->ax[k];
        double pd = dn->c[k] + dn->a[2] * dn->ap[k] + dn->hi[2] * dn->ax[k];
        d += (pu - pd) * (up->ax[k] + dn->ax[k]) / 2;
    }
    return d;
}

/* A body under this share of an adjacent intact body's posterior height at every line is a
 * sliver cut off a body at a wrongly placed disc far more often than a vertebra plana, and
 * its "trabecular" HU is then endplate cortex: both are withheld, with a warning to review.
 * Where neither neighbour has a height (their own were withheld around the same misplaced
 * disc), the median posterior height of the spine's measured bodies is the reference: a
 * 3 mm piece of T11 between two withheld bodies was graded as a mild fracture of "T10". */
#define SLIVER_RATIO 0.35
#define SLIVER_MIN_BODIES 3

static double median_posterior(const os_anatomy *an, const os_measurements *m) {
    double h[OS_MAX_VERTEBRAE];
    int n = 0;
    for (int i = 0; i < m->n_vertebrae; i++)
        if (isfinite(m->vertebrae[i].h_post) && !an->vertebrae[i].cut_by_fov && an->vertebrae[i].level != OS_S1)
            h[n++] = m->vertebrae[i].h_post;
    return n >= SLIVER_MIN_BODIES ? mx_median(h, (size_t)n) : NAN;
}

static void withhold_slivers(const os_anatomy *an, os_measurements *m) {
    double typical = median_posterior(an, m);
    for (int i = 0; i < m->n_vertebrae; i++) {
        os_vertebra_measure *vm = &m->vertebrae[i];
        double tallest = fmax(vm->h_ant, fmax(vm->h_mid, vm->h_post)), ref = NAN; /* fmax skips NAN */
        for (int j = i - 1; j <= i + 1; j += 2) {
            if (j < 0 || j >= m->n_vertebrae || an->vertebrae[j].cut_by_fov) continue;
            if (an->vertebrae[i].level >= 0 && an->vertebrae[j].level >= 0 &&
                abs(an->vertebrae[j].level - an->vertebrae[i].level) != 1)
                continue;
            if (isfinite(m->vertebrae[j].h_post) && !(m->vertebrae[j].h_post <= ref)) ref = m->vertebrae[j].h_post;
        }
        if (!isfinite(ref)) ref = typical;
        if (!isfinite(tallest) || !isfinite(ref) || tallest >= SLIVER_RATIO * ref) continue;
        vm->h_ant = vm->h_mid = vm->h_post = vm->ratio_min_max = NAN;
        vm->trab_hu_mean = vm->trab_hu_median = NAN;
        snprintf(vm->note, sizeof vm->note,
                 "heights and attenuation withheld: the body is under %.0f %% of its neighbour's (or, without "
                 "one, a typical body's) height at every line (a body split at a misplaced disc, or vertebra plana)",
                 100 * SLIVER_RATIO);
        mx_warn(m, "%s: body under %.0f %% of its neighbour's height: vertebra plana or a segmentation error, review",
                os_level_name(vm->level), 100 * SLIVER_RATIO);
    }
}

void mx_heights_check(const os_anatomy *an, const mx_endplates *ep, os_measurements *m) {
    int bad[OS_MAX_VERTEBRAE] = {0};
    for (int i = 0; i + 1 < m->n_vertebrae; i++) {
        const os_vertebra *u = &an->vertebrae[i], *d = &an->vertebrae[i + 1];
        if (u->level >= 0 && d->level >= 0 && d->level - u->level != 1) continue; /* not adjacent */
        /* S1's top is fitted on the sacrum, whose posterior edge slopes back into the sacral
         * canal and whose body continues into S2: its posterior endplate came 10-14 mm off on
         * the bench and withheld L5s measured within 1.5 mm. L5 is judged on its own. */
        if (d->level == OS_S1) continue;
        double gap = posterior_gap(&ep[i], &ep[i + 1]);
        if (isfinite(gap) && (gap < DISC_MIN_MM || gap > DISC_MAX_MM)) bad[i] = bad[i + 1] = 1;
    }
    for (int i = 0; i < m->n_vertebrae; i++) {
        os_vertebra_measure *vm = &m->vertebrae[i];
        if (!bad[i] || isnan(vm->h_post)) continue;
        vm->h_ant = vm->h_mid = vm->h_post = vm->ratio_min_max = NAN;
        snprintf(vm->note, sizeof vm->note,
                 "heights withheld: a disc to a neighbour measured implausibly thin or wide (body mask "
                 "holding part of a body, or two)");
        mx_warn(m, "%s: heights withheld and not graded (the body's extent was not found reliably)",
                os_level_name(vm->level));
    }
    withhold_slivers(an, m);
}
