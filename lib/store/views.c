/* Read-only views for the admin CLI, built as cJSON so the CLI can print them as JSON or
 * as tables without knowing SQL. Each view reads inside one transaction (a consistent
 * snapshot that never blocks the daemon's writers under WAL). */
#include "store_internal.h"

#include <errno.h>
#include <string.h>

static const char *const SERIES_STATES[] = {"receiving", "complete", "selected", "ignored"};
static const char *const JOB_STATES[] = {"queued", "running", "done", "failed", "cancelled"};

/* Column i as JSON: numbers stay numbers, NULL stays null. */
static cJSON *col_json(sqlite3_stmt *s, int i) {
    switch (sqlite3_column_type(s, i)) {
    case SQLITE_INTEGER: return cJSON_CreateNumber((double)sqlite3_column_int64(s, i));
    case SQLITE_FLOAT: return cJSON_CreateNumber(sqlite3_column_double(s, i));
    case SQLITE_NULL: return cJSON_CreateNull();
    default: return cJSON_CreateString((const char *)sqlite3_column_text(s, i));
    }
}

/* Every row of s as an object keyed by column name, appended to arr. */
static int rows_to_array(os_store *st, sqlite3_stmt *s, cJSON *arr, const char *doing, os_error *err) {
    int src;
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            sqlite3_reset(s);
            return os_error_set(err, -ENOMEM, "out of memory while %s", doing);
        }
        for (int i = 0; i < sqlite3_column_count(s); i++)
            cJSON_AddItemToObject(o, sqlite3_column_name(s, i), col_json(s, i));
    }
    sqlite3_reset(s);
    return src == SQLITE_DONE ? 0 : store_fail(st, src, doing, err);
}

/* {state: count} with every known state present, so scripts need no defaults. */
static int counts_by_state(os_store *st, const char *sql, const char *const *states, size_t n_states, cJSON *obj,
                           os_error *err) {
    for (size_t i = 0; i < n_states; i++) cJSON_AddNumberToObject(obj, states[i], 0);
    sqlite3_stmt *s;
    int rc = store_stmt(st, sql, &s, err);
    if (rc != 0) return rc;
    int src;
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        const char *state = (const char *)sqlite3_column_text(s, 0);
        if (!state) continue;
        cJSON *n = cJSON_CreateNumber((double)sqlite3_column_int64(s, 1));
        if (cJSON_GetObjectItemCaseSensitive(obj, state)) cJSON_ReplaceItemInObjectCaseSensitive(obj, state, n);
        else cJSON_AddItemToObject(obj, state, n);
    }
    sqlite3_reset(s);
    return src == SQLITE_DONE ? 0 : store_fail(st, src, "counting by state", err);
}

static int scalar(os_store *st, const char *sql, double now, cJSON *obj, const char *key, os_error *err) {
    sqlite3_stmt *s;
    int rc = store_stmt(st, sql, &s, err);
    if (rc != 0) return rc;
    if (sqlite3_bind_parameter_count(s) >= 1) sqlite3_bind_double(s, 1, now);
    int src = sqlite3_step(s);
    if (src == SQLITE_ROW) cJSON_AddItemToObject(obj, key, col_json(s, 0));
    sqlite3_reset(s);
    return src == SQLITE_ROW ? 0 : store_fail(st, src, "reading the status", err);
}

static int status_locked(os_store *st, double now, cJSON *o, os_error *err) {
    static const char n_inst[] = "SELECT count(*) FROM instances";
    static const char series[] = "SELECT state, count(*) FROM series GROUP BY state";
    static const char jobs[] = "SELECT state, count(*) FROM jobs GROUP BY state";
    static const char oldest[] = "SELECT ?1 - min(created_at) FROM jobs WHERE state = 'queued'";
    static const char done[] = "SELECT count(*) FROM jobs WHERE state = 'done' AND finished_at >= ?1 - 3600";
    static const char failed[] = "SELECT count(*) FROM jobs WHERE state = 'failed' AND finished_at >= ?1 - 3600";
    static const char errors[] =
        "SELECT id AS job_id, error_at AS at, error FROM jobs WHERE error_at IS NOT NULL"
        " ORDER BY error_at DESC LIMIT 5";
    int rc = scalar(st, n_inst, now, o, "instances", err);
    cJSON *sobj = cJSON_AddObjectToObject(o, "series");
    cJSON *jobj = cJSON_AddObjectToObject(o, "jobs");
    if (rc == 0 && (!sobj || !jobj)) rc = os_error_set(err, -ENOMEM, "out of memory building the status");
    if (rc == 0) rc = counts_by_state(st, series, SERIES_STATES, 4, sobj, err);
    if (rc == 0) rc = counts_by_state(st, jobs, JOB_STATES, 5, jobj, err);
    if (rc == 0) rc = scalar(st, oldest, now, o, "oldest_queued_age_s", err);
    if (rc == 0) rc = scalar(st, done, now, o, "done_last_hour", err);
    if (rc == 0) rc = scalar(st, failed, now, o, "failed_last_hour", err);
    if (rc == 0) {
        cJSON *arr = cJSON_AddArrayToObject(o, "last_errors");
        sqlite3_stmt *s;
        rc = arr ? store_stmt(st, errors, &s, err) : os_error_set(err, -ENOMEM, "out of memory");
        if (rc == 0) rc = rows_to_array(st, s, arr, "reading recent errors", err);
    }
    return rc;
}

/* Shared frame: lock, snapshot, build, release; *out only on success. */
typedef int (*view_fn)(os_store *st, const void *arg, cJSON *root, os_error *err);

