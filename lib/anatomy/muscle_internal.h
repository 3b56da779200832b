/* Shared state of the muscle-and-fat half of lib/anatomy (muscle*.c, fat_*.c, body_outline.c):
 * one slice at a time, in scratch buffers sized for one slice, so the 3D work over T12–L4
 * costs a few slice-sized buffers and no volume-sized float. Not a public header. */
#ifndef OS_ANATOMY_MUSCLE_INTERNAL_H
#define OS_ANATOMY_MUSCLE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "osteoscout/anatomy.h"

/* Where the spine is on one slice, in the slice's own mm frame: u lateral, v posterior. */
typedef struct ms_frame {
    double cx, cy;   /* vertebral body centre, voxel units */
    double ax, ay;   /* unit vector towards anterior, in mm space (x scaled by sx, y by sy) */
    double hw, hd;   /* body half width and half depth, mm */
    int vidx;        /* vertebra the slice belongs to (index into a->vertebrae), -1 between */
    int level;       /* os_level of that vertebra or of the nearest one, -1 unknown */
} ms_frame;

/* Rectangle of a slice that the work is limited to, [x0, x1) × [y0, y1). */
typedef struct ms_rect {
    int x0, y0, x1, y1;
} ms_rect;

typedef struct ms_ctx {
    const os_volume *vol;
    os_anatomy *a;
    const os_anatomy_opts *opts;
    int nx, ny, nz;
    size_t plane;
    double sx, sy;        /* pixel spacing, mm */
    int z;                /* the slice being worked on */
    int muscle_ref;       /* median smoothed HU of the paraspinal seeds: this slice's muscle */
    const int16_t *hu;    /* the raw slice being worked on */
    int16_t *sm;          /* its smoothed copy: used to decide, never to measure */
    uint8_t *body;        /* 1 inside the trunk outline (holes filled, table and arms out) */
    uint8_t *fascia;      /* 1 inside the inner boundary of the subcutaneous fat */
    uint8_t *comp;        /* muscle compartment of each pixel: os_tissue 1..4, 0 none */
    uint8_t *t1, *t2, *t3; /* scratch masks */
    uint8_t *vbody;       /* the vertebral body on the slice as the paraspinal muscles see it */
    double *ray_buf;      /* fat_wall.c: per-ray profiles */
    float *d2;            /* squared distances, mm² */
    float *ftmp;          /* EDT scratch (max(nx, ny) * 3 + 2 floats) */
    int *itmp;            /* EDT scratch (max(nx, ny)) */
    int *queue;           /* plane-sized: flood fills and growth */
    double vhw[OS_MAX_VERTEBRAE], vhd[OS_MAX_VERTEBRAE]; /* body half sizes at each centre, mm */
    ms_frame fr;
    ms_rect roi;          /* area of the slice worth looking at */
} ms_ctx;

static inline int ms_is_muscle(int hu) { return hu >= OS_MUSCLE_HU_MIN && hu <= OS_MUSCLE_HU_MAX; }
static inline int ms_is_fat(int hu) { return hu >= OS_FAT_HU_MIN && hu <= OS_FAT_HU_MAX; }

/* Pixel → (u, v) mm in the spine frame; v > 0 is posterior of the body centre. */
static inline void ms_uv(const ms_ctx *c, int x, int y, double *u, double *v) {
    double dx = (x - c->fr.cx) * c->sx, dy = (y - c->fr.cy) * c->sy;
    *v = -(dx * c->fr.ax + dy * c->fr.ay);
    *u = -dx * c->fr.ay + dy * c->fr.ax;
}

/* muscle_morph.c: distances and morphology with radii in mm, limited to a rectangle. */
void ms_dist2(ms_ctx *c, const uint8_t *mask, int val, const ms_rect *r, float *out);
void ms_dilate(ms_ctx *c, const uint8_t *in, uint8_t *out, double r_mm, const ms_rect *r);
void ms_erode(ms_ctx *c, const uint8_t *in, uint8_t *out, double r_mm, const ms_rect *r);
void ms_close(ms_ctx *c, uint8_t *m, double r_mm, const ms_rect *r);
void ms_fill_holes(ms_ctx *c, uint8_t *m, const ms_rect *r);
/* Keeps the 8-connected component of m containing (x, y) (m set to 0 elsewhere). */
long ms_keep_component(ms_ctx *c, uint8_t *m, int x, int y, const ms_rect *r);
void ms_smooth(ms_ctx *c, const ms_rect *r);

/* muscle_frame.c: body sizes of every vertebra (once), then the spine frame of slice z;
 * ms_frame_at returns 0 when the slice has a vertebra (or two to interpolate between). */
void ms_frame_sizes(ms_ctx *c);
int ms_frame_at(ms_ctx *c, int z, ms_frame *f);

/* body_outline.c: c->body and c->roi for the slice in c->hu. -1 when no trunk was found. */
int ms_body_outline(ms_ctx *c);

/* muscle_paraspinal.c: psoas, erector spinae and quadratus lumborum compartments into
 * c->comp (within c->roi), from seeds placed by the spine frame. */
void ms_paraspinal(ms_ctx *c);
void ms_paraspinal_rect(const ms_ctx *c, ms_rect *r);

/* fat_wall.c: c->fascia (inside the subcutaneous fat) and the abdominal wall compartment
 * (OS_TISSUE_WALL in c->comp) by rays cast from the centre of the trunk. */
int ms_fat_wall(ms_ctx *c);

/* muscle_slice.c: the os_tissue map of a slice from the compartments and the raw HU. */
void ms_classify(const ms_ctx *c, uint8_t *tissue);

#endif
