/* `osteoscout analyze`: runs the same pipeline as the daemon on folders of DICOM files,
 * offline, without a database: one series per folder in, result JSON out. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cjson/cJSON.h>

#include "commands.h"
#include "osteoscout/fs.h"
#include "osteoscout/pipeline.h"

static void usage(FILE *f) {
    fprintf(f, "usage: osteoscout analyze PATH... [--json] [--out DIR]\n"
               "  each PATH is a folder holding one series (or a single DICOM file);\n"
               "  --json prints the result (an array when there are several paths)\n");
}

/* DICOM Part 10 files carry "DICM" after a 128-byte preamble; everything else in a folder
 * (truth.json, READMEs, DICOMDIR-less junk) is skipped. */
static int is_dicom(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char magic[4];
    int ok = fseek(f, 128, SEEK_SET) == 0 && fread(magic, 1, 4, f) == 4 &&
             memcmp(magic, "DICM", 4) == 0;
    fclose(f);
    return ok;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_list(char **v, size_t n) {
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

/* The DICOM files of a folder, sorted by name so runs are reproducible. */
static int list_series(const char *path, char ***out, size_t *n_out, os_error *err) {
    struct stat st;
    if (stat(path, &st) != 0)
        return os_error_set(err, -errno, "cannot read %s: %s", path, strerror(errno));
    char **v = NULL;
    size_t n = 0, cap = 0;
    if (S_ISREG(st.st_mode)) {
        v = malloc(sizeof *v);
        if (!v || !(v[0] = strdup(path))) {
            free(v);
            return os_error_set(err, -ENOMEM, "out of memory");
        }
        *out = v;
        *n_out = 1;
        return 0;
    }
    DIR *d = opendir(path);
    if (!d) return os_error_set(err, -errno, "cannot open folder %s: %s", path, strerror(errno));
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, "truth.json") == 0) continue;
        char full[PATH_MAX];
        if (snprintf(full, sizeof full, "%s/%s", path, e->d_name) >= (int)sizeof full) continue;
        struct stat fs;
        if (stat(full, &fs) != 0 || !S_ISREG(fs.st_mode) || !is_dicom(full)) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            char **bigger = realloc(v, cap * sizeof *v);
            if (!bigger) break;
            v = bigger;
        }
        if (!(v[n] = strdup(full))) break;
        n++;
    }
    int broke = e != NULL;
    closedir(d);
    if (broke) {
        free_list(v, n);
        return os_error_set(err, -ENOMEM, "out of memory listing %s", path);
    }
    if (n == 0) {
        free(v);
        return os_error_set(err, -ENOENT, "no DICOM files in %s", path);
    }
    qsort(v, n, sizeof *v, cmp_str);
    *out = v;
    *n_out = n;
    return 0;
}

static int path_base(const char *path, char *out, size_t len) {
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    size_t l = strlen(tmp);
    while (l > 1 && tmp[l - 1] == '/') tmp[--l] = '\0';
    const char *b = strrchr(tmp, '/');
    return snprintf(out, len, "%s", b && b[1] ? b + 1 : tmp) < (int)len ? 0 : -1;
}

static int write_result(const char *out_dir, const char *path, const cJSON *result, os_error *err) {
    char base[NAME_MAX + 1], file[PATH_MAX];
    if (path_base(path, base, sizeof base) != 0 ||
        snprintf(file, sizeof file, "%s/%s.json", out_dir, base) >= (int)sizeof file)
        return os_error_set(err, -ENAMETOOLONG, "output path too long for %s", path);
    char *text = cJSON_Print(result);
    if (!text) return os_error_set(err, -ENOMEM, "out of memory");
    FILE *f = fopen(file, "w");
    int bad = !f;
    if (f) {
        bad |= fputs(text, f) < 0 || fputc('\n', f) == EOF;
        bad |= fclose(f) != 0;
    }
    free(text);
    if (bad) return os_error_set(err, -EIO, "cannot write %s", file);
    return 0;
}

