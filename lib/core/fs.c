/* File-system helpers whose point is durability: a rename or mkdir is only durable
 * once the directory that holds the new entry has been fsync'd. */
#include "osteoscout/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

int os_fs_fsync_path(const char *path, os_error *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return os_error_set(err, -errno, "cannot open %s to sync it: %s", path, strerror(errno));
    if (fsync(fd) != 0) {
        int e = errno;
        close(fd);
        return os_error_set(err, -e, "fsync of %s failed: %s", path, strerror(e));
    }
    close(fd);
    return 0;
}

int os_fs_fsync_parent(const char *path, os_error *err) {
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) return os_fs_fsync_path(".", err);
    if (slash == dir) slash[1] = '\0';
    else *slash = '\0';
    return os_fs_fsync_path(dir, err);
}

int os_fs_mkdirs(const char *path, unsigned mode, os_error *err) {
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return os_error_set(err, -ENAMETOOLONG, "path too long: %s", path);
    size_t len = strlen(buf);
    while (len > 1 && buf[len - 1] == '/') buf[--len] = '\0';
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(buf, (mode_t)mode) == 0) {
            int rc = os_fs_fsync_parent(buf, err);
            if (rc != 0) return rc;
        } else if (errno != EEXIST) {
            return os_error_set(err, -errno, "cannot create directory %s: %s", buf, strerror(errno));
        } else {
            struct stat st;
            if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
                return os_error_set(err, -ENOTDIR, "%s exists and is not a directory", buf);
        }
        *p = saved;
        if (saved == '\0') break;
    }
    return 0;
}

int os_fs_free_bytes(const char *path, uint64_t *out, os_error *err) {
    struct statvfs vfs;
    if (statvfs(path, &vfs) != 0)
        return os_error_set(err, -errno, "cannot read free space of %s: %s", path, strerror(errno));
    *out = (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize;
    return 0;
}

int os_fs_read_all(const char *path, char **out, size_t *len, os_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return os_error_set(err, -errno, "cannot open %s: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        return os_error_set(err, -ENOMEM, "out of memory reading %s", path);
    }
    for (;;) {
        if (n + 1 >= cap) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                fclose(f);
                return os_error_set(err, -ENOMEM, "out of memory reading %s", path);
            }
            buf = bigger;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return os_error_set(err, -EIO, "read error on %s", path);
    }
    buf[n] = '\0';
    *out = buf;
    if (len) *len = n;
    return 0;
}

void os_fs_safe_component(const char *in, char *out, size_t outlen) {
    size_t j = 0;
    for (size_t i = 0; in[i] && j + 1 < outlen; i++) {
        char c = in[i];
        int ok = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                 c == '.' || c == '-' || c == '_';
        out[j++] = ok ? c : '_';
    }
    if (j == 0 && outlen > 1) out[j++] = '_';
    /* "." and ".." would escape the spool */
    if ((j == 1 && out[0] == '.') || (j == 2 && out[0] == '.' && out[1] == '.')) out[0] = '_';
    out[j] = '\0';
}
