/* The risk-model plugin ABI: what a shared object must export to be loaded as a model by
 * osteoscoutd and `osteoscout analyze`. Modelled on Orthanc's plugin SDK: one exported C
 * symbol, plain C structs, an ABI version checked before anything else is touched, and no
 * allocation crossing the boundary (the host owns every buffer it hands over).
 *
 * A plugin:
 *
 *     #include "osteoscout/plugin.h"
 *     static const os_plugin_info info = {
 *         OS_PLUGIN_INFO_HEADER, "mymodel", "1.0", "what it is",
 *         my_open, my_analyze, my_close};
 *     OS_PLUGIN_EXPORT const os_plugin_info *os_plugin_entry(void) { return &info; }
 *
 * Life cycle, per model section of the configuration ([model NAME]):
 *   open(host, params)     once per worker (each worker thread has its own state). Loads
 *                          weights and checks parameters; NULL with a sentence in err refuses
 *                          the start of the daemon.
 *   analyze(state, in, out) once per study, on the worker's thread. A state is never used by
 *                          two threads at once; different states may run concurrently, so a
 *                          plugin keeps nothing mutable outside its state. Returns 0, or
 *                          non-zero with out->error set: the job records the failure and still
 *                          delivers the measurements.
 *   close(state)           at shutdown.
 *
 * Versioning: OS_PLUGIN_ABI_VERSION changes whenever anything in this file, in os_volume
 * (volume.h) or in os_anatomy (anatomy.h) changes layout or meaning. The loader refuses a
 * plugin built for another version, and also compares the struct sizes the plugin was
 * compiled with, which catches a forgotten bump. */
#ifndef OSTEOSCOUT_PLUGIN_H
#define OSTEOSCOUT_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include "osteoscout/anatomy.h"
#include "osteoscout/volume.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OS_PLUGIN_ABI_VERSION 1u
#define OS_PLUGIN_ENTRY_SYMBOL "os_plugin_entry"
#define OS_PLUGIN_EXPORT __attribute__((visibility("default")))

/* Conventional output names. os_models_run puts these in the result's dedicated keys; any
 * other name goes under "outputs". */
#define OS_PLUGIN_OUT_PREVALENT "prevalent_fracture_probability"
#define OS_PLUGIN_OUT_CUMULATIVE_FMT "cumulative_risk_%dy" /* P(new fracture by year k), k ≥ 1 */

/* One key = value of the model's configuration section, the section's name excepted. The
 * host always passes "plugin", "weights" (when set) and "threads" (resolved: ≥ 1), then any
 * other key of the section; a plugin must refuse keys it does not know. */
typedef struct os_plugin_param {
    const char *key;
    const char *value;
} os_plugin_param;

/* What the host offers the plugin; valid from open() until close(). */
typedef struct os_plugin_host {
    uint32_t abi_version;   /* the host's OS_PLUGIN_ABI_VERSION */
    const char *model_name; /* the configuration section's NAME */
    /* Logs one line through the host's logger (level as os_log_level: 3 error … 7 debug).
     * Never with patient data. May be called from any thread. */
    void (*log)(const struct os_plugin_host *host, int level, const char *message);
    void *host_data; /* the host's, not to be touched */
} os_plugin_host;

/* One study. Everything is the host's and read-only; valid during analyze() only. */
typedef struct os_plugin_study {
    const os_volume *volume;       /* HU, LPS geometry */
    const os_anatomy *anatomy;     /* vertebrae, labels, masks, level slices */
    const char *measurements_json; /* the result JSON so far (docs/result-json.md), UTF-8,
                                      NUL-terminated: volume, anatomy, vertebrae, muscle,
                                      fat, bone_density, warnings */
    const volatile int *cancel;    /* non-zero: stop early and fail (may be NULL) */
} os_plugin_study;

#define OS_PLUGIN_MAX_OUTPUTS 32
#define OS_PLUGIN_NAME_MAX 64
#define OS_PLUGIN_TEXT_MAX 1024
#define OS_PLUGIN_ERROR_MAX 512

typedef struct os_plugin_output {
    char name[OS_PLUGIN_NAME_MAX]; /* [a-z0-9_], e.g. "prevalent_fracture_probability" */
    double value;                  /* finite; probabilities in [0, 1] */
} os_plugin_output;

/* Filled by analyze(); zeroed by the host before each call. */
typedef struct os_plugin_result {
    char model_name[OS_PLUGIN_NAME_MAX];    /* e.g. from the model card */
    char model_version[OS_PLUGIN_NAME_MAX];
    int synthetic;  /* 1: trained on (or made for) synthetic data: no clinical meaning */
    int calibrated; /* 1: outputs are calibrated probabilities; 0: a ranking score */
    os_plugin_output outputs[OS_PLUGIN_MAX_OUTPUTS];
    int n_outputs;
    char text[OS_PLUGIN_TEXT_MAX];   /* free text for the reader: method, caveats */
    char error[OS_PLUGIN_ERROR_MAX]; /* one sentence when analyze() fails */
} os_plugin_result;

typedef struct os_plugin_info {
    /* Layout guard: keep these five first, in this order, in every ABI version. */
    uint32_t abi_version;    /* OS_PLUGIN_ABI_VERSION the plugin was built with */
    uint32_t sizeof_info;    /* sizeof(os_plugin_info) … */
    uint32_t sizeof_study;   /* … sizeof(os_plugin_study), */
    uint32_t sizeof_result;  /* sizeof(os_plugin_result), */
    uint32_t sizeof_volume_anatomy; /* sizeof(os_volume) + sizeof(os_anatomy) as compiled */
    const char *name;        /* the plugin's name ("multitask") */
    const char *version;     /* the plugin's own version */
    const char *description; /* one line */
    /* Returns the state, or NULL with a sentence in err (errlen bytes). */
    void *(*open)(const os_plugin_host *host, const os_plugin_param *params, size_t n_params, char *err,
                  size_t errlen);
    int (*analyze)(void *state, const os_plugin_study *in, os_plugin_result *out);
    void (*close)(void *state);
} os_plugin_info;

#define OS_PLUGIN_INFO_HEADER                                                                     \
    OS_PLUGIN_ABI_VERSION, (uint32_t)sizeof(os_plugin_info), (uint32_t)sizeof(os_plugin_study),    \
        (uint32_t)sizeof(os_plugin_result), (uint32_t)(sizeof(os_volume) + sizeof(os_anatomy))

/* The one symbol a plugin exports (named OS_PLUGIN_ENTRY_SYMBOL). */
typedef const os_plugin_info *(*os_plugin_entry_fn)(void);
OS_PLUGIN_EXPORT const os_plugin_info *os_plugin_entry(void); /* defined by each plugin */

/* Helpers for plugins (header-only: the host process exports no symbol to its plugins). */
#include <stdio.h>
#include <string.h>

static inline int os_plugin_result_add(os_plugin_result *r, const char *name, double value) {
    if (r->n_outputs >= OS_PLUGIN_MAX_OUTPUTS) return -1;
    os_plugin_output *o = &r->outputs[r->n_outputs++];
    snprintf(o->name, sizeof o->name, "%s", name);
    o->value = value;
    return 0;
}

static inline const char *os_plugin_param_get(const os_plugin_param *p, size_t n, const char *key) {
    for (size_t i = 0; i < n; i++)
        if (p[i].key && !strcmp(p[i].key, key)) return p[i].value;
    return NULL;
}

#ifdef __cplusplus
}
#endif
#endif
