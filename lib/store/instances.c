/* Recording received instances: the listener's hot path (one short write transaction per
 * instance, synchronous=FULL), and the look-ups that make re-sends and restarts idempotent. */
#include "store_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int os_store_instance_exists(os_store *st, const char *sop_uid, int *exists, os_error *err) {
    static const char sql[] = "SELECT 1 FROM instances WHERE sop_uid = ?";
    STORE_LOCK(st);
    sqlite3_stmt *s;
    int rc = store_stmt(st, sql, &s, err);
    if (rc == 0) {
        store_bind_text(s, 1, sop_uid);
        int src = sqlite3_step(s);
        sqlite3_reset(s);
        if (src == SQLITE_ROW || src == SQLITE_DONE) *exists = src == SQLITE_ROW;
        else rc = store_fail(st, src, "looking up an instance", err);
    }
    STORE_UNLOCK(st);
    return rc;
}

int os_store_instance_path_recorded(os_store *st, const char *path, int *recorded, os_error *err) {
    static const char sql[] = "SELECT 1 FROM instances WHERE path = ?";
    STORE_LOCK(st);
    sqlite3_stmt *s;
    int rc = store_stmt(st, sql, &s, err);
    if (rc == 0) {
        store_bind_text(s, 1, path);
        int src = sqlite3_step(s);
        sqlite3_reset(s);
        if (src == SQLITE_ROW || src == SQLITE_DONE) *recorded = src == SQLITE_ROW;
        else rc = store_fail(st, src, "looking up a spool path", err);
    }
    STORE_UNLOCK(st);
    return rc;
}

/* Returns 1 (and the state) when the series exists, 0 when not, <0 on error. */
static int series_state(os_store *st, const char *series_uid, char state[16], os_error *err) {
    static const char sql[] = "SELECT state FROM series WHERE series_uid = ?";
    sqlite3_stmt *s;
    int rc = store_stmt(st, sql, &s, err);
    if (rc != 0) return rc;
    store_bind_text(s, 1, series_uid);
    int src = sqlite3_step(s);
    if (src == SQLITE_ROW) store_col_copy(s, 0, state, 16);
    sqlite3_reset(s);
    if (src == SQLITE_ROW) return 1;
    if (src == SQLITE_DONE) return 0;
    return store_fail(st, src, "reading a series", err);
}

static int insert_series(os_store *st, const os_instance_rec *r, double at, os_error *err) {
    static const char sql[] =
        "INSERT INTO series(series_uid, study_uid, modality, description, series_number, kernel,"
        " slice_thickness, n_instances, first_at, last_at, state)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, 'receiving')";
    sqlite3_stmt *s;
    int rc = store_stmt(st, sql, &s, err);
    if (rc != 0) return rc;
    store_bind_text(s, 1, r->series_uid);
    store_bind_text(s, 2, r->study_uid);
    store_bind_text(s, 3, r->modality);
    store_bind_text(s, 4, r->series_description);
    sqlite3_bind_int(s, 5, r->series_number);
    store_bind_text(s, 6, r->convolution_kernel);
    if (r->slice_thickness > 0) sqlite3_bind_double(s, 7, r->slice_thickness);
    sqlite3_bind_double(s, 8, at);
    sqlite3_bind_double(s, 9, at);
    return store_step_done(st, s, "recording a new series", NULL, err);
}

/* Counts the instance and, when the series had already been completed, re-opens it:
 * the decision made on fewer slices no longer stands. */
static int touch_series(os_store *st, const os_instance_rec *r, double at, int reopen, os_error *err) {
    static const char sql[] =
        "UPDATE series SET n_instances = n_instances + 1,"
        " first_at = min(first_at, ?2), last_at = max(last_at, ?2),"
        " modality = coalesce(modality, ?3), description = coalesce(description, ?4),"
        " kernel = coalesce(kernel, ?5), slice_thickness = coalesce(slice_thickness, ?6),"
        " state = CASE WHEN ?7 THEN 'receiving' ELSE state END,"
        " completed_at = CASE WHEN ?7 THEN NULL ELSE completed_at END,"
        " ignore_reason = CASE WHEN ?7 THEN NULL ELSE ignore_reason END"
        " WHERE series_uid = ?1";
    sqlite3_stmt *s;
    int rc = store_stmt(st, sql, &s, err);
    if (rc != 0) return rc;
    store_bind_text(s, 1, r->series_uid);
    sqlite3_bind_double(s, 2, at);
    store_bind_text(s, 3, r->modality);
    store_bind_text(s, 4, r->series_description);
    store_bind_text(s, 5, r->convolution_kernel);
    if (r->slice_thickness > 0) sqlite3_bind_double(s, 6, r->slice_thickness);
    sqlite3_bind_int(s, 7, reopen);
    return store_step_done(st, s, "updating a series", NULL, err);
}

/* A queued or running job was chosen without this instance; cancel it so selection runs again
 * once the study is quiet. A running job's worker sees the cancellation and discards its
 * result, so the analysis that counts is the one over all the data. */
