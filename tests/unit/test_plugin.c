/* lib/plugin and plugins/: the loader refuses what is not a plugin of this ABI with a reason
 * (missing file, not a shared object, no entry point, another ABI version, other structure
 * sizes); [model NAME] sections open through os_models_open, and os_models_run writes each
 * model's outcome into the result, a failing or misbehaving model as "failed" without failing
 * the others; the l1hu baseline scores L1 HU; the multitask plugin refuses missing weights or
 * card, and end to end (phantom → anatomy → measurements → tiny TorchScript model) returns a
 * probability and monotone cumulative risks, the same in two workers running at once. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "osteoscout/anatomy.h"
#include "osteoscout/config.h"
#include "osteoscout/measure.h"
#include "osteoscout/models.h"
#include "osteoscout/volume.h"
#include "model_fixture.h"

static char tmpdir[256];
static const char *python;
static int have_tiny;
static os_config cfg; /* large: not on the stack */

static int setup(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/os_test_plugin_XXXXXX");
    if (!mkdtemp(tmpdir)) return -1;
    python = fixture_find_python();
    have_tiny = python && fixture_write_tiny_model(python, tmpdir) == 0;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    fixture_rm_rf(tmpdir);
    return 0;
}

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* Loads a configuration from text; returns os_config_load's status. */
static int load_config(const char *text, os_error *err) {
    char path[400];
    snprintf(path, sizeof path, "%s/test.conf", tmpdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return os_config_load(path, NULL, 0, &cfg, err);
}

static void expect_load_error(const char *plugin, const char *dir, const char *want1, const char *want2) {
    os_plugin *p = (os_plugin *)1;
    os_error err = {0};
    assert_true(os_plugin_load(plugin, dir, &p, &err) < 0);
    assert_null(p);
    print_message("%s\n", err.msg);
    assert_non_null(strstr(err.msg, want1));
    if (want2) assert_non_null(strstr(err.msg, want2));
    assert_null(strchr(err.msg, '\n'));
}

static void test_load_errors(void **state) {
    (void)state;
    expect_load_error("/nonexistent/dir/x.so", NULL, "/nonexistent/dir/x.so", "No such file");
    expect_load_error("nosuch", OS_TEST_PLUGIN_DIR, "node.plugin_dir = " OS_TEST_PLUGIN_DIR, "nosuch.so");
    char garbage[400];
    snprintf(garbage, sizeof garbage, "%s/garbage.so", tmpdir);
    FILE *f = fopen(garbage, "w");
    assert_non_null(f);
    fputs("not an ELF file\n", f);
    fclose(f);
    expect_load_error(garbage, NULL, "cannot load it", NULL);
    expect_load_error("fake_noentry", OS_TEST_PLUGIN_DIR, "exports no os_plugin_entry()", NULL);
    expect_load_error("fake_badabi", OS_TEST_PLUGIN_DIR, "built for plugin ABI version 99", "speaks version 1");
    expect_load_error("fake_badsize", OS_TEST_PLUGIN_DIR, "other structure sizes", NULL);
}

static void test_load_good(void **state) {
    (void)state;
    os_plugin *p = NULL;
    os_error err = {0};
    assert_int_equal(os_plugin_load("fake_good", OS_TEST_PLUGIN_DIR, &p, &err), 0);
    const os_plugin_info *info = os_plugin_get_info(p);
    assert_string_equal(info->name, "fake");
    assert_int_equal(info->abi_version, OS_PLUGIN_ABI_VERSION);
    assert_string_equal(os_plugin_path(p), OS_TEST_PLUGIN_DIR "/fake_good.so");
    os_plugin_unload(p);
    /* the same file by path */
    assert_int_equal(os_plugin_load(OS_TEST_PLUGIN_DIR "/fake_good.so", "/elsewhere", &p, &err), 0);
    os_plugin_unload(p);
}

static void test_config(void **state) {
    (void)state;
    os_error err = {0};
    assert_int_equal(load_config("[node]\nplugin_dir = /opt/plugins\n"
                                 "[model first]\nplugin = fake_good\nmode = fail\nthreads = 3\n"
                                 "[model second]\nplugin = /x/y.so\nweights = /w/m.pt\n",
                                 &err),
                     0);
    assert_string_equal(cfg.node_plugin_dir, "/opt/plugins");
    assert_int_equal(cfg.n_models, 2);
    const os_model_config *m = os_config_model(&cfg, "first");
    assert_non_null(m);
    assert_string_equal(m->plugin, "fake_good");
    assert_int_equal(m->threads, 3);
    assert_int_equal(m->n_params, 1);
    assert_string_equal(m->params[0].key, "mode");
    assert_string_equal(m->params[0].value, "fail");
    m = os_config_model(&cfg, "second");
    assert_string_equal(m->weights, "/w/m.pt");
    assert_int_equal(m->threads, 0);
    assert_null(os_config_model(&cfg, "third"));

    /* overrides reach model sections too */
    const char *over[] = {"model second.weights=/w/other.pt", "model third.plugin=l1hu"};
    char path[400];
    snprintf(path, sizeof path, "%s/test.conf", tmpdir);
    assert_int_equal(os_config_load(path, over, 2, &cfg, &err), 0);
    assert_string_equal(os_config_model(&cfg, "second")->weights, "/w/other.pt");
    assert_string_equal(os_config_model(&cfg, "third")->plugin, "l1hu");

    /* refusals with file, line and reason */
    assert_true(load_config("[model nameless]\nweights = /w.pt\n", &err) < 0);
    assert_non_null(strstr(err.msg, "[model nameless]: plugin is not set"));
    assert_true(load_config("[model]\nplugin = l1hu\n", &err) < 0);
    assert_non_null(strstr(err.msg, "a model needs a name"));
    assert_true(load_config("[model a.b]\nplugin = l1hu\n", &err) < 0);
    assert_true(load_config("[model ok]\nplugin = l1hu\nBad-Key = 1\n", &err) < 0);
    assert_non_null(strstr(err.msg, "not a valid key"));
    assert_true(load_config("[model ok]\nplugin = l1hu\nthreads = many\n", &err) < 0);
    assert_non_null(strstr(err.msg, ":3:"));
    print_message("%s\n", err.msg);
}

/* A small volume and an empty anatomy: enough for plugins that read the measurement JSON. */
static void small_study(os_volume *vol, os_anatomy *a) {
    memset(vol, 0, sizeof *vol);
    vol->nx = vol->ny = 8;
    vol->nz = 4;
    vol->spacing[0] = vol->spacing[1] = vol->spacing[2] = 1;
    vol->row_dir[0] = vol->col_dir[1] = vol->normal[2] = 1;
    vol->hu = calloc(8 * 8 * 4, sizeof *vol->hu);
    assert_non_null(vol->hu);
    memset(a, 0, sizeof *a);
    a->nx = a->ny = 8;
    a->nz = 4;
}

static cJSON *model_entry(cJSON *result, const char *name) {
    cJSON *models = cJSON_GetObjectItemCaseSensitive(result, "models");
    assert_non_null(models);
    cJSON *e = cJSON_GetObjectItemCaseSensitive(models, name);
    assert_non_null(e);
    return e;
}

static const char *str(cJSON *o, const char *key) {
    cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    assert_true(cJSON_IsString(v));
    return v->valuestring;
}

static void test_models_run(void **state) {
    (void)state;
    os_error err = {0};
    assert_int_equal(load_config("[node]\nplugin_dir = " OS_TEST_PLUGIN_DIR "\n"
                                 "[model good]\nplugin = fake_good\n"
                                 "[model bad]\nplugin = fake_good\nmode = fail\n"
                                 "[model silent]\nplugin = fake_good\nmode = silent\n"
                                 "[model nan]\nplugin = fake_good\nmode = nan\n"
                                 "[model range]\nplugin = fake_good\nmode = outofrange\n"
                                 "[model order]\nplugin = fake_good\nmode = nonmonotone\n",
                                 &err),
                     0);
    os_models *ms = NULL;
    int rc = os_models_open(&cfg, &ms, &err);
    if (rc) print_error("%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(os_models_count(ms), 6);
    os_volume vol;
    os_anatomy a;
    small_study(&vol, &a);
    cJSON *result = cJSON_Parse("{\"result_version\": 1, \"warnings\": [\"volume: something\"]}");
    assert_int_equal(os_models_run(ms, &vol, &a, result), 5);
    char *text = cJSON_Print(cJSON_GetObjectItem(result, "models"));
    print_message("%s\n", text);
    free(text);

    cJSON *good = model_entry(result, "good");
    assert_string_equal(str(good, "status"), "ok");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(good, "error")));
    assert_string_equal(str(good, "name"), "fake");
    assert_string_equal(str(good, "version"), "0.ok");
    assert_string_equal(str(good, "plugin"), "fake");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(good, "synthetic")));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(good, "calibrated")));
    assert_true(cJSON_GetObjectItem(good, "prevalent_fracture_probability")->valuedouble == 0.25);
    cJSON *cum = cJSON_GetObjectItem(good, "cumulative_risk");
    assert_int_equal(cJSON_GetArraySize(cum), 5);
    assert_true(fabs(cJSON_GetObjectItem(cum, "1")->valuedouble - 0.1) < 1e-12);
    assert_true(fabs(cJSON_GetObjectItem(cum, "5")->valuedouble - 0.5) < 1e-12);
    cJSON *outs = cJSON_GetObjectItem(good, "outputs");
    assert_int_equal(cJSON_GetObjectItem(outs, "nz")->valueint, 4);
    assert_int_equal(cJSON_GetObjectItem(outs, "n_vertebrae")->valueint, 0);
    assert_string_equal(str(good, "text"), "fake result");

    struct {
        const char *name, *error;
    } failed[] = {
        {"bad", "failed on purpose"},
        {"silent", "without saying why"},
        {"nan", "prevalent_fracture_probability = nan"},
        {"range", "outside [0, 1]"},
        {"order", "falls from 0.2000 at year 2 to 0.0500 at year 3"},
    };
    for (size_t i = 0; i < sizeof failed / sizeof failed[0]; i++) {
        cJSON *e = model_entry(result, failed[i].name);
        assert_string_equal(str(e, "status"), "failed");
        assert_non_null(strstr(str(e, "error"), failed[i].error));
        assert_true(cJSON_IsNull(cJSON_GetObjectItem(e, "prevalent_fracture_probability")));
        assert_true(cJSON_IsNull(cJSON_GetObjectItem(e, "cumulative_risk")));
    }
    /* failures are listed among the warnings, after what was there */
    cJSON *w = cJSON_GetObjectItem(result, "warnings");
    assert_int_equal(cJSON_GetArraySize(w), 6);
    assert_string_equal(cJSON_GetArrayItem(w, 0)->valuestring, "volume: something");
    assert_string_equal(cJSON_GetArrayItem(w, 1)->valuestring, "model bad: failed on purpose");

    /* not an object: refused; no models: nothing added */
    assert_true(os_models_run(ms, &vol, &a, NULL) < 0);
    os_models_close(ms);
    cJSON_Delete(result);
    assert_int_equal(load_config("[node]\nname = x\n", &err), 0);
    assert_int_equal(os_models_open(&cfg, &ms, &err), 0);
    assert_int_equal(os_models_count(ms), 0);
    result = cJSON_CreateObject();
    assert_int_equal(os_models_run(ms, &vol, &a, result), 0);
    assert_null(cJSON_GetObjectItem(result, "models"));
    cJSON_Delete(result);
    os_models_close(ms);
    os_models_close(NULL);
    os_volume_free(&vol);
}

