/* lib/modelinput: the one function that turns a CT volume and its anatomy into the input of
 * the bone + muscle risk model (docs/model-inputs.md is the contract). The `multitask` plugin
 * feeds its output to TorchScript and `osteoscout analyze --export-inputs` writes the very
 * same arrays for training, so serving and training cannot disagree. */
#ifndef OSTEOSCOUT_MODELINPUT_H
#define OSTEOSCOUT_MODELINPUT_H

#include <stddef.h>
#include "osteoscout/anatomy.h"
#include "osteoscout/error.h"
#include "osteoscout/volume.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OS_MODEL_INPUTS_VERSION 1
#define OS_MI_LEVELS 5  /* T12, L1, L2, L3, L4 */
#define OS_MI_D 12      /* planes along the slice normal, 3 mm apart */
#define OS_MI_H 160     /* along the column direction (image rows, y), 1 mm */
#define OS_MI_W 160     /* along the row direction (image columns, x), 1 mm */
#define OS_MI_SPACING_D_MM 3.0
#define OS_MI_SPACING_HW_MM 1.0
#define OS_MI_POSTERIOR_SHIFT_MM 35.0
#define OS_MI_LEVEL_VOXELS ((size_t)OS_MI_D * OS_MI_H * OS_MI_W)
#define OS_MI_VOXELS ((size_t)OS_MI_LEVELS * OS_MI_LEVEL_VOXELS)

typedef struct os_model_inputs {
    int levels[OS_MI_LEVELS];          /* os_level of each patch: OS_T12 … OS_L4 */
    int present[OS_MI_LEVELS];         /* 1 when the level was found whole; else its arrays are 0 */
    double center_lps[OS_MI_LEVELS][3];/* patch centre in LPS mm (0 when absent) */
    float *bone;                       /* OS_MI_VOXELS, C order [L][D][H][W], values 0…1 */
    float *muscle;                     /* same layout */
} os_model_inputs;

/* Fills *out (allocating bone and muscle) per docs/model-inputs.md. A level the anatomy did
 * not find, or found cut by the field of view, is absent; an anatomy with no level at all is
 * not an error (every present[] is 0). Errors: no volume, anatomy of another volume, memory. */
int os_model_inputs_build(const os_volume *vol, const os_anatomy *anat, os_model_inputs *out, os_error *err);
void os_model_inputs_free(os_model_inputs *in);
int os_model_inputs_n_present(const os_model_inputs *in);

/* What inputs.json says about the study besides the arrays. Strings may be NULL (written as
 * null). */
typedef struct os_model_inputs_meta {
    const char *study_instance_uid;
    const char *series_instance_uid;
    int synthetic; /* 1 for phantoms and other generated data */
} os_model_inputs_meta;

/* Writes dir/bone.f32, dir/muscle.f32 (little-endian float32) and dir/inputs.json, creating
 * dir. Each file is written to a temporary name and renamed, so a reader never sees half. */
int os_model_inputs_write(const os_model_inputs *in, const char *dir, const os_model_inputs_meta *meta,
                          os_error *err);

/* Appends one row `study,study_instance_uid,path,present_levels` to the CSV at manifest_path,
 * writing the header first when the file is new or empty. present (OS_MI_LEVELS flags, as
 * os_model_inputs.present; NULL: none) becomes the present levels' names separated by spaces
 * ("T12 L1 L3"), "" when none. Fields are quoted as CSV needs. */
int os_model_inputs_manifest_append(const char *manifest_path, const char *study, const char *study_uid,
                                    const char *path, const int present[OS_MI_LEVELS], os_error *err);

/* Reads back what os_model_inputs_write wrote (arrays and present[] from inputs.json). */
int os_model_inputs_read(const char *dir, os_model_inputs *out, os_error *err);

#ifdef __cplusplus
}
#endif
#endif
