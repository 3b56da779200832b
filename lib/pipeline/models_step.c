/* The pipeline's model steps: the model inputs written for training (`analyze
 * --export-inputs`) and the configured risk models run on the study. Both sit after the
 * measurements, so the models see them, and before the report, so it can show the models. */
#include <errno.h>
#include <stdio.h>

#include "osteoscout/modelinput.h"
#include "osteoscout/models.h"
#include "pipeline_internal.h"

int pl_export_inputs(cJSON *result, const pl_series *s, const os_anatomy *a, const char *dir, os_error *err) {
    os_model_inputs mi;
    int rc = os_model_inputs_build(&s->vol, a, &mi, err);
    if (rc) return os_error_wrap(err, "model inputs");
    os_model_inputs_meta meta = {
        .study_instance_uid = s->first.study_uid,
        .series_instance_uid = s->first.series_uid,
        .synthetic = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(result, "synthetic")),
    };
    rc = os_model_inputs_write(&mi, dir, &meta, err);
    if (!rc) {
        cJSON *j = cJSON_AddObjectToObject(result, "model_inputs");
        cJSON_AddStringToObject(j, "path", dir);
        cJSON *levels = cJSON_AddArrayToObject(j, "levels");
        cJSON *present = cJSON_AddArrayToObject(j, "present");
        for (int l = 0; l < OS_MI_LEVELS; l++) {
            cJSON_AddItemToArray(levels, cJSON_CreateString(os_level_name(mi.levels[l])));
            cJSON_AddItemToArray(present, cJSON_CreateNumber(mi.present[l]));
        }
    }
    os_model_inputs_free(&mi);
    return rc ? os_error_wrap(err, "model inputs") : 0;
}

int pl_run_models(cJSON *result, const pl_series *s, const os_anatomy *a, os_models *models,
                  const volatile int *cancel, os_error *err) {
    os_models_set_cancel(models, cancel);
    int rc = os_models_run(models, &s->vol, a, result);
    if (rc == -ENOMEM) return os_error_set(err, rc, "models: out of memory");
    if (rc < 0) return os_error_set(err, rc, "models: the result is not a JSON object");
    return 0; /* rc > 0 models failed: recorded in result.models, the run goes on */
}
