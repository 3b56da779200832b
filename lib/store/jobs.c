/* The job queue: claiming with a lease, renewing it, and every state change a job can
 * make (done, failed or retried, requeued, recovered after a crash, retried or cancelled
 * by an operator). Each change is one transaction, so a crash leaves a job in one state. */
#include "store_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* State and lease owner of a job. Returns 0, or -ENOENT with a sentence. */
static int job_row(os_store *st, int64_t id, char state[16], char owner[256], int *attempts, os_error *err) {
    static const char sql[] = "SELECT state, coalesce(lease_owner, ''), attempts FROM jobs WHERE id = ?";
    sqlite3_stmt *s;
    int rc = store_stmt(st, sql, &s, err);
    if (rc != 0) return rc;
    sqlite3_bind_int64(s, 1, id);
    int src = sqlite3_step(s);
    if (src == SQLITE_ROW) {
        store_col_copy(s, 0, state, 16);
        if (owner) store_col_copy(s, 1, owner, 256);
        if (attempts) *attempts = sqlite3_column_int(s, 2);
    }
    sqlite3_reset(s);
    if (src == SQLITE_DONE) return os_error_set(err, -ENOENT, "there is no job %lld", (long long)id);
    if (src != SQLITE_ROW) return store_fail(st, src, "reading a job", err);
    return 0;
}

/* A worker may only change a job it holds: running, leased to it. A job cancelled under it
 * gets -ECANCELED so the worker discards its result; any other mismatch means the lease was
 * lost (expired and recovered, perhaps taken by another node). */
static int check_holder(os_store *st, int64_t id, const char *owner, int *attempts, os_error *err) {
    char state[16], holder[256];
    int rc = job_row(st, id, state, holder, attempts, err);
    if (rc != 0) return rc;
    if (!strcmp(state, "cancelled"))
        return os_error_set(err, -ECANCELED, "job %lld was cancelled while it ran; its result is discarded",
                            (long long)id);
    if (strcmp(state, "running") != 0 || strcmp(holder, owner ? owner : "") != 0)
        return os_error_set(err, -ESTALE, "job %lld is no longer leased by %s (it is %s%s%s)", (long long)id,
                            owner ? owner : "(none)", state, holder[0] ? ", held by " : "", holder);
    return 0;
}

static int claim_locked(os_store *st, const char *owner, double now, double lease_s, os_job *job, int *found,
                        os_error *err) {
    static const char sel[] =
        "SELECT id, study_uid, series_uid, attempts FROM jobs"
        " WHERE state = 'queued' AND not_before <= ? ORDER BY id LIMIT 1";
    static const char upd[] =
        "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = ?1, lease_until = ?2,"
        " started_at = ?3, finished_at = NULL WHERE id = ?4";
    sqlite3_stmt *s;
    int rc = store_stmt(st, sel, &s, err);
    if (rc != 0) return rc;
    sqlite3_bind_double(s, 1, now);
    int src = sqlite3_step(s);
    if (src == SQLITE_ROW) {
        memset(job, 0, sizeof *job);
        job->id = sqlite3_column_int64(s, 0);
        store_col_copy(s, 1, job->study_uid, sizeof job->study_uid);
        store_col_copy(s, 2, job->series_uid, sizeof job->series_uid);
        job->attempts = sqlite3_column_int(s, 3) + 1;
        snprintf(job->state, sizeof job->state, "running");
    }
    sqlite3_reset(s);
    if (src == SQLITE_DONE) return 0;
    if (src != SQLITE_ROW) return store_fail(st, src, "looking for a queued job", err);

    rc = store_stmt(st, upd, &s, err);
    if (rc != 0) return rc;
    store_bind_text(s, 1, owner);
    sqlite3_bind_double(s, 2, now + lease_s);
    sqlite3_bind_double(s, 3, now);
    sqlite3_bind_int64(s, 4, job->id);
    rc = store_step_done(st, s, "claiming a job", NULL, err);
    if (rc != 0) return rc;
    char what[320];
    snprintf(what, sizeof what, "running: claimed by %s (attempt %d)", owner ? owner : "?", job->attempts);
    rc = store_event_locked(st, now, "info", what, job->id, err);
    if (rc == 0) *found = 1;
    return rc;
}