static void test_models_open_refused(void **state) {
    (void)state;
    os_error err = {0};
    os_models *ms = (os_models *)1;
    assert_int_equal(load_config("[node]\nplugin_dir = " OS_TEST_PLUGIN_DIR "\n"
                                 "[model fine]\nplugin = fake_good\n"
                                 "[model picky]\nplugin = fake_good\nmode = refuse\n",
                                 &err),
                     0);
    assert_true(os_models_open(&cfg, &ms, &err) < 0);
    assert_null(ms);
    print_message("%s\n", err.msg);
    assert_string_equal(err.msg, "model picky (plugin fake): refused because mode = refuse");
    assert_int_equal(load_config("[node]\nplugin_dir = " OS_TEST_PLUGIN_DIR "\n"
                                 "[model typo]\nplugin = fake_good\nmdoe = ok\n",
                                 &err),
                     0);
    assert_true(os_models_open(&cfg, &ms, &err) < 0);
    assert_non_null(strstr(err.msg, "unknown key \"mdoe\""));
    assert_int_equal(
        load_config("[node]\nplugin_dir = " OS_TEST_PLUGIN_DIR "\n[model gone]\nplugin = fake_gone\n", &err), 0);
    assert_true(os_models_open(&cfg, &ms, &err) < 0);
    print_message("%s\n", err.msg);
    assert_true(strncmp(err.msg, "model gone: plugin fake_gone: ", 30) == 0);
    assert_int_equal(
        load_config("[node]\nplugin_dir = " OS_TEST_PLUGIN_DIR "\n[model abi]\nplugin = fake_badabi\n", &err), 0);
    assert_true(os_models_open(&cfg, &ms, &err) < 0);
    assert_non_null(strstr(err.msg, "model abi: plugin "));
    assert_non_null(strstr(err.msg, "ABI version 99"));
}