static int supersede_queued(os_store *st, const char *study_uid, double at, os_error *err) {
    static const char ev[] =
        "INSERT INTO events(at, level, what, job_id)"
        " SELECT ?, 'info', 'cancelled: superseded by a new instance of the study', id"
        " FROM jobs WHERE study_uid = ? AND state IN ('queued', 'running')";
    static const char upd[] =
        "UPDATE jobs SET state = 'cancelled', error = 'superseded: new instance arrived', finished_at = ?"
        " WHERE study_uid = ? AND state IN ('queued', 'running')";
    sqlite3_stmt *s;
    int rc = store_stmt(st, ev, &s, err);
    if (rc != 0) return rc;
    sqlite3_bind_double(s, 1, at);
    store_bind_text(s, 2, study_uid);
    rc = store_step_done(st, s, "recording superseded jobs", NULL, err);
    if (rc != 0) return rc;
    rc = store_stmt(st, upd, &s, err);
    if (rc != 0) return rc;
    sqlite3_bind_double(s, 1, at);
    store_bind_text(s, 2, study_uid);
    return store_step_done(st, s, "superseding queued jobs", NULL, err);
}

static int insert_instance(os_store *st, const os_instance_rec *r, double at, os_error *err) {
    static const char sql[] =
        "INSERT INTO instances(sop_uid, sop_class_uid, series_uid, study_uid, path, bytes, transfer_syntax,"
        " calling_ae, instance_number, row_x, row_y, row_z, col_x, col_y, col_z, pos_x, pos_y, pos_z,"
        " slice_thickness, image_type, rows, cols, frames, received_at, last_x, last_y, last_z)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    sqlite3_stmt *s;
    int rc = store_stmt(st, sql, &s, err);
    if (rc != 0) return rc;
    store_bind_text(s, 1, r->sop_uid);
    store_bind_text(s, 2, r->sop_class_uid);
    store_bind_text(s, 3, r->series_uid);
    store_bind_text(s, 4, r->study_uid);
    store_bind_text(s, 5, r->path);
    sqlite3_bind_int64(s, 6, r->bytes);
    store_bind_text(s, 7, r->transfer_syntax);
    store_bind_text(s, 8, r->calling_ae);
    sqlite3_bind_int(s, 9, r->instance_number);
    if (r->has_orientation)
        for (int i = 0; i < 6; i++) sqlite3_bind_double(s, 10 + i, r->orientation[i]);
    if (r->has_position)
        for (int i = 0; i < 3; i++) sqlite3_bind_double(s, 16 + i, r->position[i]);
    if (r->slice_thickness > 0) sqlite3_bind_double(s, 19, r->slice_thickness);
    store_bind_text(s, 20, r->image_type);
    sqlite3_bind_int(s, 21, r->rows);
    sqlite3_bind_int(s, 22, r->cols);
    sqlite3_bind_int(s, 23, r->frames);
    sqlite3_bind_double(s, 24, at);
    if (r->has_position && r->frames > 1)
        for (int i = 0; i < 3; i++) sqlite3_bind_double(s, 25 + i, r->position_last[i]);
    return store_step_done(st, s, "recording an instance", NULL, err);
}

static int add_locked(os_store *st, const os_instance_rec *r, int *was_new, os_error *err) {
    static const char known[] = "SELECT 1 FROM instances WHERE sop_uid = ?";
    double at = r->received_at > 0 ? r->received_at : store_now();
    sqlite3_stmt *s;
    int rc = store_stmt(st, known, &s, err);
    if (rc != 0) return rc;
    store_bind_text(s, 1, r->sop_uid);
    int src = sqlite3_step(s);
    sqlite3_reset(s);
    if (src == SQLITE_ROW) return 0; /* a re-send: nothing changes */
    if (src != SQLITE_DONE) return store_fail(st, src, "looking up an instance", err);

    char state[16] = "";
    rc = series_state(st, r->series_uid, state, err);
    if (rc < 0) return rc;
    if (rc == 0) {
        rc = insert_series(st, r, at, err);
    } else {
        int reopen = strcmp(state, "receiving") != 0;
        rc = touch_series(st, r, at, reopen, err);
        if (rc == 0 && reopen) rc = supersede_queued(st, r->study_uid, at, err);
    }
    if (rc == 0) rc = insert_instance(st, r, at, err);
    if (rc == 0) *was_new = 1;
    return rc;
}

int os_store_add_instance(os_store *st, const os_instance_rec *rec, int *was_new, os_error *err) {
    int dummy;
    if (!was_new) was_new = &dummy;
    *was_new = 0;
    if (!rec || !rec->sop_uid || !rec->series_uid || !rec->study_uid || !rec->path)
        return os_error_set(err, -EINVAL, "an instance needs SOP, series and study UIDs and a path");
    STORE_LOCK(st);
    int rc = store_begin_write(st, "recording an instance", err);
    if (rc == 0) {
        rc = add_locked(st, rec, was_new, err);
        if (rc == 0) rc = store_commit(st, "committing an instance", err);
        else store_rollback(st);
        if (rc != 0) *was_new = 0;
    }
    STORE_UNLOCK(st);
    return rc;
}

int os_store_series_paths(os_store *st, const char *series_uid, char ***paths, size_t *n, os_error *err) {
    static const char sql[] = "SELECT path FROM instances WHERE series_uid = ? ORDER BY path";
    *paths = NULL;
    *n = 0;
    STORE_LOCK(st);
    sqlite3_stmt *s;
    int rc = store_stmt(st, sql, &s, err);
    if (rc == 0) {
        store_bind_text(s, 1, series_uid);
        rc = store_collect_strings(st, s, "listing the files of a series", paths, n, err);
    }
    STORE_UNLOCK(st);
    return rc;
}