int os_store_claim_job(os_store *st, const char *owner, double now, double lease_s, os_job *job, int *found,
                       os_error *err) {
    int rc;
    *found = 0;
    WRITE_TXN(st, "claiming a job", err, rc = claim_locked(st, owner, now, lease_s, job, found, err));
    if (rc != 0) *found = 0;
    return rc;
}

int os_store_renew_lease(os_store *st, int64_t job_id, const char *owner, double until, os_error *err) {
    static const char sql[] =
        "UPDATE jobs SET lease_until = ?1 WHERE id = ?2 AND state = 'running' AND lease_owner = ?3";
    int rc;
    STORE_LOCK(st);
    sqlite3_stmt *s;
    int changes = 0;
    rc = store_stmt(st, sql, &s, err);
    if (rc == 0) {
        sqlite3_bind_double(s, 1, until);
        sqlite3_bind_int64(s, 2, job_id);
        store_bind_text(s, 3, owner);
        rc = store_step_done(st, s, "renewing a lease", &changes, err);
    }
    /* Say why not: cancelled, or the lease went to someone else. */
    if (rc == 0 && changes == 0) rc = check_holder(st, job_id, owner, NULL, err);
    if (rc == 0 && changes == 0) rc = os_error_set(err, -ESTALE, "job %lld: lease not renewed", (long long)job_id);
    STORE_UNLOCK(st);
    return rc;
}

static int finish_locked(os_store *st, int64_t id, const char *owner, const char *kind, const char *json,
                         double now, os_error *err) {
    static const char upd[] =
        "UPDATE jobs SET state = 'done', finished_at = ?1, lease_until = NULL, error = NULL, error_at = NULL"
        " WHERE id = ?2";
    static const char res[] =
        "INSERT OR REPLACE INTO results(job_id, kind, json, created_at) VALUES (?, ?, ?, ?)";
    int rc = check_holder(st, id, owner, NULL, err);
    if (rc != 0) return rc;
    sqlite3_stmt *s;
    rc = store_stmt(st, upd, &s, err);
    if (rc != 0) return rc;
    sqlite3_bind_double(s, 1, now);
    sqlite3_bind_int64(s, 2, id);
    rc = store_step_done(st, s, "finishing a job", NULL, err);
    if (rc != 0 || !json) return rc;
    rc = store_stmt(st, res, &s, err);
    if (rc != 0) return rc;
    sqlite3_bind_int64(s, 1, id);
    store_bind_text(s, 2, kind && kind[0] ? kind : "result");
    store_bind_text(s, 3, json);
    sqlite3_bind_double(s, 4, now);
    return store_step_done(st, s, "storing a job's result", NULL, err);
}

int os_store_finish_job(os_store *st, int64_t job_id, const char *owner, const char *kind,
                        const char *result_json, double now, os_error *err) {
    int rc;
    WRITE_TXN(st, "finishing a job", err, rc = finish_locked(st, job_id, owner, kind, result_json, now, err));
    return rc;
}

static int fail_locked(os_store *st, int64_t id, const char *owner, const char *error, int max_attempts,
                       double now, double retry_s, char final_state[16], os_error *err) {
    static const char upd[] =
        "UPDATE jobs SET state = ?1, error = ?2, error_at = ?3, lease_until = NULL,"
        " finished_at = CASE WHEN ?1 = 'failed' THEN ?3 ELSE NULL END,"
        " not_before = CASE WHEN ?1 = 'queued' THEN ?4 ELSE not_before END"
        " WHERE id = ?5";
    int attempts = 0;
    int rc = check_holder(st, id, owner, &attempts, err);
    if (rc != 0) return rc;
    const char *next = attempts >= max_attempts ? "failed" : "queued";
    sqlite3_stmt *s;
    rc = store_stmt(st, upd, &s, err);
    if (rc != 0) return rc;
    store_bind_text(s, 1, next);
    store_bind_text(s, 2, error && error[0] ? error : "failed (no reason given)");
    sqlite3_bind_double(s, 3, now);
    sqlite3_bind_double(s, 4, now + (retry_s > 0 ? retry_s : 0));
    sqlite3_bind_int64(s, 5, id);
    rc = store_step_done(st, s, "recording a job failure", NULL, err);
    if (rc == 0) snprintf(final_state, 16, "%s", next);
    return rc;
}

