/* The phantom's model: every tissue label, the spine's layout (curve and per-vertebra rigid
 * frames), the soft-tissue plan, and the per-plane painting context. Internal to lib/phantom;
 * the files that paint (spine.c, bones.c, soft_tissue.c) and the renderer share it. */
#ifndef OSTEOSCOUT_PHANTOM_MODEL_H
#define OSTEOSCOUT_PHANTOM_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "osteoscout/phantom.h"

/* Tissue labels. Per-vertebra trabecular bone has its own label so each level can carry
 * its own HU through the same lookup table. */
enum {
    L_AIR = 0, L_SKIN, L_SAT, L_VAT, L_IMAT,
    L_PSOAS, L_ERECTOR, L_QL, L_WALL, L_MUSCLE_OTHER,
    L_LIVER, L_SPLEEN, L_KIDNEY_CORTEX, L_KIDNEY_MEDULLA,
    L_BOWEL_WALL, L_BOWEL_FLUID, L_GAS, L_FECES,
    L_AORTA, L_IVC, L_DISC, L_CSF, L_CORTICAL, L_TRAB_OTHER, L_VEIN,
    L_TRAB_V0 = 32, /* + vertebra index */
    L_COUNT = 64
};

/* Rendered vertebrae T8 … L5 (so a scan reaching above T10 still shows a spine); truth
 * covers T10 … L5, index PH_V_T10 + level. */
#define PH_NV 10
#define PH_V_T10 2

typedef struct ph_vertebra {
    int level;            /* -2 (T8) … 7 (L5) */
    double H, D, W;       /* intact body height, AP depth, width, mm */
    double cv;            /* central endplate concavity, mm per endplate */
    int deformity;
    double loss;
    double trab_hu;
    double o[3], ax[3], ap[3]; /* rigid frame: origin, superior axis, anterior direction */
    double canal_ra, canal_rl, canal_a, arch_t, sp_len, sp_w, sp_slope, tp_tip;
    double bb[6];         /* global box: x0 x1 y0 y1 z0 z1 */
} ph_vertebra;

typedef struct ph_frame {
    double o[3], ax[3], ap[3];
} ph_frame;

/* Points along a tube's centre line (ribs, colon), with the tube's radius and wall. */
typedef struct ph_tube {
    int n;
    double (*p)[3];
    double r, wall;
    int inner, shell;     /* labels; shell 0: none */
    int gas_top;          /* colon: gas in the anterior part */
    double bb[6];
} ph_tube;

typedef struct ph_blob {  /* axis-aligned ellipsoid: bowel loop */
    double c[3], r[3];
    int content;
} ph_blob;

typedef struct ph_model {
    os_phantom_opts o;
    int n_slices;
    double z_first, x0, y0;   /* centre of the first slice's pixel (0, 0) */
    double hu[L_COUNT];
    double bone_scale, height_m;
    char sex;
    /* spine curve: s = 0 at the S1 endplate centre, constant curvature k between 0 and
     * s_top (apex s_a), straight above and below */
    double k, s_a, s_top, curve_y0, curve_z0;
    ph_vertebra v[PH_NV];
    double disc_h[PH_NV];     /* disc below each vertebra (last: L5/S1) */
    ph_frame sacrum;
    double sac_W, sac_D, sac_len;
    double z_top_scan, z_bot_scan; /* the chosen range, before the margin */
    /* soft tissue plan */
    double sat_a, sat_l, sat_p, vat_extra, wall_t, imat_t, y_back_L3, es_depth_L3;
    double fill;
    double aorta_r;
    int n_blobs;
    ph_blob *blobs;
    int n_tubes;
    ph_tube tubes[16];
    int rib_of[PH_NV];        /* 1 where the vertebra carries a rib pair */
} ph_model;

/* The sample grid of one sub-plane, painted front to back. */
typedef struct ph_plane {
    const ph_model *m;
    double z;
    double x0, y0, d;         /* first sample centre and sample pitch, mm */
    int nx, ny;
    uint8_t *lab;
    /* soft-tissue geometry at this z */
    double spine_y, spine_phi, body_W, body_D, canal_y;
    double fx, f_front, f_back, f_cy;  /* fascia oval */
    double c_ax, c_front, c_back;       /* cavity */
} ph_plane;

/* spine.c */
void ph_spine_layout(ph_model *m);
double ph_endplate_sup(const ph_vertebra *v, double u);
double ph_endplate_inf(const ph_vertebra *v, double u);
void ph_vertebra_center(const ph_vertebra *v, double c[3]);
void ph_curve_at_z(const ph_model *m, double z, double *y, double *phi);
void ph_paint_spine(ph_plane *p);

/* bones.c */
int ph_ribs_build(ph_model *m);
void ph_paint_pelvis(ph_plane *p);
void ph_paint_tube(ph_plane *p, const ph_tube *t);
void ph_tube_bounds(ph_tube *t);

/* soft_tissue.c */
int ph_soft_plan(ph_model *m);
void ph_plane_setup(ph_plane *p);
void ph_paint_soft(ph_plane *p);

/* shared helpers (spine.c) */
void ph_local(const double o[3], const double ax[3], const double ap[3], const double q[3],
              double *a, double *l, double *h);
/* Sample index range [*i0, *i1] covering lo…hi along one grid axis; empty if *i0 > *i1. */
void ph_span(double lo, double hi, double first, double d, int n, int *i0, int *i1);

/* render.c: classes for the muscle and fat truth, in tie-break order (a voxel split
 * evenly between muscle and fat counts as muscle). */
enum { PH_C_PSOAS, PH_C_ERECTOR, PH_C_QL, PH_C_WALL, PH_C_MUSCLE_OTHER, PH_C_IMAT, PH_C_VAT,
       PH_C_SAT, PH_C_OTHER, PH_C_AIR, PH_NCLS };

typedef struct ph_slice_stats {
    long n[PH_NCLS];
    double hu_sum[PH_NCLS];
} ph_slice_stats;

void ph_sampling(const ph_model *m, int *n_xy, int *n_z);
/* Noise-free HU of slice idx (rows × cols, partial volume by supersampling); with stats,
 * also labels each voxel by its majority class and sums area and HU per class. */
int ph_render_slice(const ph_model *m, int idx, float *clean, ph_slice_stats *stats);
/* Slices first … first+count-1 into out (count × rows × cols) on nthreads threads. */
int ph_render_batch(const ph_model *m, int first, int count, float *out, int nthreads);

#endif
