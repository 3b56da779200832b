/* The spool: received instances on disk, made durable before they are acknowledged.
 * Layout: spool/<study>/<series>/<sop>.dcm, with spool/.incoming/ for data in flight. */
#include "osteoscout/spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "osteoscout/fs.h"

#define INCOMING ".incoming"

int os_spool_init(const char *spool_dir, os_error *err) {
    char path[OS_PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", spool_dir, INCOMING);
    return os_fs_mkdirs(path, 0700, err);
}

int os_spool_incoming_path(const char *spool_dir, char *out, size_t outlen, os_error *err) {
    static atomic_ulong counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int n = snprintf(out, outlen, "%s/%s/%ld.%09ld.%d.%lu.part", spool_dir, INCOMING, (long)ts.tv_sec,
                     ts.tv_nsec, (int)getpid(), (unsigned long)atomic_fetch_add(&counter, 1));
    if (n < 0 || (size_t)n >= outlen) return os_error_set(err, -ENAMETOOLONG, "spool path too long");
    return 0;
}

int os_spool_instance_path(const char *spool_dir, const char *study_uid, const char *series_uid,
                           const char *sop_uid, char *out, size_t outlen, os_error *err) {
    char study[80], series[80], sop[80];
    os_fs_safe_component(study_uid, study, sizeof study);
    os_fs_safe_component(series_uid, series, sizeof series);
    os_fs_safe_component(sop_uid, sop, sizeof sop);
    int n = snprintf(out, outlen, "%s/%s/%s/%s.dcm", spool_dir, study, series, sop);
    if (n < 0 || (size_t)n >= outlen) return os_error_set(err, -ENAMETOOLONG, "spool path too long");
    return 0;
}

int os_spool_commit(const char *tmp_path, const char *final_path, os_error *err) {
    char dir[OS_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", final_path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';

    int rc = os_fs_fsync_path(tmp_path, err);
    if (rc == 0) rc = os_fs_mkdirs(dir, 0700, err);
    if (rc == 0 && rename(tmp_path, final_path) != 0)
        rc = os_error_set(err, -errno, "cannot move received file into the spool: %s", strerror(errno));
    if (rc != 0) {
        unlink(tmp_path);
        return rc;
    }
    rc = os_fs_fsync_path(dir, err);
    if (rc != 0) {
        /* Not durable, so it must not stay either: the caller will answer a failure. */
        unlink(final_path);
        return rc;
    }
    return 0;
}

static int remove_file(const char *path, size_t *removed) {
    if (unlink(path) == 0) {
        (*removed)++;
        return 0;
    }
    return -errno;
}

/* Walks spool/<study>/<series>/ files; depth 0 = spool root. */
static int walk(const char *dir, int depth, int (*is_recorded)(void *, const char *), void *ud,
                size_t *removed, os_error *err) {
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) return 0;
        return os_error_set(err, -errno, "cannot read %s: %s", dir, strerror(errno));
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char path[OS_PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) != 0) continue;
        if (depth == 0 && !strcmp(e->d_name, INCOMING)) {
            DIR *in = opendir(path);
            if (!in) continue;
            struct dirent *f;
            while ((f = readdir(in)) != NULL) {
                if (f->d_name[0] == '.') continue;
                char p[OS_PATH_MAX];
                snprintf(p, sizeof p, "%s/%s", path, f->d_name);
                remove_file(p, removed);
            }
            closedir(in);
        } else if (S_ISDIR(st.st_mode) && depth < 2) {
            rc = walk(path, depth + 1, is_recorded, ud, removed, err);
        } else if (S_ISREG(st.st_mode) && depth == 2) {
            int rec = is_recorded(ud, path);
            if (rec < 0) rc = os_error_set(err, rec, "cannot check %s against the database", path);
            else if (rec == 0) remove_file(path, removed);
        }
    }
    closedir(d);
    return rc;
}

int os_spool_recover(const char *spool_dir, int (*is_recorded)(void *ud, const char *path), void *ud,
                     size_t *removed, os_error *err) {
    size_t count = 0;
    int rc = walk(spool_dir, 0, is_recorded, ud, &count, err);
    if (removed) *removed = count;
    return rc;
}
