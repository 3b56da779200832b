/* lib/plugin: the host side of plugin.h. Loads risk-model plugins (dlopen, ABI check), opens
 * one state per configured [model NAME] section, and runs them on a study, writing each
 * model's outcome into the result JSON under "models". A model that fails to load stops the
 * start (the daemon refuses to run without a configured model); a model that fails on one
 * study records the failure in that study's result and the job goes on. */
#ifndef OSTEOSCOUT_MODELS_H
#define OSTEOSCOUT_MODELS_H

#include <cjson/cJSON.h>
#include "osteoscout/anatomy.h"
#include "osteoscout/config.h"
#include "osteoscout/error.h"
#include "osteoscout/plugin.h"
#include "osteoscout/volume.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- one plugin file ---- */

typedef struct os_plugin os_plugin;

/* plugin: a name ("multitask": plugin_dir/multitask.so) or a path (anything with a '/').
 * Errors say which file, and why: not found, not a shared object, no os_plugin_entry,
 * built for ABI version N while this host speaks M, struct sizes differ. */
int os_plugin_load(const char *plugin, const char *plugin_dir, os_plugin **out, os_error *err);
const os_plugin_info *os_plugin_get_info(const os_plugin *p);
const char *os_plugin_path(const os_plugin *p);
/* The library stays mapped (RTLD_NODELETE): a plugin's runtime (libtorch) cannot be unloaded
 * safely, and it is loaded once per process anyway. */
void os_plugin_unload(os_plugin *p);
/* The file a plugin name or path stands for. */
void os_plugin_resolve(const char *plugin, const char *plugin_dir, char *out, size_t outlen);

/* ---- the configured models ---- */

typedef struct os_models os_models;

/* Loads and opens every [model NAME] of cfg, in file order. With no model configured it
 * succeeds with an empty set. On failure nothing stays open and err names the model and the
 * reason ("model multitask: cannot load TorchScript model /x.pt: No such file or directory"). */
int os_models_open(const os_config *cfg, os_models **out, os_error *err);
int os_models_count(const os_models *m);
/* Checked by plugins between steps (plugin.h); may be NULL. */
void os_models_set_cancel(os_models *m, const volatile int *cancel);
/* Runs every model on the study and adds to result:
 *   "models": {NAME: {"name", "version", "plugin", "synthetic", "calibrated",
 *              "prevalent_fracture_probability", "cumulative_risk": {"1": p, …, "5": p},
 *              "outputs": {other named outputs}, "text", "seconds",
 *              "status": "ok"|"failed", "error": null|sentence}}
 * and a "model NAME: …" line to result.warnings for each failure. result is what the plugins
 * see as the measurement JSON. Returns the number of models that failed (0 … count), or a
 * negative code when result is not an object or memory runs out. */
int os_models_run(os_models *m, const os_volume *vol, const os_anatomy *anat, cJSON *result);
void os_models_close(os_models *m);

#ifdef __cplusplus
}
#endif
#endif
