/* The pipeline's loading step on its own, so that benches and tests load a series exactly as
 * a job does instead of each keeping a copy of the sequence. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline_internal.h"

int os_pipeline_load_volume(const char *const *paths, size_t n, os_volume *vol, os_error *err) {
    pl_series s;
    int rc = pl_load(paths, n, NULL, &s, err);
    if (!rc) {
        *vol = s.vol;
        memset(&s.vol, 0, sizeof s.vol); /* ownership moves to the caller */
    }
    pl_series_free(&s);
    return rc;
}

static int has_dicm_magic(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char magic[4] = {0};
    int ok = fseek(f, 128, SEEK_SET) == 0 && fread(magic, 1, 4, f) == 4 && memcmp(magic, "DICM", 4) == 0;
    fclose(f);
    return ok;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int os_pipeline_load_dir(const char *dir, os_volume *vol, os_error *err) {
    DIR *d = opendir(dir);
    if (!d) return os_error_set(err, -errno, "cannot open folder %s: %s", dir, strerror(errno));
    char **paths = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while (!rc && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (!has_dicm_magic(path)) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 128;
            char **bigger = realloc(paths, cap * sizeof *paths);
            if (!bigger) {
                rc = os_error_set(err, -ENOMEM, "out of memory listing %s", dir);
                break;
            }
            paths = bigger;
        }
        if (!(paths[n] = strdup(path))) rc = os_error_set(err, -ENOMEM, "out of memory listing %s", dir);
        else n++;
    }
    closedir(d);
    if (!rc && n == 0) rc = os_error_set(err, -ENOENT, "no DICOM files in %s", dir);
    if (!rc) {
        qsort(paths, n, sizeof *paths, cmp_str);
        rc = os_pipeline_load_volume((const char *const *)paths, n, vol, err);
    }
    for (size_t i = 0; i < n; i++) free(paths[i]);
    free(paths);
    return rc;
}
