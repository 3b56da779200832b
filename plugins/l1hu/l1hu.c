/* l1hu: the model-free baseline. A score from L1 trabecular attenuation alone, read from the
 * measurement JSON (bone_density.compared_hu, else trabecular_hu_mean):
 *
 *     score = 1 / (1 + exp(-(center_hu - HU) / scale_hu)),  center 135 HU, scale 20 HU
 *
 * 135 HU is the often-quoted balanced L1 threshold for DXA osteoporosis (Pickhardt 2013).
 * The score only ranks: it is not calibrated, and it is not a probability of fracture. So it
 * is reported as the named outputs "score" and "l1_hu", never under the prevalent-fracture or
 * cumulative-risk keys, which the SR and the summary page present to the radiologist as
 * probabilities (the result then has them null). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "osteoscout/plugin.h"

#define L1HU_VERSION "1.0.0"

typedef struct l1hu_state {
    double center_hu, scale_hu;
} l1hu_state;

static int parse_double(const char *s, double *out) {
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

static void *l1hu_open(const os_plugin_host *host, const os_plugin_param *params, size_t n, char *err,
                       size_t errlen) {
    (void)host;
    l1hu_state st = {.center_hu = 135, .scale_hu = 20};
    for (size_t i = 0; i < n; i++) {
        const char *k = params[i].key, *v = params[i].value ? params[i].value : "";
        if (!strcmp(k, "plugin") || !strcmp(k, "threads")) continue;
        if (!strcmp(k, "weights")) {
            snprintf(err, errlen, "l1hu is model-free and takes no weights (weights = %s)", v);
            return NULL;
        }
        double *field = !strcmp(k, "center_hu") ? &st.center_hu : !strcmp(k, "scale_hu") ? &st.scale_hu : NULL;
        if (!field) {
            snprintf(err, errlen, "unknown key \"%s\" (l1hu knows center_hu and scale_hu)", k);
            return NULL;
        }
        if (parse_double(v, field) != 0 || (field == &st.scale_hu && *field <= 0)) {
            snprintf(err, errlen, "%s: \"%s\" is not a%s number", k, v, field == &st.scale_hu ? " positive" : "");
            return NULL;
        }
    }
    l1hu_state *s = malloc(sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    *s = st;
    return s;
}

/* The L1 value to score, and which key it came from; -1 with the reason when there is none. */
static int l1_hu(const cJSON *result, double *hu, const char **key, char *why, size_t whylen) {
    const cJSON *bd = cJSON_GetObjectItemCaseSensitive(result, "bone_density");
    if (!cJSON_IsObject(bd)) {
        snprintf(why, whylen, "the measurements have no bone_density: L1 trabecular HU was not measured");
        return -1;
    }
    static const char *const keys[] = {"compared_hu", "trabecular_hu_mean"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(bd, keys[i]);
        if (cJSON_IsNumber(v) && isfinite(v->valuedouble)) {
            *hu = v->valuedouble;
            *key = keys[i];
            return 0;
        }
    }
    const cJSON *note = cJSON_GetObjectItemCaseSensitive(bd, "note");
    snprintf(why, whylen, "L1 trabecular HU was not measured%s%s",
             cJSON_IsString(note) && note->valuestring[0] ? ": " : "",
             cJSON_IsString(note) ? note->valuestring : "");
    return -1;
}

static int l1hu_analyze(void *state, const os_plugin_study *in, os_plugin_result *out) {
    const l1hu_state *s = state;
    snprintf(out->model_name, sizeof out->model_name, "l1hu-baseline");
    snprintf(out->model_version, sizeof out->model_version, L1HU_VERSION);
    out->synthetic = 0;
    out->calibrated = 0;
    cJSON *result = in->measurements_json ? cJSON_Parse(in->measurements_json) : NULL;
    if (!result) {
        snprintf(out->error, sizeof out->error, "the measurement JSON could not be parsed");
        return -1;
    }
    double hu = 0;
    const char *key = NULL;
    int rc = l1_hu(result, &hu, &key, out->error, sizeof out->error);
    cJSON_Delete(result);
    if (rc) return -1;
    double score = 1.0 / (1.0 + exp(-(s->center_hu - hu) / s->scale_hu));
    os_plugin_result_add(out, "score", score);
    os_plugin_result_add(out, "l1_hu", hu);
    snprintf(out->text, sizeof out->text,
             "Model-free baseline, not calibrated: score = logistic((%g - L1 HU) / %g) from L1 trabecular "
             "attenuation (%s = %.1f HU). It ranks studies by L1 density only; it is not a probability of "
             "fracture and is given for no horizon.",
             s->center_hu, s->scale_hu, key, hu);
    return 0;
}

static void l1hu_close(void *state) {
    free(state);
}

static const os_plugin_info l1hu_info = {
    OS_PLUGIN_INFO_HEADER,
    "l1hu",
    L1HU_VERSION,
    "model-free baseline: logistic score of L1 trabecular HU (not calibrated)",
    l1hu_open,
    l1hu_analyze,
    l1hu_close,
};

OS_PLUGIN_EXPORT const os_plugin_info *os_plugin_entry(void) {
    return &l1hu_info;
}
