/* The audit trail: short lines about what happened to a job or the node. The text is
 * written by code, never copied from DICOM headers, so no patient name can land here. */
#include "store_internal.h"

#include <errno.h>

int store_event_locked(os_store *st, double at, const char *level, const char *what, int64_t job_id,
                       os_error *err) {
    static const char sql[] = "INSERT INTO events(at, level, what, job_id) VALUES (?, ?, ?, ?)";
    sqlite3_stmt *s;
    int rc = store_stmt(st, sql, &s, err);
    if (rc != 0) return rc;
    sqlite3_bind_double(s, 1, at);
    store_bind_text(s, 2, level && level[0] ? level : "info");
    store_bind_text(s, 3, what ? what : "");
    store_bind_id(s, 4, job_id);
    return store_step_done(st, s, "recording an event", NULL, err);
}

int os_store_event(os_store *st, double now, const char *level, const char *what, int64_t job_id,
                   os_error *err) {
    STORE_LOCK(st);
    int rc = store_event_locked(st, now, level, what, job_id, err);
    STORE_UNLOCK(st);
    return rc;
}
