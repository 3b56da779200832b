/* lib/anatomy: where the spine and the muscles are. Classical image analysis on the CT volume
 * (no model weights): vertebral bodies found and labelled the way a radiologist does (the last
 * rib-bearing vertebra is T12, cross-checked by counting up from the sacrum), body masks in 3D,
 * and skeletal muscle and fat at the mid-slice of every level, L3 and L1 above all.
 *
 * Coordinates: voxel (x, y, z) indexes os_volume (x along row_dir, y along col_dir, z along
 * normal; for an ordinary axial scan z = 0 is the most caudal slice). Points and directions
 * given "in LPS" are patient coordinates in mm (DICOM's). Levels absent from the scan are
 * never reported. */
#ifndef OSTEOSCOUT_ANATOMY_H
#define OSTEOSCOUT_ANATOMY_H

#include <stdint.h>
#include "osteoscout/error.h"
#include "osteoscout/volume.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum os_level {
    OS_T10 = 0, OS_T11, OS_T12, OS_L1, OS_L2, OS_L3, OS_L4, OS_L5, OS_S1,
    OS_LEVEL_COUNT
} os_level;

const char *os_level_name(int level); /* "T10" … "S1", "?" for -1 */
int os_level_parse(const char *name); /* -1 when unknown */

#define OS_MAX_VERTEBRAE 24
#define OS_ANATOMY_MAX_WARNINGS 16

typedef struct os_vertebra {
    int level;             /* os_level, or -1 when found but not labelled */
    double confidence;     /* of the label, 0..1 */
    double center_lps[3];  /* centroid of the body mask, mm */
    double center_vox[3];  /* the same in voxel coordinates */
    double axis_lps[3];    /* local spine axis through the body, unit, pointing cranially */
    double ap_lps[3];      /* unit, posterior → anterior, perpendicular to axis_lps */
    int z_first, z_last;   /* slice range of the body mask (inclusive) */
    int has_rib;           /* a rib articulates with it */
    int cut_by_fov;        /* the body touches the first/last slice or the image edge: partial */
    double volume_ml;      /* of the body mask */
} os_vertebra;

/* Tissue classes of the per-level slice maps and of the 3D muscle mask. */
typedef enum os_tissue {
    OS_TISSUE_NONE = 0,
    OS_TISSUE_PSOAS = 1,
    OS_TISSUE_ERECTOR = 2,   /* erector spinae (with multifidus): the paraspinal group */
    OS_TISSUE_QL = 3,        /* quadratus lumborum */
    OS_TISSUE_WALL = 4,      /* abdominal wall: rectus, obliques, transversus */
    OS_TISSUE_SAT = 5,       /* subcutaneous fat */
    OS_TISSUE_VAT = 6,       /* visceral fat */
    OS_TISSUE_IMAT = 7,      /* fat inside the muscle compartments */
    OS_TISSUE_COUNT
} os_tissue;
#define OS_MUSCLE_GROUPS 4 /* tissues 1..4 are skeletal muscle */

/* Skeletal muscle is -29…150 HU, fat -190…-30 HU (Mitsiopoulos 1998). */
#define OS_MUSCLE_HU_MIN (-29)
#define OS_MUSCLE_HU_MAX 150
#define OS_FAT_HU_MIN (-190)
#define OS_FAT_HU_MAX (-30)

typedef struct os_level_slice {
    int present;      /* the level's mid-vertebral slice lies inside the scan */
    int z;            /* its slice index */
    double z_mm;      /* its position along the normal (as the volume's z_min/z_max) */
    uint8_t *tissue;  /* nx*ny os_tissue map of that slice (malloc'd), NULL when not present */
    uint8_t *body;    /* nx*ny: 1 inside the body outline (for air/fat calibration), NULL when not present */
} os_level_slice;

typedef struct os_anatomy {
    int nx, ny, nz;
    os_vertebra vertebrae[OS_MAX_VERTEBRAE]; /* ordered cranial → caudal */
    int n_vertebrae;
    uint8_t *body_mask;   /* nx*ny*nz: 0, or 1 + index into vertebrae[] (the vertebral body) */
    uint8_t *trab_mask;   /* nx*ny*nz: same labels, the trabecular ROI (eroded away from the
                             cortex, basivertebral vein excluded) */
    uint8_t *muscle_mask; /* nx*ny*nz: OS_TISSUE_PSOAS / OS_TISSUE_ERECTOR voxels within the
                             z range of each of T12–L4 (the published model's muscle images) */
    os_level_slice slices[OS_LEVEL_COUNT];
    int t12_by_ribs;      /* index of the last rib-bearing vertebra, -1 when not seen */
    int l5_by_sacrum;     /* index of the vertebra above the sacrum, -1 when not seen */
    char labelling[256];  /* one sentence: how the labels were decided and how sure */
    char warnings[OS_ANATOMY_MAX_WARNINGS][256];
    int n_warnings;
} os_anatomy;

typedef struct os_anatomy_opts {
    const volatile int *cancel; /* may be NULL */
} os_anatomy_opts;

/* Everything: spine, then muscles and fat (which need the vertebrae). */
int os_anatomy_find(const os_volume *vol, const os_anatomy_opts *opts, os_anatomy *out, os_error *err);
/* The two halves, for tests and tools. find_spine initialises *out. */
int os_anatomy_find_spine(const os_volume *vol, const os_anatomy_opts *opts, os_anatomy *out, os_error *err);
int os_anatomy_find_muscles(const os_volume *vol, const os_anatomy_opts *opts, os_anatomy *a, os_error *err);
void os_anatomy_free(os_anatomy *a);
/* Index into vertebrae[] of a level, or -1. */
int os_anatomy_vertebra_of(const os_anatomy *a, int level);
void os_anatomy_warn(os_anatomy *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#ifdef __cplusplus
}
#endif
#endif