static void test_l1hu(void **state) {
    (void)state;
    os_error err = {0};
    assert_int_equal(
        load_config("[node]\nplugin_dir = " OS_BUILD_PLUGIN_DIR "\n[model base]\nplugin = l1hu\n", &err), 0);
    os_models *ms = NULL;
    assert_int_equal(os_models_open(&cfg, &ms, &err), 0);
    os_volume vol;
    os_anatomy a;
    small_study(&vol, &a);
    cJSON *result = cJSON_Parse("{\"result_version\":1,\"warnings\":[],\"bone_density\":{\"level\":\"L1\","
                                "\"trabecular_hu_mean\":104,\"compared_hu\":100,\"note\":\"\"}}");
    assert_int_equal(os_models_run(ms, &vol, &a, result), 0);
    cJSON *e = model_entry(result, "base");
    assert_string_equal(str(e, "status"), "ok");
    assert_string_equal(str(e, "name"), "l1hu-baseline");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(e, "calibrated")));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(e, "synthetic")));
    double want = 1 / (1 + exp(-(135.0 - 100.0) / 20.0));
    cJSON *outs = cJSON_GetObjectItem(e, "outputs");
    assert_true(fabs(cJSON_GetObjectItem(outs, "score")->valuedouble - want) < 1e-9);
    assert_true(cJSON_GetObjectItem(outs, "l1_hu")->valuedouble == 100);
    /* a ranking score, never presented as a probability */
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(e, "prevalent_fracture_probability")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(e, "cumulative_risk")));
    assert_non_null(strstr(str(e, "text"), "not calibrated"));
    assert_non_null(strstr(str(e, "text"), "compared_hu = 100.0 HU"));
    print_message("%s\n", str(e, "text"));
    cJSON_Delete(result);

    /* L1 not measured: failed, with the measurement's own note */
    result = cJSON_Parse("{\"result_version\":1,\"warnings\":[],\"bone_density\":{\"trabecular_hu_mean\":null,"
                         "\"compared_hu\":null,\"note\":\"L1 is not in the scan\"}}");
    assert_int_equal(os_models_run(ms, &vol, &a, result), 1);
    e = model_entry(result, "base");
    assert_string_equal(str(e, "status"), "failed");
    assert_string_equal(str(e, "error"), "L1 trabecular HU was not measured: L1 is not in the scan");
    cJSON_Delete(result);
    os_models_close(ms);
    os_volume_free(&vol);

    /* its parameters */
    assert_int_equal(load_config("[node]\nplugin_dir = " OS_BUILD_PLUGIN_DIR "\n"
                                 "[model base]\nplugin = l1hu\nweights = /x.pt\n", &err), 0);
    assert_true(os_models_open(&cfg, &ms, &err) < 0);
    assert_non_null(strstr(err.msg, "takes no weights"));
    assert_int_equal(load_config("[node]\nplugin_dir = " OS_BUILD_PLUGIN_DIR "\n"
                                 "[model base]\nplugin = l1hu\nscale_hu = -3\n", &err), 0);
    assert_true(os_models_open(&cfg, &ms, &err) < 0);
    assert_non_null(strstr(err.msg, "scale_hu"));
}

