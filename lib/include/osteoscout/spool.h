/* The spool: where received instances live, as spool/<study>/<series>/<sop>.dcm.
 * Incoming data is streamed into spool/.incoming/ and only renamed into place after fsync. */
#ifndef OSTEOSCOUT_SPOOL_H
#define OSTEOSCOUT_SPOOL_H

#include <stddef.h>
#include "osteoscout/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OS_PATH_MAX 4096

/* Creates spool/ and spool/.incoming/ (mode 0700). */
int os_spool_init(const char *spool_dir, os_error *err);
/* A fresh unique path in spool/.incoming/ for one incoming dataset. */
int os_spool_incoming_path(const char *spool_dir, char *out, size_t outlen, os_error *err);
/* Final path of an instance (UIDs are sanitised into path components). */
int os_spool_instance_path(const char *spool_dir, const char *study_uid, const char *series_uid,
                           const char *sop_uid, char *out, size_t outlen, os_error *err);
/* fsync(tmp) → mkdir -p the series directory → rename(tmp, final) → fsync(directory).
 * On failure tmp is removed and nothing is left at final_path. */
int os_spool_commit(const char *tmp_path, const char *final_path, os_error *err);

/* Start-up recovery: removes everything in .incoming/ (never acknowledged) and every
 * instance file for which is_recorded(path) returns 0 (renamed but never committed).
 * Returns the number of files removed through *removed. */
int os_spool_recover(const char *spool_dir, int (*is_recorded)(void *ud, const char *path), void *ud,
                     size_t *removed, os_error *err);

#ifdef __cplusplus
}
#endif
#endif
