/* `osteoscout analyze`: the daemon's pipeline, offline, on files and folders of DICOM. The
 * files are grouped into studies and each study's series is chosen by the daemon's own rules
 * ([series] of the configuration), then analysed with the daemon's [measure] settings, so a
 * result here is the result the node would have sent. Exit status 0 only when every study
 * gave a result. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "analyze_output.h"
#include "cli.h"
#include "osteoscout/fs.h"
#include "osteoscout/modelinput.h"
#include "osteoscout/models.h"
#include "osteoscout/pipeline.h"

typedef struct analyze_args {
    int json, csv, dicom;
    const char *out_dir;
    const char *inputs_dir; /* --export-inputs */
    os_models *models;      /* the configuration's [model] sections; NULL when none */
} analyze_args;

static void usage(FILE *f) {
    fprintf(f, "usage: osteoscout analyze PATH... [--json|--csv] [--out DIR] [--dicom] [--export-inputs DIR]\n"
               "  PATHs are DICOM files or folders (searched recursively); files are grouped by study\n"
               "  and each study's series is chosen as the daemon would.\n"
               "  --json   one JSON array, an item per study: {study_uid, series_uid, status, error,\n"
               "           series[], result} (result as documented in docs/result-json.md)\n"
               "  --csv    one row per study with the key figures\n"
               "  --out    write DIR/<study>.json per study\n"
               "  --dicom  also write the SR and Secondary Capture pages to DIR/<study>/ (needs --out)\n"
               "  --export-inputs DIR  write each study's model inputs (docs/model-inputs.md) to\n"
               "           DIR/<study>/ and append a row per study to DIR/manifest.csv\n"
               "  Models of the configuration's [model NAME] sections run on every study.\n"
               "exit status: 0 every study analysed, 1 at least one failed or had no usable series, 2 usage\n");
}

static int write_json_file(const char *path, const cJSON *v, os_error *err) {
    char *text = cJSON_Print(v);
    if (!text) return os_error_set(err, -ENOMEM, "out of memory");
    FILE *f = fopen(path, "w");
    int bad = !f;
    if (f) {
        bad |= fputs(text, f) < 0 || fputc('\n', f) == EOF;
        bad |= fclose(f) != 0;
    }
    free(text);
    return bad ? os_error_set(err, -EIO, "cannot write %s", path) : 0;
}

static cJSON *study_item(const os_study_plan *p) {
    cJSON *item = cJSON_CreateObject();
    cJSON_AddStringToObject(item, "study_uid", p->study_uid);
    cJSON_AddStringToObject(item, "series_uid", p->chosen_series);
    cJSON *series = cJSON_AddArrayToObject(item, "series");
    for (size_t i = 0; i < p->n_series; i++) {
        cJSON *s = cJSON_CreateObject();
        cJSON_AddStringToObject(s, "series_uid", p->series[i].series_uid);
        cJSON_AddStringToObject(s, "reason", p->series[i].reason);
        cJSON_AddItemToArray(series, s);
    }
    return item;
}

static void set_outcome(cJSON *item, const char *status, const char *error, cJSON *result) {
    cJSON_AddStringToObject(item, "status", status);
    if (error) cJSON_AddStringToObject(item, "error", error);
    else cJSON_AddNullToObject(item, "error");
    if (result) cJSON_AddItemToObject(item, "result", result);
    else cJSON_AddNullToObject(item, "result");
}

/* One study: choose, run, keep. Returns 0 when it gave a result. */
static int analyze_study(const os_study_plan *p, const analyze_args *a, const os_measure_opts *mo, cJSON *item) {
    if (!p->chosen_series[0]) {
        char why[1024] = "";
        for (size_t i = 0; i < p->n_series; i++) {
            size_t len = strlen(why);
            snprintf(why + len, sizeof why - len, "%s%s", len ? "; " : "", p->series[i].reason);
        }
        set_outcome(item, "no usable series", why, NULL);
        return 1;
    }
    char key[128], outbox[PATH_MAX] = "";
    os_fs_safe_component(p->study_uid, key, sizeof key);
    if (a->dicom) snprintf(outbox, sizeof outbox, "%s/%s", a->out_dir, key);
    char inputs[PATH_MAX] = "";
    if (a->inputs_dir) snprintf(inputs, sizeof inputs, "%s/%s", a->inputs_dir, key);
    os_pipeline_opts opts = {.measure = mo,
                             .outbox_dir = a->dicom ? outbox : NULL,
                             .models = a->models,
                             .inputs_dir = a->inputs_dir ? inputs : NULL};
    os_error err;
    os_error_clear(&err);
    cJSON *result = NULL;
    int rc = os_pipeline_run_files((const char *const *)p->files, p->n_files, &opts, &result, &err);
    if (rc) {
        set_outcome(item, "failed", err.msg, NULL);
        return 1;
    }
    set_outcome(item, "ok", NULL, result);
    if (a->inputs_dir) {
        int present[OS_MI_LEVELS] = {0};
        const cJSON *flags = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(result, "model_inputs"), "present");
        for (int l = 0; l < OS_MI_LEVELS; l++) {
            const cJSON *f = cJSON_GetArrayItem(flags, l);
            present[l] = f ? f->valueint : 0;
        }
        char manifest[PATH_MAX];
        snprintf(manifest, sizeof manifest, "%s/manifest.csv", a->inputs_dir);
        if (os_model_inputs_manifest_append(manifest, key, p->study_uid, key, present, &err)) {
            fprintf(stderr, "osteoscout: %s\n", err.msg);
            return 1;
        }
    }
    if (a->out_dir) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s.json", a->out_dir, key);
        if (write_json_file(path, result, &err)) {
            fprintf(stderr, "osteoscout: %s\n", err.msg);
            return 1;
        }
    }
    return 0;
}

