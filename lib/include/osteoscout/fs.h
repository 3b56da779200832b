/* Durable file-system primitives: the steps that make "acknowledged" mean "on disk". */
#ifndef OSTEOSCOUT_FS_H
#define OSTEOSCOUT_FS_H

#include <stdint.h>
#include "osteoscout/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* mkdir -p with the given mode; fsyncs each parent whose entry it created. */
int os_fs_mkdirs(const char *path, unsigned mode, os_error *err);
int os_fs_fsync_path(const char *path, os_error *err); /* file or directory */
int os_fs_fsync_parent(const char *path, os_error *err);
/* Free bytes for an unprivileged writer on the file system holding path. */
int os_fs_free_bytes(const char *path, uint64_t *out, os_error *err);
/* Reads a whole file into a NUL-terminated buffer (caller frees). */
int os_fs_read_all(const char *path, char **out, size_t *len, os_error *err);
/* Replaces characters outside [0-9A-Za-z.-_] so a UID can be used as a path component. */
void os_fs_safe_component(const char *in, char *out, size_t outlen);

#ifdef __cplusplus
}
#endif
#endif
