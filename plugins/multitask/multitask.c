/* multitask: the bone + muscle risk model (docs/model-inputs.md). `weights` is a TorchScript
 * file; its model card is the JSON file of the same name next to it (model.pt → model.json)
 * and names the model, its version, the input format it was trained on and its horizons.
 * open() loads both once (once per worker); analyze() builds the inputs with
 * os_model_inputs_build, the same function `osteoscout analyze --export-inputs` uses for
 * training, runs forward(bone, muscle, present) and reports the prevalent-fracture
 * probability and the cumulative risk by year. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "osteoscout/fs.h"
#include "osteoscout/infer.h"
#include "osteoscout/modelinput.h"
#include "osteoscout/plugin.h"

#define MULTITASK_VERSION "1.0.0"
#define MAX_HORIZONS 20

typedef struct mt_state {
    const os_plugin_host *host;
    os_infer_model *model;
    char name[OS_PLUGIN_NAME_MAX];
    char version[OS_PLUGIN_NAME_MAX];
    char variant[32];
    int synthetic, calibrated;
    int horizons[MAX_HORIZONS]; /* years of the cumulative outputs, in order */
    int n_horizons;             /* 0: whatever K forward returns, years 1..K */
    int min_levels;             /* fewer present levels than this: refuse the study */
    int detection;              /* 0: the card lists no prevalent-fracture output (forward's
                                   first output is then ignored); a NaN there means the same */
    char intended_use[400];
} mt_state;