int os_store_fail_job(os_store *st, int64_t job_id, const char *owner, const char *error, int max_attempts,
                      double now, double retry_s, char final_state[16], os_error *err) {
    int rc;
    char dummy[16];
    if (!final_state) final_state = dummy;
    final_state[0] = '\0';
    WRITE_TXN(st, "recording a job failure",
              err, rc = fail_locked(st, job_id, owner, error, max_attempts, now, retry_s, final_state, err));
    if (rc != 0) final_state[0] = '\0';
    return rc;
}

static int requeue_locked(os_store *st, int64_t id, const char *owner, os_error *err) {
    static const char upd[] =
        "UPDATE jobs SET state = 'queued', attempts = max(attempts - 1, 0), lease_until = NULL,"
        " started_at = NULL WHERE id = ?";
    int rc = check_holder(st, id, owner, NULL, err);
    if (rc != 0) return rc;
    sqlite3_stmt *s;
    rc = store_stmt(st, upd, &s, err);
    if (rc != 0) return rc;
    sqlite3_bind_int64(s, 1, id);
    rc = store_step_done(st, s, "requeueing a job", NULL, err);
    if (rc == 0) rc = store_event_locked(st, store_now(), "info", "queued: returned by a stopping worker", id, err);
    return rc;
}

int os_store_requeue_job(os_store *st, int64_t job_id, const char *owner, os_error *err) {
    int rc;
    WRITE_TXN(st, "requeueing a job", err, rc = requeue_locked(st, job_id, owner, err));
    return rc;
}

static int recover_locked(os_store *st, const char *owner, double now, int max_attempts, size_t *requeued,
                          size_t *failed, os_error *err) {
    static const char ev_fail[] =
        "INSERT INTO events(at, level, what, job_id)"
        " SELECT ?1, 'error', 'failed: lease lost after ' || attempts || ' attempts', id FROM jobs"
        " WHERE state = 'running' AND (lease_owner = ?2 OR lease_until IS NULL OR lease_until <= ?1)"
        " AND attempts >= ?3";
    static const char fail[] =
        "UPDATE jobs SET state = 'failed', lease_until = NULL, finished_at = ?1, error_at = ?1,"
        " error = 'lease lost after ' || attempts || ' attempts (worker crashed or was killed)'"
        " WHERE state = 'running' AND (lease_owner = ?2 OR lease_until IS NULL OR lease_until <= ?1)"
        " AND attempts >= ?3";
    static const char ev_requeue[] =
        "INSERT INTO events(at, level, what, job_id)"
        " SELECT ?1, 'warning', 'queued: lease of ' || coalesce(lease_owner, '?') || ' lost', id FROM jobs"
        " WHERE state = 'running' AND (lease_owner = ?2 OR lease_until IS NULL OR lease_until <= ?1)";
    static const char requeue[] =
        "UPDATE jobs SET state = 'queued', lease_until = NULL, started_at = NULL"
        " WHERE state = 'running' AND (lease_owner = ?2 OR lease_until IS NULL OR lease_until <= ?1)";
    /* Failures first, so the requeue below only sees what is left. */
    const char *sqls[4] = {ev_fail, fail, ev_requeue, requeue};
    int changes[4] = {0};
    for (int i = 0; i < 4; i++) {
        sqlite3_stmt *s;
        int rc = store_stmt(st, sqls[i], &s, err);
        if (rc != 0) return rc;
        sqlite3_bind_double(s, 1, now);
        store_bind_text(s, 2, owner);
        if (i < 2) sqlite3_bind_int(s, 3, max_attempts);
        rc = store_step_done(st, s, "recovering leases", &changes[i], err);
        if (rc != 0) return rc;
    }
    *failed = (size_t)changes[1];
    *requeued = (size_t)changes[3];
    return 0;
}

int os_store_recover_leases(os_store *st, const char *owner, double now, int max_attempts, size_t *requeued,
                            size_t *failed, os_error *err) {
    int rc;
    size_t r = 0, f = 0;
    WRITE_TXN(st, "recovering leases", err, rc = recover_locked(st, owner, now, max_attempts, &r, &f, err));
    if (requeued) *requeued = rc == 0 ? r : 0;
    if (failed) *failed = rc == 0 ? f : 0;
    return rc;
}

