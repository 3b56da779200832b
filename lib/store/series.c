/* Series life cycle: receiving -> complete once quiet, then selected or ignored by the
 * study's selection, which also creates (at most one) job for the chosen series. */
#include "store_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int os_store_complete_quiet_series(os_store *st, double now, double quiet_s, char ***studies,
                                   size_t *n_studies, os_error *err) {
    static const char sel[] =
        "SELECT DISTINCT study_uid FROM series WHERE state = 'receiving' AND last_at <= ?";
    static const char upd[] =
        "UPDATE series SET state = 'complete', completed_at = ?1 WHERE state = 'receiving' AND last_at <= ?2";
    double cutoff = now - quiet_s;
    *studies = NULL;
    *n_studies = 0;
    STORE_LOCK(st);
    int rc = store_begin_write(st, "completing quiet series", err);
    if (rc == 0) {
        sqlite3_stmt *s;
        rc = store_stmt(st, sel, &s, err);
        if (rc == 0) {
            sqlite3_bind_double(s, 1, cutoff);
            rc = store_collect_strings(st, s, "finding quiet series", studies, n_studies, err);
        }
        if (rc == 0 && *n_studies > 0) {
            rc = store_stmt(st, upd, &s, err);
            if (rc == 0) {
                sqlite3_bind_double(s, 1, now);
                sqlite3_bind_double(s, 2, cutoff);
                rc = store_step_done(st, s, "completing quiet series", NULL, err);
            }
        }
        if (rc == 0) rc = store_commit(st, "committing completed series", err);
        else store_rollback(st);
    }
    STORE_UNLOCK(st);
    if (rc != 0) {
        os_store_free_strings(*studies, *n_studies);
        *studies = NULL;
        *n_studies = 0;
    }
    return rc;
}

int os_store_studies_pending_selection(os_store *st, char ***studies, size_t *n, os_error *err) {
    static const char sql[] =
        "SELECT DISTINCT s.study_uid FROM series s WHERE s.state = 'complete'"
        " AND NOT EXISTS (SELECT 1 FROM series r WHERE r.study_uid = s.study_uid AND r.state = 'receiving')"
        " ORDER BY s.study_uid";
    *studies = NULL;
    *n = 0;
    STORE_LOCK(st);
    sqlite3_stmt *s;
    int rc = store_stmt(st, sql, &s, err);
    if (rc == 0) rc = store_collect_strings(st, s, "finding studies awaiting selection", studies, n, err);
    STORE_UNLOCK(st);
    return rc;
}

/* ---- per-series geometry ------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct orient_key {
    long long v[6];
} orient_key;

/* Folds the instances of one series into the summary: distinct orientations, the median
 * thickness and the extent along each slice's own normal. */
