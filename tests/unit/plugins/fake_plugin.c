/* A plugin for test_plugin, built several ways: FAKE_GOOD obeys the ABI; FAKE_BADABI claims
 * ABI version 99; FAKE_BADSIZE claims the right version with a wrong structure size;
 * FAKE_NOENTRY exports no entry point. The good one's behaviour is chosen per model section
 * with `mode` = ok | fail | silent | nan | outofrange | nonmonotone | refuse. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osteoscout/plugin.h"

typedef struct fake_state {
    char mode[32];
    const os_plugin_host *host;
} fake_state;

static void *fake_open(const os_plugin_host *host, const os_plugin_param *params, size_t n, char *err, size_t errlen) {
    const char *mode = os_plugin_param_get(params, n, "mode");
    if (!os_plugin_param_get(params, n, "threads")) {
        snprintf(err, errlen, "the host passed no threads");
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if (strcmp(params[i].key, "plugin") && strcmp(params[i].key, "threads") && strcmp(params[i].key, "mode")) {
            snprintf(err, errlen, "unknown key \"%s\"", params[i].key);
            return NULL;
        }
    if (mode && !strcmp(mode, "refuse")) {
        snprintf(err, errlen, "refused because mode = refuse");
        return NULL;
    }
    fake_state *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    snprintf(s->mode, sizeof s->mode, "%s", mode ? mode : "ok");
    s->host = host;
    host->log(host, 7, "fake plugin opened");
    return s;
}

static int fake_analyze(void *state, const os_plugin_study *in, os_plugin_result *out) {
    fake_state *s = state;
    snprintf(out->model_name, sizeof out->model_name, "fake");
    snprintf(out->model_version, sizeof out->model_version, "0.%s", s->mode);
    out->synthetic = 1;
    if (!in->measurements_json || !strstr(in->measurements_json, "\"result_version\"")) {
        snprintf(out->error, sizeof out->error, "no measurement JSON");
        return -1;
    }
    if (!strcmp(s->mode, "fail")) {
        snprintf(out->error, sizeof out->error, "failed on purpose");
        return -1;
    }
    if (!strcmp(s->mode, "silent")) return 3;
    double p = 0.25;
    if (!strcmp(s->mode, "nan")) p = NAN;
    if (!strcmp(s->mode, "outofrange")) p = 1.5;
    os_plugin_result_add(out, OS_PLUGIN_OUT_PREVALENT, p);
    for (int k = 1; k <= 5; k++) {
        char name[OS_PLUGIN_NAME_MAX];
        snprintf(name, sizeof name, OS_PLUGIN_OUT_CUMULATIVE_FMT, k);
        double r = 0.1 * k;
        if (!strcmp(s->mode, "nonmonotone") && k == 3) r = 0.05;
        os_plugin_result_add(out, name, r);
    }
    os_plugin_result_add(out, "n_vertebrae", in->anatomy ? in->anatomy->n_vertebrae : -1);
    os_plugin_result_add(out, "nz", in->volume ? in->volume->nz : -1);
    snprintf(out->text, sizeof out->text, "fake result");
    return 0;
}

static void fake_close(void *state) {
    free(state);
}

#if defined(FAKE_BADABI)
#define FAKE_ABI 99u
#else
#define FAKE_ABI OS_PLUGIN_ABI_VERSION
#endif
#if defined(FAKE_BADSIZE)
#define FAKE_SIZE_RESULT ((uint32_t)sizeof(os_plugin_result) + 8)
#else
#define FAKE_SIZE_RESULT ((uint32_t)sizeof(os_plugin_result))
#endif

static const os_plugin_info fake_info = {
    FAKE_ABI,
    (uint32_t)sizeof(os_plugin_info),
    (uint32_t)sizeof(os_plugin_study),
    FAKE_SIZE_RESULT,
    (uint32_t)(sizeof(os_volume) + sizeof(os_anatomy)),
    "fake",
    "0.1",
    "a plugin for tests",
    fake_open,
    fake_analyze,
    fake_close,
};

#if !defined(FAKE_NOENTRY)
OS_PLUGIN_EXPORT const os_plugin_info *os_plugin_entry(void) {
    return &fake_info;
}
#else
OS_PLUGIN_EXPORT const os_plugin_info *fake_not_the_entry(void);
OS_PLUGIN_EXPORT const os_plugin_info *fake_not_the_entry(void) {
    return &fake_info;
}
#endif