static int have_multitask(void) {
    if (!file_exists(OS_BUILD_PLUGIN_DIR "/multitask.so")) {
        print_message("skipped: multitask.so was not built (OS_WITH_TORCH=OFF)\n");
        return 0;
    }
    if (!have_tiny) {
        print_message("skipped: no python3 with torch to write the tiny model\n");
        return 0;
    }
    return 1;
}

static void expect_open_error(const char *section, const char *want) {
    char text[2000];
    snprintf(text, sizeof text, "[node]\nplugin_dir = %s\n%s", OS_BUILD_PLUGIN_DIR, section);
    os_error err = {0};
    assert_int_equal(load_config(text, &err), 0);
    os_models *ms = (os_models *)1;
    assert_true(os_models_open(&cfg, &ms, &err) < 0);
    assert_null(ms);
    print_message("%s\n", err.msg);
    assert_non_null(strstr(err.msg, want));
    assert_null(strchr(err.msg, '\n'));
}

static void test_multitask_refusals(void **state) {
    (void)state;
    if (!have_multitask()) skip();
    char section[1200];
    expect_open_error("[model mt]\nplugin = multitask\n", "weights is not set");
    /* weights missing, its card present */
    char card[600], cmd[1400];
    snprintf(card, sizeof card, "%s/missing.json", tmpdir);
    snprintf(cmd, sizeof cmd, "cp '%s/tiny_mt.json' '%s'", tmpdir, card);
    assert_int_equal(system(cmd), 0);
    snprintf(section, sizeof section, "[model mt]\nplugin = multitask\nweights = %s/missing.pt\n", tmpdir);
    expect_open_error(section, "cannot load TorchScript model");
    /* weights present, no card next to them */
    snprintf(cmd, sizeof cmd, "cp '%s/tiny_mt.pt' '%s/nocard.pt'", tmpdir, tmpdir);
    assert_int_equal(system(cmd), 0);
    snprintf(section, sizeof section, "[model mt]\nplugin = multitask\nweights = %s/nocard.pt\n", tmpdir);
    expect_open_error(section, "model card");
    /* a card for another input version */
    FILE *f = fopen(card, "w");
    assert_non_null(f);
    fputs("{\"name\": \"x\", \"version\": \"1\", \"inputs\": {\"format\": \"osteoscout-model-inputs\", "
          "\"version\": 2}}",
          f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "cp '%s/tiny_mt.pt' '%s/missing.pt'", tmpdir, tmpdir);
    assert_int_equal(system(cmd), 0);
    snprintf(section, sizeof section, "[model mt]\nplugin = multitask\nweights = %s/missing.pt\n", tmpdir);
    expect_open_error(section, "trained on model inputs version 2");
    snprintf(section, sizeof section, "[model mt]\nplugin = multitask\nweights = %s/tiny_mt.pt\ncolour = red\n",
             tmpdir);
    expect_open_error(section, "unknown key \"colour\"");
}