static int summarise_instances(os_store *st, os_series_summary *sum, os_error *err) {
    static const char sql[] =
        "SELECT row_x, row_y, row_z, col_x, col_y, col_z, pos_x, pos_y, pos_z, slice_thickness,"
        " upper(coalesce(image_type, '')) LIKE '%LOCALIZER%', max(coalesce(frames, 1), 1),"
        " last_x, last_y, last_z"
        " FROM instances WHERE series_uid = ? ORDER BY instance_number, rowid";
    sqlite3_stmt *s;
    int rc = store_stmt(st, sql, &s, err);
    if (rc != 0) return rc;
    store_bind_text(s, 1, sum->series_uid);

    double *thick = NULL;
    size_t n_thick = 0, cap_thick = 0;
    orient_key keys[16];
    int n_keys = 0, have_z = 0, src;
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        if (sqlite3_column_int(s, 10)) sum->n_localizer++;
        sum->n_slices += sqlite3_column_int(s, 11);
        int has_o = sqlite3_column_type(s, 0) != SQLITE_NULL;
        double o[6];
        for (int i = 0; i < 6; i++) o[i] = sqlite3_column_double(s, i);
        if (has_o) {
            if (!sum->has_orientation) {
                sum->has_orientation = 1;
                memcpy(sum->orientation, o, sizeof o);
            }
            orient_key k;
            for (int i = 0; i < 6; i++) k.v[i] = llround(o[i] * 1000.0);
            int seen = 0;
            for (int j = 0; j < n_keys && !seen; j++) seen = !memcmp(&keys[j], &k, sizeof k);
            if (!seen) {
                sum->n_orientations++;
                /* Past 16 distinct orientations the count is only "many"; stop remembering. */
                if (n_keys < (int)(sizeof keys / sizeof keys[0])) keys[n_keys++] = k;
            }
            if (sqlite3_column_type(s, 6) != SQLITE_NULL) {
                double nx = o[1] * o[5] - o[2] * o[4];
                double ny = o[2] * o[3] - o[0] * o[5];
                double nz = o[0] * o[4] - o[1] * o[3];
                /* A multi-frame object spans from its first to its last frame. */
                int last = sqlite3_column_type(s, 12) != SQLITE_NULL ? 12 : 6;
                double z0 = sqlite3_column_double(s, 6) * nx + sqlite3_column_double(s, 7) * ny +
                            sqlite3_column_double(s, 8) * nz;
                double z1 = sqlite3_column_double(s, last) * nx + sqlite3_column_double(s, last + 1) * ny +
                            sqlite3_column_double(s, last + 2) * nz;
                double lo = z0 < z1 ? z0 : z1, hi = z0 < z1 ? z1 : z0;
                if (!have_z || lo < sum->z_min) sum->z_min = lo;
                if (!have_z || hi > sum->z_max) sum->z_max = hi;
                have_z = 1;
            }
        }
        double t = sqlite3_column_double(s, 9);
        if (t > 0) {
            if (n_thick == cap_thick) {
                cap_thick = cap_thick ? cap_thick * 2 : 256;
                double *nt = realloc(thick, cap_thick * sizeof *nt);
                if (!nt) {
                    src = SQLITE_NOMEM;
                    break;
                }
                thick = nt;
            }
            thick[n_thick++] = t;
        }
    }
    sqlite3_reset(s);
    if (src == SQLITE_NOMEM) rc = os_error_set(err, -ENOMEM, "out of memory summarising a series");
    else if (src != SQLITE_DONE) rc = store_fail(st, src, "reading the instances of a series", err);
    if (rc == 0 && n_thick) {
        qsort(thick, n_thick, sizeof *thick, cmp_double);
        sum->slice_thickness =
            n_thick % 2 ? thick[n_thick / 2] : (thick[n_thick / 2 - 1] + thick[n_thick / 2]) / 2.0;
    }
    free(thick);
    return rc;
}

/* A job covers the series' current data when it is queued or running (re-opening cancels
 * those), or done and created after the series' last instance arrived. */
static int series_has_job(os_store *st, const char *series_uid, int *has, os_error *err) {
    static const char sql[] =
        "SELECT 1 FROM jobs j JOIN series s ON s.series_uid = j.series_uid"
        " WHERE j.series_uid = ?1 AND (j.state IN ('queued', 'running')"
        "   OR (j.state = 'done' AND j.created_at >= s.last_at)) LIMIT 1";
    sqlite3_stmt *s;
    int rc = store_stmt(st, sql, &s, err);
    if (rc != 0) return rc;
    store_bind_text(s, 1, series_uid);
    int src = sqlite3_step(s);
    sqlite3_reset(s);
    if (src != SQLITE_ROW && src != SQLITE_DONE) return store_fail(st, src, "looking up jobs", err);
    *has = src == SQLITE_ROW;
    return 0;
}

