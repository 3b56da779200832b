/* Shared state of the spine finder (lib/anatomy): the steps (bone.c, canal.c, bodies.c,
 * pedicles.c, discs.c, masks.c, ribs.c, sacrum.c, labels.c) read and fill one sp_ctx in
 * order, so each file can be read on its own. Not a public header. */
#ifndef OS_ANATOMY_SPINE_INTERNAL_H
#define OS_ANATOMY_SPINE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "osteoscout/anatomy.h"

/* Bits of sp_ctx.cls, one byte per voxel, only inside the spine's region of interest. */
#define SP_BONE 1u  /* smoothed HU above the bone threshold */
#define SP_BODY 2u  /* per-slice vertebral body candidate (before the split by discs) */

#define SP_MAX_DISCS 32

typedef struct sp_disc {
    double s;          /* centre along the spine axis (mm, same scale as sp_ctx.s_of_z) */
    double lo, hi;     /* extent of the disc slab along the axis */
    double depth;      /* how clearly it dips (0..1) */
    double width;      /* mm between the points where the dip is back up to half its depth */
    double gain;       /* evidence that it is a disc, weighed when the chain is chosen */
} sp_disc;

/* The s extent of one run of slices showing pedicles (pedicles.c). */
typedef struct sp_run {
    double lo, hi;
    int at_edge;       /* touches the end of the spine in view: maybe cut */
} sp_run;
#define SP_MAX_RUNS 24

/* qsort orders for the steps' medians and quantiles. */
static inline int sp_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static inline int sp_cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return x < y ? -1 : x > y;
}

typedef struct sp_ctx {
    const os_volume *vol;
    const os_anatomy_opts *opts;
    os_anatomy *a;
    int nx, ny, nz;
    size_t plane;          /* nx * ny */
    double sx, sy, sz;     /* mm */
    int ypost;             /* +1 when increasing y goes posterior, -1 otherwise */
    int zcran;             /* +1 when increasing z goes cranial */
    double noise_sd;       /* HU, estimated */
    int smooth;            /* 3×3 mean before thresholds: only on fine pixels (< 1.2 mm), where
                              it costs no detail; on coarse pixels it would blur the cortex away */
    int16_t *den;          /* coarse pixels only: the in-plane 1-2-1 smoothed volume, read by the
                              detection steps instead of the HU (measurements keep the HU) */
    double den_sd;         /* HU, noise left in what the thresholds are applied to */
    int t_bone;            /* HU: bright bone (cortex, endplates, dense trabecular) */
    int t_soft;            /* HU: lower bound of any vertebral body content */
    int t_disc;            /* HU: bright bone on the unsmoothed HU, for the disc profile: there a
                              thin cortex keeps its peak, which smoothing would flatten towards
                              the trabecular bone it encloses */
    uint8_t *cls;          /* nx*ny*nz bits SP_* */

    /* Spinal canal centre per slice (voxel units), valid for z in [z_lo, z_hi]. */
    int z_lo, z_hi;
    double *canal_x, *canal_y;
    uint8_t *canal_seen;   /* 1 where the slice showed an enclosed canal */

    /* Per-slice vertebral body candidate. */
    double *body_x, *body_y; /* centroid, voxel units; NaN when none */
    double *body_area;       /* mm² */
    double *body_halfw, *body_halfd; /* mm, half width (lateral) and half depth (AP) */
    double *wall_a;          /* mm anterior of the canal centre where the posterior wall is */

    /* Smoothed spine centre line through the bodies and its unit tangent in mm
     * (x, y, z scaled by spacing), per slice; s_of_z is arc length (mm) from z_lo. */
    double *cx, *cy;         /* voxel units */
    double (*tan)[3];
    double *s_of_z;

    sp_disc discs[SP_MAX_DISCS];
    int n_discs;
    double s_min, s_max;     /* arc length range of the spine inside the scan */
    double s_sacrum;         /* arc length of the top of the sacral alae; NAN when not seen */

    /* Pedicle runs above the sacrum, in s order: one per vertebra, on the upper half of its
     * body. Trusted (ped_ok) only when they come as regularly as vertebrae do. */
    sp_run ped[SP_MAX_RUNS];
    int n_ped, ped_ok;

    /* Per vertebra (index into a->vertebrae): whether its rib status could be judged (a
     * body cut by the scan may have its rib out of view), and whether it is sacral. */
    int rib_known[OS_MAX_VERTEBRAE];
    int sacral[OS_MAX_VERTEBRAE];
    double height_mm[OS_MAX_VERTEBRAE];
    int vbox[OS_MAX_VERTEBRAE][6];      /* x0 x1 y0 y1 z0 z1 of each body mask, inclusive */ /* along the axis, between its discs; 0 if open-ended */
} sp_ctx;

static inline int sp_cancelled(const sp_ctx *c) {
    return c->opts && c->opts->cancel && *c->opts->cancel;
}
static inline size_t sp_idx(const sp_ctx *c, int x, int y, int z) {
    return (size_t)x + (size_t)c->nx * ((size_t)y + (size_t)c->ny * (size_t)z);
}

/* Box mean of 3×3 pixels of slice z at (x, y), clamped at the edges. */
int sp_smooth_at(const sp_ctx *c, int x, int y, int z);
/* Whole-slice 3×3 box mean into dst (nx*ny int16). */
void sp_smooth_slice(const sp_ctx *c, int z, int16_t *dst);

int sp_bone_setup(sp_ctx *c, os_error *err);            /* bone.c: noise, thresholds */
int sp_canal_track(sp_ctx *c, os_error *err);           /* canal.c */
int sp_bodies_segment(sp_ctx *c, os_error *err);        /* bodies.c: per-slice bodies */
int sp_centreline_fit(sp_ctx *c, os_error *err);        /* axis.c */
void sp_sacrum_top(sp_ctx *c);                          /* sacrum.c: s_sacrum, before discs */
void sp_pedicles_find(sp_ctx *c);                       /* pedicles.c: before discs */
int sp_pedicle_runs_between(const sp_ctx *c, double a, double b); /* -1: no trusted runs */
void sp_pedicle_fill_missed(sp_ctx *c);                 /* after the chain of discs */
int sp_discs_find(sp_ctx *c, os_error *err);            /* discs.c */
void sp_discs_sort(sp_ctx *c);                          /* c->discs in order of s */
int sp_masks_build(sp_ctx *c, os_error *err);           /* masks.c: 3D body masks, vertebrae */
int sp_trab_build(sp_ctx *c, os_error *err);            /* trab.c */
int sp_ribs_find(sp_ctx *c, os_error *err);             /* ribs.c */
int sp_sacrum_find(sp_ctx *c, os_error *err);           /* sacrum.c */
void sp_labels_assign(sp_ctx *c);                       /* labels.c */

/* Voxel (fractional) → LPS mm and a voxel-space mm direction → LPS unit vector. */
void sp_dir_to_lps(const sp_ctx *c, const double d_mm[3], double out[3]);

#endif
