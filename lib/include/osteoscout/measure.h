/* lib/measure: numbers a radiologist and the published bone+muscle model rely on, from the
 * volume and its anatomy: vertebral heights and Genant grades, trabecular attenuation, L1
 * opportunistic bone density (screening, not diagnosis) with a phantomless calibration and the
 * contrast phase, and skeletal muscle and fat at L3 and L1. A number that could not be measured
 * is NAN with a note saying why; nothing is invented. */
#ifndef OSTEOSCOUT_MEASURE_H
#define OSTEOSCOUT_MEASURE_H

#include <cjson/cJSON.h>
#include "osteoscout/anatomy.h"
#include "osteoscout/error.h"
#include "osteoscout/volume.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum os_phase { OS_PHASE_UNKNOWN = 0, OS_PHASE_NONCONTRAST, OS_PHASE_ARTERIAL, OS_PHASE_PORTAL } os_phase;

typedef struct os_measure_opts {
    double bmd_osteoporosis_hu;  /* 110: L1 trabecular HU at or below: likely osteoporosis */
    double bmd_low_hu;           /* 160: at or below: possible low bone mass */
    double phase_offset_hu[4];   /* subtracted from L1 HU before the thresholds, by os_phase;
                                    defaults 0 (contrast changes L1 HU little, Pickhardt 2013) */
    double smi_cutoff_male;      /* 52.4 cm²/m² (Prado 2008) */
    double smi_cutoff_female;    /* 38.5 */
    double trab_erosion_mm;      /* 4: the trabecular ROI keeps this far from the cortex */
    double patient_size_m;       /* PatientSize; 0 unknown */
    char patient_sex;            /* 'M', 'F', or 0 unknown */
    int threads;                 /* vertebrae measured at once; 0: one per online CPU */
} os_measure_opts;

void os_measure_opts_defaults(os_measure_opts *o);

typedef struct os_vertebra_measure {
    int level;                    /* os_level or -1 */
    double confidence;
    double center_lps[3];
    double h_ant, h_mid, h_post;  /* mm, along the local spine axis at 85/50/15 % of the AP depth */
    double ap_depth_mm;
    double ratio_min_max;         /* shortest / tallest of the three */
    double ratio_neighbours;      /* tallest height / mean of the neighbours' posterior heights; NAN without neighbours */
    int genant_grade;             /* 0..3; -1 when not measurable */
    char genant_basis[32];        /* "within vertebra", "against neighbours", "both" */
    char deformity[16];           /* none | wedge | biconcave | crush */
    double trab_hu_mean, trab_hu_median;
    int trab_voxels;
    char note[256];               /* why something is NAN, or "" */
} os_vertebra_measure;

typedef struct os_muscle_measure {
    int present;
    double slice_z_mm;
    double area_cm2, mean_hu;            /* all skeletal muscle (-29…150 HU in the compartments) */
    double index_cm2_m2;                 /* area / height²; NAN when height unknown */
    double group_area_cm2[OS_MUSCLE_GROUPS + 1]; /* indexed by os_tissue 1..4 */
    double group_mean_hu[OS_MUSCLE_GROUPS + 1];
    double sat_cm2, vat_cm2, imat_cm2;
    int sarcopenia;                      /* 1 below the sex-specific SMI cut-off, 0 not, -1 unknown */
    char note[256];
} os_muscle_measure;

typedef struct os_bmd {
    int present;               /* L1 measured */
    double l1_hu_mean, l1_hu_median;
    double air_hu, sat_hu;     /* reference regions of the phantomless calibration */
    double l1_hu_calibrated;   /* L1 after mapping measured air → -1000 and fat → -100 HU */
    double aorta_hu;
    os_phase phase;
    double threshold_hu_used;  /* L1 HU compared (after the phase offset) */
    char category[48];         /* "likely osteoporosis" | "possible low bone mass" | "normal" */
    char note[256];
} os_bmd;

typedef struct os_measurements {
    os_vertebra_measure vertebrae[OS_MAX_VERTEBRAE]; /* aligned with anatomy.vertebrae */
    int n_vertebrae;
    os_muscle_measure muscle[OS_LEVEL_COUNT];          /* by level */
    os_bmd bmd;
    char warnings[16][256];
    int n_warnings;
} os_measurements;

int os_measure_all(const os_volume *vol, const os_anatomy *a, const os_measure_opts *o, os_measurements *out,
                   os_error *err);

/* Adds to `result` the documented keys (docs/result-json.md): "vertebrae" (array),
 * "muscle" (object with "L3", "L1", … each {slice_z_mm, area_cm2, mean_hu, index_cm2_m2,
 * groups{psoas, erector_spinae, quadratus_lumborum, abdominal_wall}{area_cm2, mean_hu},
 * sarcopenia}), "fat" ({"L3": {sat_cm2, vat_cm2, imat_cm2}, …}), "bone_density" and "warnings"
 * entries (appended to an existing "warnings" array). NAN is written as null. */
int os_measure_to_json(const os_measurements *m, const os_anatomy *a, const os_measure_opts *o, cJSON *result,
                       os_error *err);

/* Genant semi-quantitative grade of a height reduction (fraction, 0.32 = 32 %):
 * < 0.20 → 0, 0.20–0.25 → 1, 0.25–0.40 → 2, > 0.40 → 3. */
int os_measure_genant_grade(double reduction);

#ifdef __cplusplus
}
#endif
#endif