static int study_series_locked(os_store *st, const char *study_uid, os_series_summary **out, size_t *n,
                               os_error *err) {
    static const char sql[] =
        "SELECT series_uid, study_uid, modality, description, kernel, state, n_instances,"
        " series_number FROM series WHERE study_uid = ? ORDER BY series_number, first_at, series_uid";
    sqlite3_stmt *s;
    int rc = store_stmt(st, sql, &s, err);
    if (rc != 0) return rc;
    store_bind_text(s, 1, study_uid);
    os_series_summary *v = NULL;
    size_t len = 0, cap = 0;
    int src;
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        if (len == cap) {
            cap = cap ? cap * 2 : 8;
            os_series_summary *nv = realloc(v, cap * sizeof *nv);
            if (!nv) break;
            v = nv;
        }
        os_series_summary *m = &v[len++];
        memset(m, 0, sizeof *m);
        store_col_copy(s, 0, m->series_uid, sizeof m->series_uid);
        store_col_copy(s, 1, m->study_uid, sizeof m->study_uid);
        store_col_copy(s, 2, m->modality, sizeof m->modality);
        store_col_copy(s, 3, m->description, sizeof m->description);
        store_col_copy(s, 4, m->kernel, sizeof m->kernel);
        store_col_copy(s, 5, m->state, sizeof m->state);
        m->n_instances = sqlite3_column_int(s, 6);
        m->series_number = sqlite3_column_int(s, 7);
    }
    sqlite3_reset(s);
    if (src == SQLITE_ROW) rc = os_error_set(err, -ENOMEM, "out of memory reading a study");
    else if (src != SQLITE_DONE) rc = store_fail(st, src, "reading the series of a study", err);
    for (size_t i = 0; rc == 0 && i < len; i++) {
        rc = summarise_instances(st, &v[i], err);
        if (rc == 0) rc = series_has_job(st, v[i].series_uid, &v[i].has_job, err);
    }
    if (rc != 0) {
        free(v);
        return rc;
    }
    *out = v;
    *n = len;
    return 0;
}

int os_store_study_series(os_store *st, const char *study_uid, os_series_summary **out, size_t *n,
                          os_error *err) {
    *out = NULL;
    *n = 0;
    STORE_LOCK(st);
    /* One read transaction so the series list and their instances agree. */
    int rc = store_begin_read(st, "reading a study", err);
    if (rc == 0) {
        rc = study_series_locked(st, study_uid, out, n, err);
        store_rollback(st);
    }
    STORE_UNLOCK(st);
    return rc;
}

/* ---- applying a selection ----------------------------------------------------------- */

static int set_series(os_store *st, const char *series_uid, const char *study_uid, const char *state,
                      const char *reason, os_error *err) {
    /* Only decided-on series change: one that re-opened meanwhile waits for the next pass. */
    static const char sql[] =
        "UPDATE series SET state = ?1, ignore_reason = ?2"
        " WHERE series_uid = ?3 AND study_uid = ?4 AND state IN ('complete', 'selected', 'ignored')";
    sqlite3_stmt *s;
    int rc = store_stmt(st, sql, &s, err);
    if (rc != 0) return rc;
    store_bind_text(s, 1, state);
    store_bind_text(s, 2, reason);
    store_bind_text(s, 3, series_uid);
    store_bind_text(s, 4, study_uid);
    return store_step_done(st, s, "recording a selection", NULL, err);
}

static int cancel_unchosen(os_store *st, const char *study_uid, const char *chosen, double now, os_error *err) {
    static const char ev[] =
        "INSERT INTO events(at, level, what, job_id)"
        " SELECT ?1, 'info', 'cancelled: another series of the study was selected', id FROM jobs"
        " WHERE study_uid = ?2 AND state = 'queued' AND (?3 IS NULL OR series_uid <> ?3)";
    static const char upd[] =
        "UPDATE jobs SET state = 'cancelled', error = 'superseded: another series was selected', finished_at = ?1"
        " WHERE study_uid = ?2 AND state = 'queued' AND (?3 IS NULL OR series_uid <> ?3)";
    const char *sqls[2] = {ev, upd};
    for (int i = 0; i < 2; i++) {
        sqlite3_stmt *s;
        int rc = store_stmt(st, sqls[i], &s, err);
        if (rc != 0) return rc;
        sqlite3_bind_double(s, 1, now);
        store_bind_text(s, 2, study_uid);
        store_bind_text(s, 3, chosen);
        rc = store_step_done(st, s, "cancelling jobs of unselected series", NULL, err);
        if (rc != 0) return rc;
    }
    return 0;
}