/* ---- admin ------------------------------------------------------------------------- */

static int retry_locked(os_store *st, int64_t id, double now, os_error *err) {
    static const char other[] =
        "SELECT o.id, o.state FROM jobs o JOIN jobs j ON o.series_uid = j.series_uid"
        " WHERE j.id = ?1 AND o.id <> ?1 AND o.state IN ('queued', 'running') LIMIT 1";
    static const char upd[] =
        "UPDATE jobs SET state = 'queued', attempts = 0, error = NULL, error_at = NULL, not_before = ?1,"
        " lease_until = NULL, started_at = NULL, finished_at = NULL WHERE id = ?2";
    char state[16];
    int rc = job_row(st, id, state, NULL, NULL, err);
    if (rc != 0) return rc;
    if (strcmp(state, "failed") && strcmp(state, "cancelled") && strcmp(state, "done"))
        return os_error_set(err, -EINVAL, "job %lld is %s; only failed, cancelled or done jobs can be retried",
                            (long long)id, state);
    sqlite3_stmt *s;
    rc = store_stmt(st, other, &s, err);
    if (rc != 0) return rc;
    sqlite3_bind_int64(s, 1, id);
    int src = sqlite3_step(s);
    long long other_id = src == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    char other_state[16] = "";
    if (src == SQLITE_ROW) store_col_copy(s, 1, other_state, sizeof other_state);
    sqlite3_reset(s);
    if (src != SQLITE_ROW && src != SQLITE_DONE) return store_fail(st, src, "looking for other jobs", err);
    if (other_id)
        return os_error_set(err, -EEXIST, "job %lld of the same series is already %s; not retrying job %lld",
                            other_id, other_state, (long long)id);
    rc = store_stmt(st, upd, &s, err);
    if (rc != 0) return rc;
    sqlite3_bind_double(s, 1, now);
    sqlite3_bind_int64(s, 2, id);
    rc = store_step_done(st, s, "retrying a job", NULL, err);
    if (rc == 0) {
        char what[64];
        snprintf(what, sizeof what, "queued: retried by an operator (was %s)", state);
        rc = store_event_locked(st, now, "notice", what, id, err);
    }
    return rc;
}

int os_store_retry_job(os_store *st, int64_t job_id, double now, os_error *err) {
    int rc;
    WRITE_TXN(st, "retrying a job", err, rc = retry_locked(st, job_id, now, err));
    return rc;
}

static int cancel_locked(os_store *st, int64_t id, double now, os_error *err) {
    /* lease_owner stays: the worker still running it must find the job cancelled, not lost. */
    static const char upd[] =
        "UPDATE jobs SET state = 'cancelled', error = 'cancelled by an operator', finished_at = ?1,"
        " lease_until = NULL WHERE id = ?2";
    char state[16];
    int rc = job_row(st, id, state, NULL, NULL, err);
    if (rc != 0) return rc;
    if (strcmp(state, "queued") && strcmp(state, "running"))
        return os_error_set(err, -EINVAL, "job %lld is %s; only queued or running jobs can be cancelled",
                            (long long)id, state);
    sqlite3_stmt *s;
    rc = store_stmt(st, upd, &s, err);
    if (rc != 0) return rc;
    sqlite3_bind_double(s, 1, now);
    sqlite3_bind_int64(s, 2, id);
    rc = store_step_done(st, s, "cancelling a job", NULL, err);
    if (rc == 0) {
        char what[64];
        snprintf(what, sizeof what, "cancelled by an operator (was %s)", state);
        rc = store_event_locked(st, now, "notice", what, id, err);
    }
    return rc;
}

int os_store_cancel_job(os_store *st, int64_t job_id, double now, os_error *err) {
    int rc;
    WRITE_TXN(st, "cancelling a job", err, rc = cancel_locked(st, job_id, now, err));
    return rc;
}

int os_store_job_state(os_store *st, int64_t job_id, char state[16], os_error *err) {
    STORE_LOCK(st);
    int rc = job_row(st, job_id, state, NULL, NULL, err);
    STORE_UNLOCK(st);
    return rc;
}
