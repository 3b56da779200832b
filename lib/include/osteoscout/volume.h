/* lib/volume: a CT volume in patient coordinates (LPS) and Hounsfield units.
 * Knows nothing of DICOM: it is given per-slice geometry (os_slice_geom) and the caller
 * fills the voxels slice by slice, so peak memory is the volume plus one slice. */
#ifndef OSTEOSCOUT_VOLUME_H
#define OSTEOSCOUT_VOLUME_H

#include <stddef.h>
#include <stdint.h>
#include "osteoscout/error.h"
#include "osteoscout/dicom.h" /* os_slice_geom: plain geometry, no DCMTK types */

#ifdef __cplusplus
extern "C" {
#endif

#define OS_VOLUME_MAX_WARNINGS 32
#define OS_WARNING_MAX 256

/* The checked, ordered arrangement of slices into a volume. */
typedef struct os_volume_plan {
    size_t *order;       /* indices into the geometry array, ordered along the normal */
    size_t n_order;
    int nx, ny, nz;      /* columns, rows, slices */
    double spacing[3];   /* column spacing, row spacing, slice spacing (median) */
    double origin[3];    /* position of voxel (0,0,0) */
    double row_dir[3];   /* direction of increasing column index (x) */
    double col_dir[3];   /* direction of increasing row index (y) */
    double normal[3];    /* direction of increasing slice index (z) */
    double tilt_deg;     /* angle between the normal and the slice-to-slice displacement */
    double z_min, z_max; /* slice positions projected on the normal (mm) */
    char warnings[OS_VOLUME_MAX_WARNINGS][OS_WARNING_MAX];
    int n_warnings;
} os_volume_plan;

/* Sorts slices by position along the normal and checks the geometry. Errors (with a
 * sentence) on: no slices, mixed orientations (> 1°), mixed matrix sizes or pixel spacing,
 * fewer than 2 distinct positions. Warnings on: duplicate positions (first kept), gaps
 * (spacing > 1.5× median), inconsistent spacing (> 10 % spread), gantry tilt (> 1°),
 * thickness differing from spacing. */
int os_volume_plan_make(const os_slice_geom *geoms, size_t n, os_volume_plan *plan, os_error *err);
void os_volume_plan_free(os_volume_plan *plan);

typedef struct os_volume {
    int nx, ny, nz;
    double spacing[3];
    double origin[3];
    double row_dir[3], col_dir[3], normal[3];
    int16_t *hu; /* x + nx * (y + ny * z) */
} os_volume;

int os_volume_alloc(const os_volume_plan *plan, os_volume *vol, os_error *err);
void os_volume_free(os_volume *vol);
static inline int16_t *os_volume_slice(os_volume *vol, int z) {
    return vol->hu + (size_t)vol->nx * (size_t)vol->ny * (size_t)z;
}
/* Patient (LPS, mm) position of voxel (x, y, z). */
void os_volume_voxel_to_lps(const os_volume *vol, double x, double y, double z, double out[3]);

typedef struct os_volume_stats {
    int16_t min, max;
    double mean;
    int16_t p1, p5, p50, p95, p99;
} os_volume_stats;

/* Exact percentiles by histogram over the whole int16 range. */
int os_volume_stats_compute(const os_volume *vol, os_volume_stats *out, os_error *err);

#ifdef __cplusplus
}
#endif
#endif
