/* os_bench_inference: what serving a risk model costs, measured through the same calls the
 * daemon's worker makes. A phantom study is written and analysed (volume, anatomy: not
 * timed), then:
 *   load   os_models_open of [model bench] (plugin = multitask, weights = the model): the first
 *          time loads the plugin and libtorch too; the second is what each further worker
 *          pays;
 *   run    os_models_run on the study (model inputs built + forward), the first call and the
 *          median of the following ones; the model-input build alone is timed too.
 * usage: os_bench_inference --weights MODEL.pt [--threads N] [--runs N] [--plugin-dir DIR]
 *        [--card MODEL.json] */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "osteoscout/anatomy.h"
#include "osteoscout/config.h"
#include "osteoscout/dicom.h"
#include "osteoscout/modelinput.h"
#include "osteoscout/models.h"
#include "osteoscout/phantom.h"
#include "osteoscout/pipeline.h"
#include "osteoscout/volume.h"

#ifndef OS_BUILD_PLUGIN_DIR
#define OS_BUILD_PLUGIN_DIR "."
#endif

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int die(const char *what, const os_error *err) {
    fprintf(stderr, "os_bench_inference: %s: %s\n", what, err ? err->msg : "failed");
    return 1;
}

int main(int argc, char **argv) {
    static const struct option longopts[] = {
        {"weights", required_argument, 0, 'w'}, {"threads", required_argument, 0, 't'},
        {"runs", required_argument, 0, 'r'},    {"plugin-dir", required_argument, 0, 'p'},
        {"card", required_argument, 0, 'c'},    {0, 0, 0, 0},
    };
    const char *weights = NULL, *plugin_dir = OS_BUILD_PLUGIN_DIR, *card = NULL;
    int threads = 1, runs = 5, opt;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case 'w': weights = optarg; break;
        case 't': threads = atoi(optarg); break;
        case 'r': runs = atoi(optarg); break;
        case 'p': plugin_dir = optarg; break;
        case 'c': card = optarg; break;
        default: return 2;
        }
    }
    if (!weights || threads < 1 || runs < 1) {
        fprintf(stderr, "usage: os_bench_inference --weights MODEL.pt [--threads N] [--runs N] [--plugin-dir DIR]"
                        " [--card MODEL.json]\n");
        return 2;
    }
    os_error err;
    os_error_clear(&err);

    /* One study: the default phantom (512 × 512 at 0.75 mm, 2 mm slices, T10 … S1). */
    char tmpl[] = "/tmp/os_bench_inference_XXXXXX";
    char *dir = mkdtemp(tmpl);
    if (!dir) return die("mkdtemp", NULL);
    os_phantom_opts po;
    os_phantom_defaults(&po);
    po.seed = 1;
    if (os_phantom_write_series(&po, dir, &err)) return die("phantom", &err);
    os_volume vol;
    if (os_pipeline_load_dir(dir, &vol, &err)) return die("load", &err);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    os_anatomy a;
    if (os_anatomy_find(&vol, NULL, &a, &err)) return die("anatomy", &err);

    static os_config cfg;
    os_config_defaults(&cfg);
    snprintf(cfg.node_plugin_dir, sizeof cfg.node_plugin_dir, "%s", plugin_dir);
    os_model_config *mc = &cfg.models[cfg.n_models++];
    snprintf(mc->name, sizeof mc->name, "bench");
    snprintf(mc->plugin, sizeof mc->plugin, "multitask");
    snprintf(mc->weights, sizeof mc->weights, "%s", weights);
    mc->threads = threads;
    if (card) {
        snprintf(mc->params[0].key, sizeof mc->params[0].key, "card");
        snprintf(mc->params[0].value, sizeof mc->params[0].value, "%s", card);
        mc->n_params = 1;
    }

    double t0 = now_s();
    os_models *ms = NULL;
    if (os_models_open(&cfg, &ms, &err)) return die("open", &err);
    double load_first = now_s() - t0;
    t0 = now_s();
    os_models *ms2 = NULL;
    if (os_models_open(&cfg, &ms2, &err)) return die("open", &err);
    double load_again = now_s() - t0;
    os_models_close(ms2);

    double build = 1e9;
    for (int i = 0; i < 3; i++) {
        os_model_inputs mi;
        t0 = now_s();
        if (os_model_inputs_build(&vol, &a, &mi, &err)) return die("model inputs", &err);
        double t = now_s() - t0;
        if (t < build) build = t;
        os_model_inputs_free(&mi);
    }

    double *times = calloc((size_t)runs + 1, sizeof *times);
    cJSON *last = NULL;
    for (int i = 0; i <= runs; i++) {
        cJSON *r = cJSON_Parse("{\"result_version\":1,\"warnings\":[]}");
        t0 = now_s();
        int failed = os_models_run(ms, &vol, &a, r);
        times[i] = now_s() - t0;
        if (failed) {
            char *text = cJSON_PrintUnformatted(cJSON_GetObjectItem(r, "models"));
            fprintf(stderr, "os_bench_inference: the model failed: %s\n", text ? text : "?");
            free(text);
            return 1;
        }
        cJSON_Delete(last);
        last = r;
    }
    double first = times[0];
    qsort(times + 1, (size_t)runs, sizeof *times, cmp_double);
    double median = times[1 + runs / 2];
    const cJSON *m = cJSON_GetObjectItem(cJSON_GetObjectItem(last, "models"), "bench");
    printf("model: %s %s (%s)\n", cJSON_GetObjectItem(m, "name")->valuestring,
           cJSON_GetObjectItem(m, "version")->valuestring, weights);
    printf("study: phantom %d x %d x %d voxels, levels present %d of 5\n", vol.nx, vol.ny, vol.nz,
           (int)cJSON_GetObjectItem(cJSON_GetObjectItem(m, "outputs"), "levels_present")->valuedouble);
    printf("threads: %d\n", threads);
    printf("load (first: plugin + libtorch + model): %.3f s\n", load_first);
    printf("load (another worker: model only):        %.3f s\n", load_again);
    printf("inference per study, first call:          %.3f s\n", first);
    printf("inference per study, median of %d:         %.3f s  (model load excluded)\n", runs, median);
    printf("  of which model-input build:             %.3f s\n", build);
    cJSON_Delete(last);
    free(times);
    os_models_close(ms);
    os_anatomy_free(&a);
    os_volume_free(&vol);
    return 0;
}