typedef struct worker_run {
    os_models *ms;
    const os_volume *vol;
    const os_anatomy *a;
    cJSON *result;
    int rc;
} worker_run;

static void *run_worker(void *arg) {
    worker_run *w = arg;
    w->rc = os_models_run(w->ms, w->vol, w->a, w->result);
    return NULL;
}

static void test_multitask_end_to_end(void **state) {
    (void)state;
    if (!have_multitask()) skip();
    os_volume vol;
    assert_int_equal(fixture_phantom_volume(3, NULL, &vol), 0);
    os_anatomy a;
    os_error err = {0};
    assert_int_equal(os_anatomy_find(&vol, NULL, &a, &err), 0);
    os_measure_opts mo;
    os_measure_opts_defaults(&mo);
    os_measurements *meas = calloc(1, sizeof *meas);
    assert_non_null(meas);
    assert_int_equal(os_measure_all(&vol, &a, &mo, meas, &err), 0);
    cJSON *base = cJSON_Parse("{\"result_version\":1,\"warnings\":[]}");
    assert_int_equal(os_measure_to_json(meas, &a, &mo, base, &err), 0);
    free(meas);

    char text[2000];
    snprintf(text, sizeof text,
             "[node]\nplugin_dir = %s\n[workers]\ncount = 2\n"
             "[model multitask]\nplugin = multitask\nweights = %s/tiny_mt.pt\nthreads = 1\n"
             "[model baseline]\nplugin = l1hu\n",
             OS_BUILD_PLUGIN_DIR, tmpdir);
    assert_int_equal(load_config(text, &err), 0);
    /* two workers, each with its models opened once */
    worker_run w[2];
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        w[i] = (worker_run){.vol = &vol, .a = &a, .result = cJSON_Duplicate(base, 1)};
        int rc = os_models_open(&cfg, &w[i].ms, &err);
        if (rc) print_error("%s\n", err.msg);
        assert_int_equal(rc, 0);
    }
    for (int i = 0; i < 2; i++) assert_int_equal(pthread_create(&t[i], NULL, run_worker, &w[i]), 0);
    for (int i = 0; i < 2; i++) assert_int_equal(pthread_join(t[i], NULL), 0);
    for (int i = 0; i < 2; i++) assert_int_equal(w[i].rc, 0);

    cJSON *mt = model_entry(w[0].result, "multitask");
    char *out = cJSON_Print(cJSON_GetObjectItem(w[0].result, "models"));
    print_message("%s\n", out);
    free(out);
    assert_string_equal(str(mt, "status"), "ok");
    assert_string_equal(str(mt, "name"), "tiny-multitask");
    assert_string_equal(str(mt, "version"), "0.0.1");
    assert_string_equal(str(mt, "plugin"), "multitask");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(mt, "synthetic")));
    double p = cJSON_GetObjectItem(mt, "prevalent_fracture_probability")->valuedouble;
    assert_true(p > 0 && p < 1);
    cJSON *cum = cJSON_GetObjectItem(mt, "cumulative_risk");
    assert_int_equal(cJSON_GetArraySize(cum), 5);
    double last = 0;
    for (int k = 1; k <= 5; k++) {
        char key[4];
        snprintf(key, sizeof key, "%d", k);
        double r = cJSON_GetObjectItem(cum, key)->valuedouble;
        assert_true(r > 0 && r < 1);
        assert_true(r >= last);
        last = r;
    }
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(mt, "outputs"), "levels_present")->valueint, 5);
    assert_non_null(strstr(str(mt, "text"), "T12 L1 L2 L3 L4"));
    assert_string_equal(str(model_entry(w[0].result, "baseline"), "status"), "ok");
    /* the other worker, at the same time, got the same numbers */
    cJSON *mt2 = model_entry(w[1].result, "multitask");
    assert_true(cJSON_GetObjectItem(mt2, "prevalent_fracture_probability")->valuedouble == p);
    assert_true(cJSON_GetObjectItem(cJSON_GetObjectItem(mt2, "cumulative_risk"), "5")->valuedouble == last);

    /* a prediction-only model (NaN first output, as model/net.py's): prevalent null, status ok */
    assert_int_equal(fixture_write_tiny_model_as(python, tmpdir, 1), 0);
    snprintf(text, sizeof text,
             "[node]\nplugin_dir = %s\n[model pred]\nplugin = multitask\nweights = %s/tiny_nodet.pt\n",
             OS_BUILD_PLUGIN_DIR, tmpdir);
    assert_int_equal(load_config(text, &err), 0);
    os_models *pred = NULL;
    assert_int_equal(os_models_open(&cfg, &pred, &err), 0);
    cJSON *r = cJSON_Duplicate(base, 1);
    assert_int_equal(os_models_run(pred, &vol, &a, r), 0);
    cJSON *pe = model_entry(r, "pred");
    assert_string_equal(str(pe, "status"), "ok");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(pe, "prevalent_fracture_probability")));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(pe, "cumulative_risk")), 5);
    assert_non_null(strstr(str(pe, "text"), "no prevalent-fracture output"));
    cJSON_Delete(r);
    os_models_close(pred);

    /* a study with no vertebra: the model fails, the job does not */
    os_anatomy none;
    memset(&none, 0, sizeof none);
    r = cJSON_Duplicate(base, 1);
    assert_int_equal(os_models_run(w[0].ms, &vol, &none, r), 1);
    mt = model_entry(r, "multitask");
    assert_string_equal(str(mt, "status"), "failed");
    assert_non_null(strstr(str(mt, "error"), "0 of T12–L4 found whole"));
    cJSON_Delete(r);
    /* cancelled before it starts */
    volatile int cancel = 1;
    os_models_set_cancel(w[0].ms, &cancel);
    r = cJSON_Duplicate(base, 1);
    assert_int_equal(os_models_run(w[0].ms, &vol, &a, r), 2);
    assert_string_equal(str(model_entry(r, "multitask"), "error"), "cancelled");
    cJSON_Delete(r);

    for (int i = 0; i < 2; i++) {
        os_models_close(w[i].ms);
        cJSON_Delete(w[i].result);
    }
    cJSON_Delete(base);
    os_anatomy_free(&a);
    os_volume_free(&vol);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_load_good),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_models_run),
        cmocka_unit_test(test_models_open_refused),
        cmocka_unit_test(test_l1hu),
        cmocka_unit_test(test_multitask_refusals),
        cmocka_unit_test(test_multitask_end_to_end),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
