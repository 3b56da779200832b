/* The configured risk models of one worker: each [model NAME] section's plugin loaded and
 * opened once, then run on every study that worker analyses. What a plugin returns is checked
 * here (finite, probabilities in [0, 1], cumulative risks monotone) before it reaches the
 * result, so a broken model shows up as a failed model, never as a plausible number. */
#include "osteoscout/models.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "osteoscout/log.h"

#define MAX_HORIZON 50

typedef struct model {
    char name[OS_MODEL_NAME_MAX];
    os_plugin *plugin;
    const os_plugin_info *info;
    void *state;
    os_plugin_host host;
} model;

struct os_models {
    model m[OS_MAX_MODELS];
    int n;
    const volatile int *cancel;
};

static void host_log(const os_plugin_host *host, int level, const char *message) {
    if (level < OS_LOG_ERROR) level = OS_LOG_ERROR;
    if (level > OS_LOG_DEBUG) level = OS_LOG_DEBUG;
    os_log((os_log_level)level, "model", "%s: %s", host && host->model_name ? host->model_name : "?",
           message ? message : "");
}

static int resolve_threads(const os_config *cfg, const os_model_config *mc) {
    if (mc->threads > 0) return mc->threads;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int workers = cfg->workers_count > 0 ? cfg->workers_count : 1;
    long t = cpus > 0 ? cpus / workers : 1;
    return t < 1 ? 1 : (int)t;
}

static int open_one(const os_config *cfg, const os_model_config *mc, model *m, os_error *err) {
    memset(m, 0, sizeof *m);
    snprintf(m->name, sizeof m->name, "%s", mc->name);
    int rc = os_plugin_load(mc->plugin, cfg->node_plugin_dir, &m->plugin, err);
    if (rc) return os_error_wrap(err, "model %s", mc->name);
    m->info = os_plugin_get_info(m->plugin);

    char threads[16];
    snprintf(threads, sizeof threads, "%d", resolve_threads(cfg, mc));
    os_plugin_param params[3 + OS_MODEL_MAX_PARAMS];
    size_t n = 0;
    params[n++] = (os_plugin_param){"plugin", mc->plugin};
    if (mc->weights[0]) params[n++] = (os_plugin_param){"weights", mc->weights};
    params[n++] = (os_plugin_param){"threads", threads};
    for (int i = 0; i < mc->n_params; i++) params[n++] = (os_plugin_param){mc->params[i].key, mc->params[i].value};

    m->host.abi_version = OS_PLUGIN_ABI_VERSION;
    m->host.model_name = m->name;
    m->host.log = host_log;
    char why[OS_PLUGIN_ERROR_MAX] = "";
    m->state = m->info->open(&m->host, params, n, why, sizeof why);
    if (!m->state) {
        os_error_set(err, -EINVAL, "model %s (plugin %s): %s", mc->name, m->info->name,
                     why[0] ? why : "the plugin refused to open without saying why");
        os_plugin_unload(m->plugin);
        m->plugin = NULL;
        return -EINVAL;
    }
    os_log(OS_LOG_INFO, "model", "%s: opened plugin=%s version=%s path=%s threads=%s", mc->name, m->info->name,
           m->info->version ? m->info->version : "?", os_plugin_path(m->plugin), threads);
    return 0;
}

int os_models_open(const os_config *cfg, os_models **out, os_error *err) {
    *out = NULL;
    os_models *ms = calloc(1, sizeof *ms);
    if (!ms) return os_error_set(err, -ENOMEM, "out of memory opening models");
    for (int i = 0; i < cfg->n_models; i++) {
        int rc = open_one(cfg, &cfg->models[i], &ms->m[ms->n], err);
        if (rc) {
            os_models_close(ms);
            return rc;
        }
        ms->n++;
    }
    *out = ms;
    return 0;
}

int os_models_count(const os_models *ms) {
    return ms ? ms->n : 0;
}

void os_models_set_cancel(os_models *ms, const volatile int *cancel) {
    if (ms) ms->cancel = cancel;
}