static int run_view(os_store *st, view_fn fn, const void *arg, int array, cJSON **out, os_error *err) {
    *out = NULL;
    cJSON *root = array ? cJSON_CreateArray() : cJSON_CreateObject();
    if (!root) return os_error_set(err, -ENOMEM, "out of memory building a view");
    STORE_LOCK(st);
    int rc = store_begin_read(st, "reading a view", err);
    if (rc == 0) {
        rc = fn(st, arg, root, err);
        store_rollback(st);
    }
    STORE_UNLOCK(st);
    if (rc != 0) {
        cJSON_Delete(root);
        return rc;
    }
    *out = root;
    return 0;
}

static int status_view(os_store *st, const void *arg, cJSON *root, os_error *err) {
    return status_locked(st, *(const double *)arg, root, err);
}

int os_store_status_json(os_store *st, double now, cJSON **out, os_error *err) {
    return run_view(st, status_view, &now, 0, out, err);
}

typedef struct list_arg {
    const char *state;
    int limit;
} list_arg;

static int list_view(os_store *st, const char *sql, const list_arg *a, cJSON *root, const char *doing,
                     os_error *err) {
    sqlite3_stmt *s;
    int rc = store_stmt(st, sql, &s, err);
    if (rc != 0) return rc;
    store_bind_text(s, 1, a->state && a->state[0] ? a->state : NULL);
    sqlite3_bind_int(s, 2, a->limit > 0 ? a->limit : -1); /* LIMIT -1: no limit */
    return rows_to_array(st, s, root, doing, err);
}

static int series_view(os_store *st, const void *arg, cJSON *root, os_error *err) {
    static const char sql[] =
        "SELECT series_uid, study_uid, modality, description, state, ignore_reason, n_instances,"
        " first_at, last_at, completed_at, series_number, kernel, slice_thickness FROM series"
        " WHERE ?1 IS NULL OR state = ?1 ORDER BY last_at DESC, series_uid LIMIT ?2";
    return list_view(st, sql, arg, root, "listing series", err);
}

int os_store_series_json(os_store *st, const char *state, int limit, cJSON **out, os_error *err) {
    list_arg a = {state, limit};
    return run_view(st, series_view, &a, 1, out, err);
}

static int jobs_view(os_store *st, const void *arg, cJSON *root, os_error *err) {
    static const char sql[] =
        "SELECT id, state, study_uid, series_uid, attempts, error, created_at, started_at, finished_at,"
        " not_before, lease_owner, lease_until FROM jobs"
        " WHERE ?1 IS NULL OR state = ?1 ORDER BY id DESC LIMIT ?2";
    return list_view(st, sql, arg, root, "listing jobs", err);
}

int os_store_jobs_json(os_store *st, const char *state, int limit, cJSON **out, os_error *err) {
    list_arg a = {state, limit};
    return run_view(st, jobs_view, &a, 1, out, err);
}

static int job_view(os_store *st, const void *arg, cJSON *root, os_error *err) {
    static const char job[] =
        "SELECT j.id, j.state, j.study_uid, j.series_uid, j.attempts, j.error, j.error_at, j.created_at,"
        " j.started_at, j.finished_at, j.not_before, j.lease_owner, j.lease_until,"
        " s.modality, s.description AS series_description, s.n_instances, s.state AS series_state"
        " FROM jobs j LEFT JOIN series s ON s.series_uid = j.series_uid WHERE j.id = ?";
    static const char results[] = "SELECT kind, json, created_at FROM results WHERE job_id = ? ORDER BY kind";
    static const char events[] = "SELECT at, level, what FROM events WHERE job_id = ? ORDER BY id";
    int64_t id = *(const int64_t *)arg;
    cJSON *tmp = cJSON_CreateArray();
    if (!tmp) return os_error_set(err, -ENOMEM, "out of memory reading a job");
    sqlite3_stmt *s;
    int rc = store_stmt(st, job, &s, err);
    if (rc == 0) {
        sqlite3_bind_int64(s, 1, id);
        rc = rows_to_array(st, s, tmp, "reading a job", err);
    }
    if (rc == 0 && cJSON_GetArraySize(tmp) == 0) rc = os_error_set(err, -ENOENT, "there is no job %lld", (long long)id);
    if (rc == 0) {
        cJSON *row = cJSON_GetArrayItem(tmp, 0);
        for (cJSON *f = row->child; f; f = f->next)
            cJSON_AddItemToObject(root, f->string, cJSON_Duplicate(f, 1));
    }
    cJSON_Delete(tmp);
    if (rc != 0) return rc;

    cJSON *res = cJSON_AddObjectToObject(root, "results");
    if (!res) return os_error_set(err, -ENOMEM, "out of memory reading a job");
    rc = store_stmt(st, results, &s, err);
    if (rc != 0) return rc;
    sqlite3_bind_int64(s, 1, id);
    int src;
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        const char *kind = (const char *)sqlite3_column_text(s, 0);
        const char *text = (const char *)sqlite3_column_text(s, 1);
        /* A result that is not valid JSON is still shown, as the string it is. */
        cJSON *v = text ? cJSON_Parse(text) : NULL;
        if (!v) v = text ? cJSON_CreateString(text) : cJSON_CreateNull();
        cJSON_AddItemToObject(res, kind ? kind : "", v);
    }
    sqlite3_reset(s);
    if (src != SQLITE_DONE) return store_fail(st, src, "reading a job's results", err);

    cJSON *ev = cJSON_AddArrayToObject(root, "events");
    if (!ev) return os_error_set(err, -ENOMEM, "out of memory reading a job");
    rc = store_stmt(st, events, &s, err);
    if (rc != 0) return rc;
    sqlite3_bind_int64(s, 1, id);
    return rows_to_array(st, s, ev, "reading a job's events", err);
}

int os_store_job_json(os_store *st, int64_t job_id, cJSON **out, os_error *err) {
    return run_view(st, job_view, &job_id, 0, out, err);
}
