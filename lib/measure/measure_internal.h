/* lib/measure, internal: the pieces os_measure_all strings together. Shared only by the
 * files of this folder; nothing here is public API. */
#ifndef OSTEOSCOUT_MEASURE_INTERNAL_H
#define OSTEOSCOUT_MEASURE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "osteoscout/measure.h"

/* ---- sample.c: geometry and interpolation in patient space ---- */

/* Inverse of the voxel → LPS map, so points on lines drawn in mm can be sampled. */
typedef struct mx_geom {
    const os_volume *vol;
    double m[3][3];   /* LPS offset from origin → voxel index (rows: x, y, z) */
} mx_geom;

int mx_geom_init(mx_geom *g, const os_volume *vol);
void mx_lps_to_vox(const mx_geom *g, const double p[3], double v[3]);
/* Trilinear HU at a voxel position; NAN outside the volume. */
double mx_hu_at(const mx_geom *g, const double v[3]);
/* Trilinear fraction of the 8 neighbours whose label equals `label` (0…1); NAN outside. */
double mx_label_at(const mx_geom *g, const uint8_t *mask, int label, const double v[3]);
/* Standard deviation (mm) of the blur a profile sampled along unit direction d suffers:
 * each voxel averages its box, and trilinear interpolation adds a triangle of the same
 * width; both projected on d (box variance w²/12, triangle w²/6, so w²/4 per axis). */
double mx_blur_sigma(const mx_geom *g, const double d[3]);
/* The voxel box projected on d, as the two widths of a trapezoid kernel (a ≥ b): the
 * largest projection, and the others (and the scanner's own blur, sigma0 mm) folded into b. */
void mx_box_kernel(const mx_geom *g, const double d[3], double sigma0, double *a, double *b);
/* The 8 trilinear neighbours of voxel position v: weights and the position of each
 * voxel centre along d, measured from the LPS point `origin` (mm). 0 when outside. */
int mx_corners(const mx_geom *g, const double v[3], const double origin[3], const double d[3], double w[8],
               double c[8]);
/* Median of n values (reorders them); NAN when n == 0. */
double mx_median(double *x, size_t n);

/* ---- edge.c: sub-voxel endplate positions from an HU profile ---- */

/* A profile along one line: s (mm from the line's origin) and HU, on a regular step, with
 * for each sample the voxels it was interpolated from (weights and centre positions along
 * the line), so the fit can model exactly what the grid did to the anatomy. */
typedef struct mx_profile {
    double s0, ds;
    int n;
    double *hu;   /* NAN where outside the volume */
    double *w8;   /* n × 8 */
    double *c8;   /* n × 8 */
    double ka, kb; /* trapezoid kernel widths of one voxel along the line */
} mx_profile;

int mx_profile_alloc(mx_profile *p, double s0, double s1, double ds);
void mx_profile_free(mx_profile *p);
/* Folds sample j's voxels that sit at the same position along the line (fewer to model). */
void mx_profile_merge(mx_profile *p, int j);

/* Fit of a body between two discs along a line: positions of the lower and upper endplate
 * surfaces (s, mm). lo/hi are initial guesses (from the mask), nb_lo/nb_hi those of the
 * neighbouring bodies' near surfaces (NAN when the mask shows none). rim_excess_hu_mm is the
 * cortical excess (HU × mm above the trabecular level) assumed when the profile cannot
 * resolve it (thick slices); NAN lets the fit estimate it. reach (mm) is how far the body's
 * own surfaces may move from lo/hi (NAN: about half a voxel, trusting the mask). disc_hu
 * (NULL: solved for) holds the HU of the disc below and above when known from a line where
 * the discs are resolved. beyond (NULL: both) says whether the anatomy has a body below
 * (lo side) and above: past the end of the column the surfaces do not reach outward, and
 * where there is a body beyond but nb_lo/nb_hi is NAN its surface is looked for in the
 * profile. */
typedef struct mx_edge_fit {
    double lo, hi;
    double bone_hu, rim_excess;
    double disc_hu[2]; /* the disc layers' HU below and above the body */
    int ok;
} mx_edge_fit;

int mx_fit_body(const mx_profile *p, double lo0, double hi0, double nb_lo0, double nb_hi0, double rim_excess_hu_mm,
                const double *disc_hu, double reach, const int *beyond, mx_edge_fit *out);
/* One wall crossed going outward (direction +s), for measuring the cortical rim where the
 * resolution allows: returns the rim excess (HU × mm) or NAN, and the residual in *sse. */
double mx_fit_wall_rim(const mx_profile *p, double e0, double *sse);
/* The same wall placed anywhere in [lo, hi] (the position, NAN when no fit; its rim excess
 * in *rim): where a body's wall is, when the mask cannot be trusted to within a few mm. */
double mx_fit_wall_pos(const mx_profile *p, double lo, double hi, double *rim);

/* ---- heights.c ---- */
/* Where the heights found the endplates, in the vertebra's frame (centre c, unit axis ax
 * cranial and ap anterior): along the lines at ap offsets a[k] (anterior, middle,
 * posterior) the body runs from lo[k] to hi[k] mm along the axis; NAN where not found.
 * The trabecular ROI uses them to keep off the real endplates, which the body mask can
 * overshoot by several mm in a deformed body. */
typedef struct mx_endplates {
    double c[3], ax[3], ap[3];
    double a[3], lo[3], hi[3];
} mx_endplates;

/* The cortical rim's excess (HU × mm over the bone it bounds) and the scanner's in-plane blur
 * sigma0 (mm), read off vertebra i's lateral walls; both NAN where the slices are thin enough
 * for the endplate profiles to resolve the rim themselves, or no wall was found. */
void mx_wall_rim(const mx_geom *g, const os_anatomy *a, int i, double *excess, double *sigma0);
/* ep may be NULL; it is filled (all NAN when nothing was measured). excess and sigma0 are the
 * study's (mx_wall_rim pooled over its vertebrae; NAN: a typical value is assumed). */
int mx_heights(const mx_geom *g, const os_anatomy *a, int i, double excess, double sigma0, os_vertebra_measure *vm,
               mx_endplates *ep);
/* Withholds the heights of bodies whose discs to the next body are implausible (ep: one per
 * vertebra, as mx_heights filled them), with a note and a warning. */
void mx_heights_check(const os_anatomy *a, const mx_endplates *ep, os_measurements *m);

/* ---- genant.c ---- */
void mx_genant_all(const os_anatomy *a, os_measurements *m);

/* ---- trabecular.c ---- */
/* ep (may be NULL) restricts the ROI to erosion_mm inside the endplates the heights found. */
int mx_trabecular(const os_volume *vol, const os_anatomy *a, int i, double erosion_mm, const mx_endplates *ep,
                  os_vertebra_measure *vm);

/* ---- aorta.c ---- */
/* Median HU of the aorta at L1/L2 (NAN when not found), and a sentence why not. */
double mx_aorta_hu(const os_volume *vol, const os_anatomy *a, char *why, size_t why_len);
os_phase mx_phase_of(double aorta_hu);
const char *mx_phase_name(os_phase p);

/* ---- bmd.c ---- */
void mx_bmd(const os_volume *vol, const os_anatomy *a, const os_measure_opts *o, os_measurements *m);
/* calibrated = -1000 + (hu - air) × 900 / (fat - air); NAN when the references are unusable. */
double mx_calibrate(double hu, double air, double fat);

/* ---- muscle.c ---- */
void mx_muscle(const os_volume *vol, const os_anatomy *a, const os_measure_opts *o, int level,
               os_muscle_measure *mm);

/* ---- measure.c ---- */
void mx_warn(os_measurements *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
