/* lib/phantom: synthetic abdominal CT series with known truth, written as real DICOM through
 * lib/dicom. Everything it writes is labelled SYNTHETIC (patient name, series description).
 * Anatomy (spine T10–L5 with sacrum and ilia, ribs, muscles, fat, organs) is analytic, so
 * truth.json beside the files is exact for the rendered geometry. */
#ifndef OSTEOSCOUT_PHANTOM_H
#define OSTEOSCOUT_PHANTOM_H

#include <stdint.h>
#include "osteoscout/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Levels with truth, T10 … L5 (index 0 … 7); OS_PHANTOM_S1 is only a z-range end. */
#define OS_PHANTOM_LEVELS 8
#define OS_PHANTOM_S1 8

typedef enum { OS_PHANTOM_SLIM, OS_PHANTOM_AVERAGE, OS_PHANTOM_OBESE } os_phantom_habitus;
typedef enum { OS_PHANTOM_NONCONTRAST, OS_PHANTOM_ARTERIAL, OS_PHANTOM_PORTAL } os_phantom_phase;
typedef enum {
    OS_PHANTOM_INTACT, OS_PHANTOM_WEDGE, OS_PHANTOM_BICONCAVE, OS_PHANTOM_CRUSH
} os_phantom_deformity;

typedef struct os_phantom_opts {
    uint64_t seed;
    int rows, cols;            /* 512 × 512 */
    double pixel_mm;           /* 0.75 */
    int slices;                /* 0: derived from the z range; N: N slices centred on it */
    double slice_spacing_mm;   /* 2.0 */
    double slice_thickness_mm; /* 2.0 */
    double noise_sd_hu;        /* 15 */
    const char *transfer_syntax_uid; /* OS_TS_EXPLICIT_LE */
    const char *convolution_kernel;  /* "B30f" */
    const char *study_uid;     /* NULL: new */
    const char *series_uid;    /* NULL: new */
    int series_number;         /* 2 */
    double patient_size_m;     /* 1.70: scales the anatomy; written as PatientSize */
    char patient_sex;          /* 'F' or 'M' */
    /* Added with the realistic anatomy. */
    int z_from, z_to;          /* level indices, T10 = 0 … L5 = 7, S1 = 8: T10 … S1 */
    int habitus;               /* os_phantom_habitus: AVERAGE */
    int phase;                 /* os_phantom_phase: PORTAL */
    double trab_hu[OS_PHANTOM_LEVELS];       /* 0: the level's default (180–220) */
    int deformity[OS_PHANTOM_LEVELS];        /* os_phantom_deformity */
    double height_loss[OS_PHANTOM_LEVELS];   /* fraction 0 … 0.8 of the intact height */
    double muscle_hu_shift;    /* added to every muscle's HU (myosteatosis); 0 */
    /* Added for the synthetic risk cohorts (model/cohort.py). */
    double muscle_scale;       /* multiplies every trunk muscle's radii (sarcopenia); 0 means 1 */
} os_phantom_opts;

void os_phantom_defaults(os_phantom_opts *o);
/* Draws from o->seed what a bench varies: noise, habitus, sex, height, trabecular HU per
 * level (age-like), muscle HU and 0–2 fractures. Callers apply explicit choices after. */
void os_phantom_randomize(os_phantom_opts *o);
/* "T10" … "L5", "S1" ↔ index; parse returns -1 for anything else. */
const char *os_phantom_level_name(int level);
int os_phantom_level_parse(const char *name);
const char *os_phantom_deformity_name(int deformity);
int os_phantom_deformity_parse(const char *name);
const char *os_phantom_habitus_name(int habitus);
int os_phantom_habitus_parse(const char *name);
const char *os_phantom_phase_name(int phase);
int os_phantom_phase_parse(const char *name);
/* Genant grade (0–3) of a fractional height loss. */
int os_phantom_genant_grade(double loss);
/* Number of slices the options give (derived or o->slices); <0 when the options are bad. */
int os_phantom_slice_count(const os_phantom_opts *o, os_error *err);

/* Writes <out_dir>/IM<NNNN>.dcm (most superior first) and <out_dir>/truth.json. */
int os_phantom_write_series(const os_phantom_opts *o, const char *out_dir, os_error *err);

#ifdef __cplusplus
}
#endif
#endif