static int create_job(os_store *st, const char *study_uid, const char *series_uid, double now, int64_t *job_id,
                      os_error *err) {
    static const char sql[] =
        "INSERT INTO jobs(study_uid, series_uid, state, attempts, not_before, created_at)"
        " VALUES (?1, ?2, 'queued', 0, ?3, ?3)";
    sqlite3_stmt *s;
    int rc = store_stmt(st, sql, &s, err);
    if (rc != 0) return rc;
    store_bind_text(s, 1, study_uid);
    store_bind_text(s, 2, series_uid);
    sqlite3_bind_double(s, 3, now);
    rc = store_step_done(st, s, "creating a job", NULL, err);
    if (rc != 0) return rc;
    *job_id = sqlite3_last_insert_rowid(st->db);
    return store_event_locked(st, now, "info", "queued: series selected", *job_id, err);
}

/* Decided-on series the caller did not mention are not chosen either. */
static int ignore_rest(os_store *st, const char *study_uid, const char *chosen, os_error *err) {
    static const char sql[] =
        "UPDATE series SET state = 'ignored', ignore_reason = 'not selected'"
        " WHERE study_uid = ?1 AND state IN ('complete', 'selected') AND (?2 IS NULL OR series_uid <> ?2)";
    sqlite3_stmt *s;
    int rc = store_stmt(st, sql, &s, err);
    if (rc != 0) return rc;
    store_bind_text(s, 1, study_uid);
    store_bind_text(s, 2, chosen);
    return store_step_done(st, s, "ignoring unselected series", NULL, err);
}

static int apply_locked(os_store *st, const char *study_uid, const char *chosen, const char *const *uids,
                        const char *const *reasons, size_t n, double now, int64_t *job_id, os_error *err) {
    int rc = cancel_unchosen(st, study_uid, chosen, now, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (!uids[i] || (chosen && !strcmp(uids[i], chosen))) continue;
        rc = set_series(st, uids[i], study_uid, "ignored",
                        reasons && reasons[i] && reasons[i][0] ? reasons[i] : "not selected", err);
    }
    if (rc == 0) rc = ignore_rest(st, study_uid, chosen, err);
    if (rc != 0 || !chosen) return rc;

    char state[16] = "";
    static const char get[] = "SELECT state FROM series WHERE series_uid = ? AND study_uid = ?";
    sqlite3_stmt *s;
    rc = store_stmt(st, get, &s, err);
    if (rc != 0) return rc;
    store_bind_text(s, 1, chosen);
    store_bind_text(s, 2, study_uid);
    int src = sqlite3_step(s);
    if (src == SQLITE_ROW) store_col_copy(s, 0, state, sizeof state);
    sqlite3_reset(s);
    if (src == SQLITE_DONE) return os_error_set(err, -ENOENT, "the chosen series is not part of the study");
    if (src != SQLITE_ROW) return store_fail(st, src, "reading the chosen series", err);
    if (!strcmp(state, "receiving")) return 0; /* re-opened meanwhile: decided again when quiet */

    rc = set_series(st, chosen, study_uid, "selected", NULL, err);
    int has = 0;
    if (rc == 0) rc = series_has_job(st, chosen, &has, err);
    if (rc == 0 && !has) rc = create_job(st, study_uid, chosen, now, job_id, err);
    return rc;
}

int os_store_apply_selection(os_store *st, const char *study_uid, const char *chosen,
                             const char *const *series_uids, const char *const *reasons, size_t n,
                             double now, int64_t *job_id, os_error *err) {
    int64_t dummy;
    if (!job_id) job_id = &dummy;
    *job_id = 0;
    if (!study_uid) return os_error_set(err, -EINVAL, "no study given for the selection");
    STORE_LOCK(st);
    int rc = store_begin_write(st, "recording a selection", err);
    if (rc == 0) {
        rc = apply_locked(st, study_uid, chosen, series_uids, reasons, n, now, job_id, err);
        if (rc == 0) rc = store_commit(st, "committing a selection", err);
        else store_rollback(st);
        if (rc != 0) *job_id = 0;
    }
    STORE_UNLOCK(st);
    return rc;
}