static void print_summary(const char *path, const cJSON *result) {
    const cJSON *v = cJSON_GetObjectItem(result, "volume");
    const cJSON *dims = cJSON_GetObjectItem(v, "dimensions");
    const cJSON *sp = cJSON_GetObjectItem(v, "spacing_mm");
    const cJSON *hu = cJSON_GetObjectItem(v, "hu");
    printf("%s: %d×%d×%d, %.2f×%.2f×%.2f mm, HU %d…%d, %d warning%s\n", path,
           cJSON_GetArrayItem(dims, 0)->valueint, cJSON_GetArrayItem(dims, 1)->valueint,
           cJSON_GetArrayItem(dims, 2)->valueint, cJSON_GetArrayItem(sp, 0)->valuedouble,
           cJSON_GetArrayItem(sp, 1)->valuedouble, cJSON_GetArrayItem(sp, 2)->valuedouble,
           cJSON_GetObjectItem(hu, "min")->valueint, cJSON_GetObjectItem(hu, "max")->valueint,
           cJSON_GetArraySize(cJSON_GetObjectItem(result, "warnings")),
           cJSON_GetArraySize(cJSON_GetObjectItem(result, "warnings")) == 1 ? "" : "s");
    const cJSON *w;
    cJSON_ArrayForEach(w, cJSON_GetObjectItem(result, "warnings"))
        printf("  warning: %s\n", w->valuestring);
}

/* One path: list, run, report. Returns 0 on success; *item gets the JSON to print. */
static int analyze_one(const char *path, const char *out_dir, cJSON **item) {
    os_error err;
    os_error_clear(&err);
    char **files = NULL;
    size_t n = 0;
    cJSON *result = NULL;
    int rc = list_series(path, &files, &n, &err);
    if (!rc) rc = os_pipeline_run_files((const char *const *)files, n, NULL, &result, &err);
    if (!rc && out_dir) rc = write_result(out_dir, path, result, &err);
    free_list(files, n);
    if (rc) {
        fprintf(stderr, "osteoscout: %s: %s\n", path, err.msg);
        cJSON_Delete(result);
        *item = cJSON_CreateObject();
        cJSON_AddStringToObject(*item, "input", path);
        cJSON_AddStringToObject(*item, "error", err.msg);
        return 1;
    }
    cJSON_AddStringToObject(result, "input", path);
    *item = result;
    return 0;
}

int cmd_analyze(int argc, char **argv, const os_config *cfg) {
    (void)cfg;
    static const struct option longopts[] = {
        {"json", no_argument, 0, 'j'},
        {"out", required_argument, 0, 'o'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int json = 0, opt;
    const char *out_dir = NULL;
    optind = 0; /* the top-level CLI has already run getopt over its own options */
    opterr = 0; /* our own message, in the CLI's "osteoscout: ..." form */
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case 'j': json = 1; break;
        case 'o': out_dir = optarg; break;
        case 'h': usage(stdout); return 0;
        default:
            fprintf(stderr, "osteoscout: analyze: bad option or missing value: %s\n", argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "osteoscout: analyze needs at least one PATH\n");
        usage(stderr);
        return 2;
    }
    if (out_dir) {
        os_error err;
        os_error_clear(&err);
        if (os_fs_mkdirs(out_dir, 0755, &err) != 0) {
            fprintf(stderr, "osteoscout: %s\n", err.msg);
            return 1;
        }
    }
    int n_paths = argc - optind, failed = 0;
    cJSON *all = cJSON_CreateArray();
    for (int i = optind; i < argc; i++) {
        cJSON *item = NULL;
        int bad = analyze_one(argv[i], out_dir, &item);
        failed |= bad;
        if (!bad && !json) print_summary(argv[i], item);
        cJSON_AddItemToArray(all, item);
    }
    if (json) {
        char *text = cJSON_Print(n_paths == 1 ? cJSON_GetArrayItem(all, 0) : all);
        if (text) puts(text);
        free(text);
    }
    cJSON_Delete(all);
    return failed ? 1 : 0;
}