void os_models_close(os_models *ms) {
    if (!ms) return;
    for (int i = 0; i < ms->n; i++) {
        if (ms->m[i].state) ms->m[i].info->close(ms->m[i].state);
        os_plugin_unload(ms->m[i].plugin);
    }
    free(ms);
}

/* ---- running ---- */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* k of "cumulative_risk_<k>y", or 0. */
static int horizon_of(const char *name) {
    int k = 0, used = 0;
    if (sscanf(name, OS_PLUGIN_OUT_CUMULATIVE_FMT "%n", &k, &used) != 1 || name[used] != '\0') return 0;
    return k >= 1 && k <= MAX_HORIZON ? k : 0;
}

/* Checks r and fills the entry's numbers; returns NULL or why r is unusable (into why). */
static const char *check_and_fill(const os_plugin_result *r, cJSON *entry, char *why, size_t whylen) {
    double risk[MAX_HORIZON + 1];
    int have[MAX_HORIZON + 1] = {0};
    double prevalent = NAN;
    if (r->n_outputs < 0 || r->n_outputs > OS_PLUGIN_MAX_OUTPUTS) {
        snprintf(why, whylen, "the plugin reported %d outputs", r->n_outputs);
        return why;
    }
    cJSON *others = cJSON_CreateObject();
    for (int i = 0; i < r->n_outputs; i++) {
        const os_plugin_output *o = &r->outputs[i];
        char name[OS_PLUGIN_NAME_MAX];
        snprintf(name, sizeof name, "%.*s", (int)sizeof o->name - 1, o->name);
        if (!isfinite(o->value)) {
            snprintf(why, whylen, "the plugin returned %s = %g", name, o->value);
            cJSON_Delete(others);
            return why;
        }
        int k = horizon_of(name);
        int is_prob = k || !strcmp(name, OS_PLUGIN_OUT_PREVALENT);
        if (is_prob && (o->value < 0 || o->value > 1)) {
            snprintf(why, whylen, "the plugin returned %s = %g, outside [0, 1]", name, o->value);
            cJSON_Delete(others);
            return why;
        }
        if (k) {
            risk[k] = o->value;
            have[k] = 1;
        } else if (!strcmp(name, OS_PLUGIN_OUT_PREVALENT)) {
            prevalent = o->value;
        } else {
            cJSON_DeleteItemFromObjectCaseSensitive(others, name);
            cJSON_AddNumberToObject(others, name, o->value);
        }
    }
    double last = 0;
    int last_k = 0;
    for (int k = 1; k <= MAX_HORIZON; k++) {
        if (!have[k]) continue;
        if (risk[k] < last - 1e-6) {
            snprintf(why, whylen, "the plugin's cumulative risk falls from %.4f at year %d to %.4f at year %d", last,
                     last_k, risk[k], k);
            cJSON_Delete(others);
            return why;
        }
        last = risk[k];
        last_k = k;
    }
    if (isnan(prevalent)) cJSON_AddNullToObject(entry, "prevalent_fracture_probability");
    else cJSON_AddNumberToObject(entry, "prevalent_fracture_probability", prevalent);
    if (!last_k) {
        cJSON_AddNullToObject(entry, "cumulative_risk");
    } else {
        cJSON *cum = cJSON_AddObjectToObject(entry, "cumulative_risk");
        for (int k = 1; k <= MAX_HORIZON; k++) {
            if (!have[k]) continue;
            char key[8];
            snprintf(key, sizeof key, "%d", k);
            cJSON_AddNumberToObject(cum, key, risk[k]);
        }
    }
    cJSON_AddItemToObject(entry, "outputs", others);
    return NULL;
}

static void add_warning(cJSON *result, const char *name, const char *error) {
    cJSON *w = cJSON_GetObjectItemCaseSensitive(result, "warnings");
    if (!cJSON_IsArray(w)) {
        if (w) return;
        w = cJSON_AddArrayToObject(result, "warnings");
    }
    char line[OS_PLUGIN_ERROR_MAX + 64];
    snprintf(line, sizeof line, "model %s: %s", name, error);
    cJSON_AddItemToArray(w, cJSON_CreateString(line));
}