static int parse_args(int argc, char **argv, analyze_args *a) {
    static const struct option longopts[] = {
        {"json", no_argument, 0, 'j'}, {"csv", no_argument, 0, 'c'},  {"out", required_argument, 0, 'o'},
        {"dicom", no_argument, 0, 'd'}, {"help", no_argument, 0, 'h'},  {"export-inputs", required_argument, 0, 'x'},
        {0, 0, 0, 0},
    };
    memset(a, 0, sizeof *a);
    int opt;
    optind = 0; /* the top-level CLI has already run getopt over its own options */
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case 'j': a->json = 1; break;
        case 'c': a->csv = 1; break;
        case 'o': a->out_dir = optarg; break;
        case 'd': a->dicom = 1; break;
        case 'x': a->inputs_dir = optarg; break;
        case 'h': usage(stdout); return 0;
        default:
            fprintf(stderr, "osteoscout: analyze: bad option or missing value: %s\n", argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    if (a->json && a->csv) return fprintf(stderr, "osteoscout: analyze: --json or --csv, not both\n"), 2;
    if (a->dicom && !a->out_dir) return fprintf(stderr, "osteoscout: analyze: --dicom needs --out DIR\n"), 2;
    if (optind >= argc) {
        fprintf(stderr, "osteoscout: analyze needs at least one PATH\n");
        usage(stderr);
        return 2;
    }
    return -1;
}

int cmd_analyze(int argc, char **argv, const os_config *cfg) {
    analyze_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) return rc;
    os_error err;
    os_error_clear(&err);
    if (a.out_dir && os_fs_mkdirs(a.out_dir, 0750, &err) != 0) return cli_fail("%s", err.msg);
    if (a.inputs_dir && os_fs_mkdirs(a.inputs_dir, 0750, &err) != 0) return cli_fail("%s", err.msg);

    os_select_rules rules;
    os_measure_opts mo;
    os_pipeline_select_rules(cfg, &rules);
    os_pipeline_measure_opts(cfg, &mo);
    os_study_plan *plans = NULL;
    size_t n_plans = 0, n_unreadable = 0;
    if (os_pipeline_plan_studies((const char *const *)argv + optind, (size_t)(argc - optind), &rules, &plans,
                                 &n_plans, &n_unreadable, &err) != 0)
        return cli_fail("%s", err.msg);
    if (n_unreadable)
        fprintf(stderr, "osteoscout: %zu file%s skipped: not readable DICOM\n", n_unreadable,
                n_unreadable == 1 ? "" : "s");
    if (n_plans == 0) {
        os_pipeline_free_plans(plans, n_plans);
        return cli_fail("no DICOM studies found");
    }
    if (cfg->n_models > 0 && os_models_open(cfg, &a.models, &err) != 0) {
        os_pipeline_free_plans(plans, n_plans);
        return cli_fail("%s", err.msg);
    }

    int progress = isatty(STDERR_FILENO), failed = 0;
    cJSON *all = cJSON_CreateArray();
    if (a.csv) analyze_print_csv_header(stdout);
    for (size_t i = 0; i < n_plans; i++) {
        if (progress) analyze_progress((int)i, (int)n_plans, plans[i].study_uid);
        cJSON *item = study_item(&plans[i]);
        failed |= analyze_study(&plans[i], &a, &mo, item);
        if (progress) analyze_progress((int)n_plans, (int)n_plans, "");
        if (a.csv) analyze_print_csv_row(stdout, item);
        else if (!a.json) analyze_print_summary(stdout, item);
        fflush(stdout);
        cJSON_AddItemToArray(all, item);
    }
    if (a.json && cli_print_json(all) != 0) failed = 1;
    cJSON_Delete(all);
    os_pipeline_free_plans(plans, n_plans);
    os_models_close(a.models);
    return failed ? 1 : 0;
}
