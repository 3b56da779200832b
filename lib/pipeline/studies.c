/* Offline input: folders of DICOM files → one plan per study (the series the daemon would
 * pick, with its files, and why every other series was passed over). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "osteoscout/dicom.h"
#include "osteoscout/pipeline.h"
#include "osteoscout/select.h"

typedef struct file_list {
    char **v;
    size_t n, cap;
} file_list;

static int push(file_list *l, const char *path) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        char **v = realloc(l->v, cap * sizeof *v);
        if (!v) return -ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    if (!(l->v[l->n] = strdup(path))) return -ENOMEM;
    l->n++;
    return 0;
}

/* "DICM" at offset 128: the Part 10 files PACS exports and modalities write. */
static int is_dicom_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char magic[4] = {0};
    int ok = fseek(f, 128, SEEK_SET) == 0 && fread(magic, 1, 4, f) == 4 && memcmp(magic, "DICM", 4) == 0;
    fclose(f);
    return ok;
}

static int collect(const char *path, file_list *out, size_t *skipped, os_error *err) {
    struct stat st;
    if (stat(path, &st) != 0) return os_error_set(err, -errno, "%s: %s", path, strerror(errno));
    if (S_ISREG(st.st_mode)) {
        if (!is_dicom_file(path)) {
            (*skipped)++;
            return 0;
        }
        return push(out, path) ? os_error_set(err, -ENOMEM, "out of memory listing files") : 0;
    }
    if (!S_ISDIR(st.st_mode)) return 0;
    DIR *d = opendir(path);
    if (!d) return os_error_set(err, -errno, "%s: %s", path, strerror(errno));
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char child[4096];
        snprintf(child, sizeof child, "%s/%s", path, e->d_name);
        rc = collect(child, out, skipped, err);
    }
    closedir(d);
    return rc;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

typedef struct entry {
    const char *path;
    os_dicom_header h;
} entry;

static int cmp_entry(const void *a, const void *b) {
    const entry *x = a, *y = b;
    int c = strcmp(x->h.study_uid, y->h.study_uid);
    if (!c) c = strcmp(x->h.series_uid, y->h.series_uid);
    return c ? c : strcmp(x->path, y->path);
}

/* One study's entries [first, last): summarise each series and choose. */
static int plan_study(entry *e, size_t first, size_t last, const os_select_rules *rules, os_study_plan *p) {
    memset(p, 0, sizeof *p);
    snprintf(p->study_uid, sizeof p->study_uid, "%s", e[first].h.study_uid);
    size_t n_series = 0;
    for (size_t i = first; i < last; i++)
        if (i == first || strcmp(e[i].h.series_uid, e[i - 1].h.series_uid)) n_series++;
    os_series_summary *sum = calloc(n_series, sizeof *sum);
    size_t *start = calloc(n_series + 1, sizeof *start);
    const os_dicom_header **hs = calloc(last - first, sizeof *hs);
    char(*reasons)[OS_SELECT_REASON_MAX] = calloc(n_series, sizeof *reasons);
    p->series = calloc(n_series, sizeof *p->series);
    if (!sum || !start || !hs || !reasons || !p->series) {
        free(sum), free(start), free(hs), free(reasons);
        return -ENOMEM;
    }
    size_t s = 0;
    for (size_t i = first; i < last; i++)
        if (i == first || strcmp(e[i].h.series_uid, e[i - 1].h.series_uid)) start[s++] = i;
    start[n_series] = last;
    for (s = 0; s < n_series; s++) {
        size_t k = 0;
        for (size_t i = start[s]; i < start[s + 1]; i++) hs[k++] = &e[i].h;
        os_select_summarise(hs, k, &sum[s]);
    }
    int chosen = os_select_series(sum, n_series, rules, reasons);
    p->n_series = n_series;
    int rc = 0;
    for (s = 0; s < n_series; s++) {
        snprintf(p->series[s].series_uid, sizeof p->series[s].series_uid, "%s", sum[s].series_uid);
        snprintf(p->series[s].reason, sizeof p->series[s].reason, "%s", reasons[s]);
    }
    if (chosen >= 0) {
        snprintf(p->chosen_series, sizeof p->chosen_series, "%s", sum[chosen].series_uid);
        p->n_files = start[chosen + 1] - start[chosen];
        p->files = calloc(p->n_files, sizeof *p->files);
        for (size_t i = 0; p->files && i < p->n_files; i++)
            if (!(p->files[i] = strdup(e[start[chosen] + i].path))) rc = -ENOMEM;
        if (!p->files) rc = -ENOMEM;
    }
    free(sum), free(start), free(hs), free(reasons);
    return rc;
}

int os_pipeline_plan_studies(const char *const *paths, size_t n, const os_select_rules *rules, os_study_plan **out,
                             size_t *n_out, size_t *n_unreadable, os_error *err) {
    *out = NULL;
    *n_out = 0;
    *n_unreadable = 0;
    file_list files = {0};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) rc = collect(paths[i], &files, n_unreadable, err);
    entry *e = rc == 0 ? calloc(files.n ? files.n : 1, sizeof *e) : NULL;
    if (rc == 0 && !e) rc = os_error_set(err, -ENOMEM, "out of memory reading %zu headers", files.n);
    size_t ne = 0;
    if (rc == 0) qsort(files.v, files.n, sizeof *files.v, cmp_str);
    for (size_t i = 0; rc == 0 && i < files.n; i++) {
        /* Unreadable files are counted and passed over, as the listener would refuse them. */
        if (os_dicom_read_header(files.v[i], &e[ne].h, NULL) != 0 || !e[ne].h.study_uid[0] || !e[ne].h.series_uid[0]) {
            (*n_unreadable)++;
            continue;
        }
        e[ne++].path = files.v[i];
    }
    if (rc == 0 && ne == 0) rc = os_error_set(err, -ENOENT, "no readable DICOM files found");
    os_study_plan *plans = NULL;
    size_t n_plans = 0;
    if (rc == 0) {
        qsort(e, ne, sizeof *e, cmp_entry);
        for (size_t i = 0; i < ne; i++)
            if (i == 0 || strcmp(e[i].h.study_uid, e[i - 1].h.study_uid)) n_plans++;
        plans = calloc(n_plans, sizeof *plans);
        if (!plans) rc = os_error_set(err, -ENOMEM, "out of memory planning %zu studies", n_plans);
        for (size_t i = 0, k = 0; rc == 0 && i < ne; k++) {
            size_t j = i + 1;
            while (j < ne && !strcmp(e[j].h.study_uid, e[i].h.study_uid)) j++;
            if (plan_study(e, i, j, rules, &plans[k]) != 0) rc = os_error_set(err, -ENOMEM, "out of memory");
            i = j;
        }
    }
    for (size_t i = 0; i < files.n; i++) free(files.v[i]);
    free(files.v);
    free(e);
    if (rc != 0) {
        os_pipeline_free_plans(plans, n_plans);
        return rc;
    }
    *out = plans;
    *n_out = n_plans;
    return 0;
}

void os_pipeline_free_plans(os_study_plan *p, size_t n) {
    if (!p) return;
    for (size_t i = 0; i < n; i++) {
        for (size_t f = 0; f < p[i].n_files; f++) free(p[i].files[f]);
        free(p[i].files);
        free(p[i].series);
    }
    free(p);
}