static cJSON *run_one(model *m, const os_plugin_study *study, cJSON *result, int *failed) {
    os_plugin_result *r = calloc(1, sizeof *r);
    cJSON *entry = cJSON_CreateObject();
    if (!r || !entry) {
        free(r);
        cJSON_Delete(entry);
        return NULL;
    }
    char why[OS_PLUGIN_ERROR_MAX + 64] = "";
    const char *error = NULL;
    double t0 = now_s();
    int rc;
    if (study->cancel && *study->cancel) {
        rc = -ECANCELED;
        snprintf(r->error, sizeof r->error, "cancelled");
    } else {
        rc = m->info->analyze(m->state, study, r);
    }
    double secs = now_s() - t0;
    r->model_name[sizeof r->model_name - 1] = '\0';
    r->model_version[sizeof r->model_version - 1] = '\0';
    r->text[sizeof r->text - 1] = '\0';
    r->error[sizeof r->error - 1] = '\0';

    cJSON_AddStringToObject(entry, "name", r->model_name[0] ? r->model_name : m->info->name);
    cJSON_AddStringToObject(entry, "version", r->model_version[0] ? r->model_version
                                              : m->info->version ? m->info->version : "");
    cJSON_AddStringToObject(entry, "plugin", m->info->name);
    cJSON_AddBoolToObject(entry, "synthetic", r->synthetic != 0);
    cJSON_AddBoolToObject(entry, "calibrated", r->calibrated != 0);
    if (rc != 0) {
        snprintf(why, sizeof why, "%s", r->error[0] ? r->error : "the plugin failed without saying why");
        error = why;
    } else {
        error = check_and_fill(r, entry, why, sizeof why);
    }
    if (error) {
        cJSON_DeleteItemFromObjectCaseSensitive(entry, "prevalent_fracture_probability");
        cJSON_DeleteItemFromObjectCaseSensitive(entry, "cumulative_risk");
        cJSON_DeleteItemFromObjectCaseSensitive(entry, "outputs");
        cJSON_AddNullToObject(entry, "prevalent_fracture_probability");
        cJSON_AddNullToObject(entry, "cumulative_risk");
        cJSON_AddItemToObject(entry, "outputs", cJSON_CreateObject());
    }
    cJSON_AddStringToObject(entry, "text", r->text);
    cJSON_AddNumberToObject(entry, "seconds", round(secs * 1000) / 1000);
    cJSON_AddStringToObject(entry, "status", error ? "failed" : "ok");
    if (error) cJSON_AddStringToObject(entry, "error", error);
    else cJSON_AddNullToObject(entry, "error");
    if (error) {
        *failed = 1;
        add_warning(result, m->name, error);
        os_log(OS_LOG_WARNING, "model", "%s: failed seconds=%.3f error=\"%s\"", m->name, secs, error);
    } else {
        os_log(OS_LOG_DEBUG, "model", "%s: ok seconds=%.3f", m->name, secs);
    }
    free(r);
    return entry;
}

int os_models_run(os_models *ms, const os_volume *vol, const os_anatomy *anat, cJSON *result) {
    if (!cJSON_IsObject(result)) return -EINVAL;
    if (!ms || ms->n == 0) return 0;
    char *json = cJSON_PrintUnformatted(result);
    if (!json) return -ENOMEM;
    cJSON *models = cJSON_GetObjectItemCaseSensitive(result, "models");
    if (!cJSON_IsObject(models)) {
        cJSON_DeleteItemFromObjectCaseSensitive(result, "models");
        models = cJSON_AddObjectToObject(result, "models");
    }
    os_plugin_study study = {.volume = vol, .anatomy = anat, .measurements_json = json, .cancel = ms->cancel};
    int n_failed = 0, rc = 0;
    for (int i = 0; i < ms->n && models; i++) {
        int failed = 0;
        cJSON *entry = run_one(&ms->m[i], &study, result, &failed);
        if (!entry) {
            rc = -ENOMEM;
            break;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(models, ms->m[i].name);
        cJSON_AddItemToObject(models, ms->m[i].name, entry);
        n_failed += failed;
    }
    if (!models) rc = -ENOMEM;
    free(json);
    return rc ? rc : n_failed;
}