static void say(const mt_state *s, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(const mt_state *s, int level, const char *fmt, ...) {
    if (!s->host || !s->host->log) return;
    char line[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    s->host->log(s->host, level, line);
}

/* weights "dir/model.pt" → "dir/model.json" (the extension after the last '/' replaced). */
static void card_path_of(const char *weights, char *out, size_t outlen) {
    snprintf(out, outlen, "%s", weights);
    char *slash = strrchr(out, '/');
    char *dot = strrchr(out, '.');
    if (dot && (!slash || dot > slash + 1)) *dot = '\0';
    size_t len = strlen(out);
    snprintf(out + len, outlen - len, ".json");
}

static const char *card_string(const cJSON *card, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(card, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Reads and checks the model card; -1 with the reason in err. */
static int read_card(mt_state *s, const char *path, char *err, size_t errlen) {
    char *text = NULL;
    size_t len = 0;
    os_error e;
    os_error_clear(&e);
    if (os_fs_read_all(path, &text, &len, &e) != 0) {
        snprintf(err, errlen, "model card %s: %s (the card is the JSON next to the weights)", path, e.msg);
        return -1;
    }
    cJSON *card = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(card)) {
        snprintf(err, errlen, "model card %s is not a JSON object", path);
        cJSON_Delete(card);
        return -1;
    }
    int rc = -1;
    const char *name = card_string(card, "name"), *version = card_string(card, "version");
    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(card, "inputs");
    if (!inputs) inputs = cJSON_GetObjectItemCaseSensitive(card, "preprocessing");
    const cJSON *in_format = cJSON_GetObjectItemCaseSensitive(inputs, "format");
    const cJSON *in_version = cJSON_GetObjectItemCaseSensitive(inputs, "version");
    const cJSON *variant = cJSON_GetObjectItemCaseSensitive(inputs, "variant");
    const cJSON *horizons = cJSON_GetObjectItemCaseSensitive(card, "horizons_years");
    const cJSON *min_levels = cJSON_GetObjectItemCaseSensitive(inputs, "min_present_levels");
    if (!name || !*name || !version || !*version) {
        snprintf(err, errlen, "model card %s: \"name\" and \"version\" are required strings", path);
    } else if (!cJSON_IsObject(inputs) || !cJSON_IsString(in_format) ||
               strcmp(in_format->valuestring, "osteoscout-model-inputs") != 0 || !cJSON_IsNumber(in_version)) {
        snprintf(err, errlen, "model card %s: \"inputs\" must name {\"format\": \"osteoscout-model-inputs\", "
                 "\"version\": N} (docs/model-inputs.md)", path);
    } else if (in_version->valueint != OS_MODEL_INPUTS_VERSION) {
        snprintf(err, errlen, "model card %s: the model was trained on model inputs version %d, this OsteoScout "
                 "builds version %d", path, in_version->valueint, OS_MODEL_INPUTS_VERSION);
    } else if (horizons && (!cJSON_IsArray(horizons) || cJSON_GetArraySize(horizons) < 1 ||
                            cJSON_GetArraySize(horizons) > MAX_HORIZONS)) {
        snprintf(err, errlen, "model card %s: \"horizons_years\" must list 1 to %d years", path, MAX_HORIZONS);
    } else {
        rc = 0;
        snprintf(s->name, sizeof s->name, "%s", name);
        snprintf(s->version, sizeof s->version, "%s", version);
        snprintf(s->variant, sizeof s->variant, "%s", cJSON_IsString(variant) ? variant->valuestring : "bone+muscle");
        s->synthetic = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(card, "synthetic"));
        s->calibrated = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(card, "calibrated"));
        s->min_levels = cJSON_IsNumber(min_levels) && min_levels->valueint >= 1 ? min_levels->valueint : 1;
        /* "outputs": names as an array or an object's keys; absent: both outputs */
        const cJSON *outputs = cJSON_GetObjectItemCaseSensitive(card, "outputs");
        s->detection = 1;
        if (cJSON_IsObject(outputs)) {
            s->detection = cJSON_GetObjectItemCaseSensitive(outputs, OS_PLUGIN_OUT_PREVALENT) != NULL;
        } else if (cJSON_IsArray(outputs)) {
            const cJSON *o;
            s->detection = 0;
            cJSON_ArrayForEach(o, outputs) {
                s->detection |= cJSON_IsString(o) && !strcmp(o->valuestring, OS_PLUGIN_OUT_PREVALENT);
            }
        }
        const char *use = card_string(card, "intended_use");
        snprintf(s->intended_use, sizeof s->intended_use, "%s", use ? use : "");
        const cJSON *h;
        int last = 0;
        cJSON_ArrayForEach(h, horizons) {
            if (!cJSON_IsNumber(h) || h->valueint <= last || h->valueint > 50 || h->valuedouble != h->valueint) {
                snprintf(err, errlen, "model card %s: \"horizons_years\" must be whole years in increasing order",
                         path);
                rc = -1;
                break;
            }
            s->horizons[s->n_horizons++] = last = h->valueint;
        }
    }
    cJSON_Delete(card);
    return rc;
}

static void mt_close(void *state) {
    mt_state *s = state;
    if (!s) return;
    os_infer_free(s->model);
    free(s);
}

static void *mt_open(const os_plugin_host *host, const os_plugin_param *params, size_t n, char *err, size_t errlen) {
    const char *weights = NULL, *card = NULL;
    int threads = 1;
    for (size_t i = 0; i < n; i++) {
        const char *k = params[i].key, *v = params[i].value ? params[i].value : "";
        if (!strcmp(k, "plugin")) continue;
        else if (!strcmp(k, "weights")) weights = v;
        else if (!strcmp(k, "card")) card = v;
        else if (!strcmp(k, "threads")) {
            char *end = NULL;
            long t = strtol(v, &end, 10);
            if (end == v || *end || t < 1 || t > 256) {
                snprintf(err, errlen, "threads: \"%s\" is not a whole number from 1 to 256", v);
                return NULL;
            }
            threads = (int)t;
        } else {
            snprintf(err, errlen, "unknown key \"%s\" (multitask knows weights, card, threads)", k);
            return NULL;
        }
    }
    if (!weights || !*weights) {
        snprintf(err, errlen, "weights is not set: name the TorchScript file (weights = /path/model.pt)");
        return NULL;
    }
    /* The weights first: a missing model file is the likeliest mistake, say that before the card. */
    FILE *probe = fopen(weights, "rb");
    if (!probe) {
        snprintf(err, errlen, "cannot load TorchScript model %s: %s", weights, strerror(errno));
        return NULL;
    }
    fclose(probe);
    mt_state *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->host = host;
    char card_path[4200];
    if (card && *card) snprintf(card_path, sizeof card_path, "%s", card);
    else card_path_of(weights, card_path, sizeof card_path);
    if (read_card(s, card_path, err, errlen) != 0) {
        mt_close(s);
        return NULL;
    }
    os_error e;
    os_error_clear(&e);
    if (os_infer_load(weights, threads, &s->model, &e) != 0) {
        snprintf(err, errlen, "%s", e.msg);
        mt_close(s);
        return NULL;
    }
    say(s, 6, "loaded %s %s (%s, inputs version %d) from %s with %d thread(s)%s", s->name, s->version, s->variant,
        OS_MODEL_INPUTS_VERSION, weights, threads, s->synthetic ? "; trained on synthetic data" : "");
    return s;
}

static int fail(os_plugin_result *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(os_plugin_result *out, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->error, sizeof out->error, fmt, ap);
    va_end(ap);
    return -1;
}

static size_t numel(const os_infer_tensor *t) {
    return os_infer_tensor_numel(t);
}

static int mt_analyze(void *state, const os_plugin_study *in, os_plugin_result *out) {
    mt_state *s = state;
    snprintf(out->model_name, sizeof out->model_name, "%s", s->name);
    snprintf(out->model_version, sizeof out->model_version, "%s", s->version);
    out->synthetic = s->synthetic;
    out->calibrated = s->calibrated;

    os_model_inputs mi;
    os_error e;
    os_error_clear(&e);
    if (os_model_inputs_build(in->volume, in->anatomy, &mi, &e) != 0) return fail(out, "%s", e.msg);
    int n_present = os_model_inputs_n_present(&mi);
    char seen[64] = "";
    for (int l = 0; l < OS_MI_LEVELS; l++) {
        if (!mi.present[l]) continue;
        size_t used = strlen(seen);
        snprintf(seen + used, sizeof seen - used, "%s%s", used ? " " : "", os_level_name(mi.levels[l]));
    }
    if (n_present < s->min_levels) {
        os_model_inputs_free(&mi);
        return fail(out, "%d of T12–L4 found whole (%s), the model needs %d", n_present, n_present ? seen : "none",
                    s->min_levels);
    }
    if (in->cancel && *in->cancel) {
        os_model_inputs_free(&mi);
        return fail(out, "cancelled");
    }
    float present[OS_MI_LEVELS];
    for (int l = 0; l < OS_MI_LEVELS; l++) present[l] = mi.present[l] ? 1.0f : 0.0f;
    os_infer_tensor args[3] = {
        {mi.bone, 5, {1, OS_MI_LEVELS, OS_MI_D, OS_MI_H, OS_MI_W}},
        {mi.muscle, 5, {1, OS_MI_LEVELS, OS_MI_D, OS_MI_H, OS_MI_W}},
        {present, 2, {1, OS_MI_LEVELS}},
    };
    os_infer_tensor *res = NULL;
    size_t n_res = 0;
    int rc = os_infer_run(s->model, "forward", args, 3, &res, &n_res, &e);
    os_model_inputs_free(&mi);
    if (rc) return fail(out, "%s", e.msg);

    rc = -1;
    if (n_res < 2) {
        fail(out, "forward returned %zu tensor(s); the interface is (prevalent[B], cumulative[B,K])", n_res);
    } else if (numel(&res[0]) != 1) {
        fail(out, "forward's first output has %zu values for one study, not 1", numel(&res[0]));
    } else if (numel(&res[1]) < 1 || numel(&res[1]) > MAX_HORIZONS ||
               (s->n_horizons && numel(&res[1]) != (size_t)s->n_horizons)) {
        fail(out, "forward's second output has %zu horizons, the model card lists %d", numel(&res[1]), s->n_horizons);
    } else {
        rc = 0;
        /* A prediction-only model returns NaN there (model/net.py): no detection output, not an
         * error. The cumulative risks must be finite (the host checks). */
        int detection = s->detection && isfinite(res[0].data[0]);
        if (detection) os_plugin_result_add(out, OS_PLUGIN_OUT_PREVALENT, res[0].data[0]);
        size_t k_count = numel(&res[1]);
        for (size_t k = 0; k < k_count; k++) {
            char name[OS_PLUGIN_NAME_MAX];
            snprintf(name, sizeof name, OS_PLUGIN_OUT_CUMULATIVE_FMT, s->n_horizons ? s->horizons[k] : (int)k + 1);
            os_plugin_result_add(out, name, res[1].data[k]);
        }
        os_plugin_result_add(out, "levels_present", n_present);
        snprintf(out->text, sizeof out->text, "%s model %s %s on %s%s%s.%s%s", s->variant, s->name, s->version, seen,
                 detection ? "" : "; no prevalent-fracture output (prediction-only model)",
                 s->synthetic ? "; trained on synthetic data, no clinical meaning" : "",
                 s->intended_use[0] ? " Intended use: " : "", s->intended_use);
    }
    os_infer_tensors_free(res, n_res);
    return rc;
}

static const os_plugin_info mt_info = {
    OS_PLUGIN_INFO_HEADER,
    "multitask",
    MULTITASK_VERSION,
    "bone + muscle TorchScript model: prevalent fracture probability and cumulative risk by year",
    mt_open,
    mt_analyze,
    mt_close,
};

OS_PLUGIN_EXPORT const os_plugin_info *os_plugin_entry(void) {
    return &mt_info;
}
