/* The outbound queue: results waiting to go back to PACS, one row per file per destination.
 *
 * A row is pending until the destination stores it (sent) or the sender gives up (dead:
 * a permanent refusal, or still failing max_age after it was queued). The sender claims
 * one batch at a time — the due rows of one job for one destination — by moving their
 * next_try_at forward by a hold time instead of changing their state, so a daemon that
 * dies mid-send leaves nothing stuck: the hold lapses and the batch is due again.
 * Operators pause and resume destinations and resend a job's files; both are rows here,
 * so the CLI and the daemon agree without talking to each other. */
#include "store_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int job_exists_locked(os_store *st, int64_t job_id, os_error *err) {
    static const char sql[] = "SELECT 1 FROM jobs WHERE id = ?";
    sqlite3_stmt *s;
    int rc = store_stmt(st, sql, &s, err);
    if (rc != 0) return rc;
    sqlite3_bind_int64(s, 1, job_id);
    int src = sqlite3_step(s);
    sqlite3_reset(s);
    if (src == SQLITE_DONE) return os_error_set(err, -ENOENT, "there is no job %lld", (long long)job_id);
    return src == SQLITE_ROW ? 0 : store_fail(st, src, "looking up a job", err);
}

/* ---- enqueue ----------------------------------------------------------------------- */

static int enqueue_locked(os_store *st, int64_t job_id, const os_outbound_item *items, size_t n, double now,
                          size_t *added, os_error *err) {
    static const char ins[] =
        "INSERT INTO outbound(job_id, destination, kind, path, sop_uid, state, attempts, next_try_at,"
        " created_at, queued_at) VALUES (?1, ?2, ?3, ?4, ?5, 'pending', 0, ?6, ?6, ?6)"
        " ON CONFLICT(job_id, destination, sop_uid) DO NOTHING";
    int rc = job_exists_locked(st, job_id, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const os_outbound_item *it = &items[i];
        if (!it->kind || (strcmp(it->kind, "sr") && strcmp(it->kind, "sc")))
            return os_error_set(err, -EINVAL, "output kind \"%s\" is neither sr nor sc", it->kind ? it->kind : "");
        if (!it->destination || !*it->destination || !it->path || !*it->path || !it->sop_uid || !*it->sop_uid)
            return os_error_set(err, -EINVAL, "an output needs a destination, a path and a SOP Instance UID");
        if (strlen(it->destination) >= OS_OUTBOUND_NAME_MAX)
            return os_error_set(err, -EINVAL, "destination name \"%s\" is too long", it->destination);
        sqlite3_stmt *s;
        rc = store_stmt(st, ins, &s, err);
        if (rc != 0) return rc;
        sqlite3_bind_int64(s, 1, job_id);
        store_bind_text(s, 2, it->destination);
        store_bind_text(s, 3, it->kind);
        store_bind_text(s, 4, it->path);
        store_bind_text(s, 5, it->sop_uid);
        sqlite3_bind_double(s, 6, now);
        int changes = 0;
        rc = store_step_done(st, s, "queueing an output", &changes, err);
        if (added) *added += (size_t)changes;
    }
    return rc;
}

int os_store_outbound_enqueue(os_store *st, int64_t job_id, const os_outbound_item *items, size_t n, double now,
                              size_t *added, os_error *err) {
    int rc;
    size_t count = 0;
    WRITE_TXN(st, "queueing outputs", err, rc = enqueue_locked(st, job_id, items, n, now, &count, err));
    if (added) *added = rc == 0 ? count : 0;
    return rc;
}

int os_store_outbound_enqueue_outputs(os_store *st, int64_t job_id, const cJSON *outputs,
                                      const os_outbound_route *routes, size_t n_routes, double now,
                                      size_t *added, size_t *skipped, os_error *err) {
    if (added) *added = 0;
    if (skipped) *skipped = 0;
    if (!cJSON_IsArray(outputs) || n_routes == 0) return 0;
    size_t cap = (size_t)cJSON_GetArraySize(outputs) * n_routes;
    os_outbound_item *items = calloc(cap ? cap : 1, sizeof *items);
    if (!items) return os_error_set(err, -ENOMEM, "out of memory queueing outputs");
    size_t n = 0;
    const cJSON *o;
    cJSON_ArrayForEach(o, outputs) {
        const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "kind"));
        const char *path = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "path"));
        const char *uid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "sop_instance_uid"));
        int sr = kind && !strcmp(kind, "sr"), sc = kind && !strcmp(kind, "sc");
        if ((!sr && !sc) || !path || !*path || !uid || !*uid) {
            if (skipped) (*skipped)++;
            continue;
        }
        for (size_t i = 0; i < n_routes; i++)
            if ((sr && routes[i].sr) || (sc && routes[i].sc))
                items[n++] = (os_outbound_item){routes[i].destination, kind, path, uid};
    }
    int rc = n ? os_store_outbound_enqueue(st, job_id, items, n, now, added, err) : 0;
    free(items);
    return rc;
}

/* ---- claim ------------------------------------------------------------------------- */

void os_outbound_batch_free(os_outbound_batch *b) {
    if (!b) return;
    free(b->files);
    b->files = NULL;
    b->n = 0;
}

static int claim_locked(os_store *st, const char *dest, double now, double hold_s, os_outbound_batch *b,
                        int *found, os_error *err) {
    static const char pick[] =
        "SELECT o.job_id FROM outbound o WHERE o.destination = ?1 AND o.state = 'pending'"
        " AND o.next_try_at <= ?2"
        " AND NOT EXISTS (SELECT 1 FROM destinations d WHERE d.name = ?1 AND d.paused)"
        " ORDER BY o.next_try_at, o.id LIMIT 1";
    static const char rows[] =
        "SELECT id, kind, path, sop_uid, attempts, queued_at FROM outbound"
        " WHERE job_id = ?1 AND destination = ?2 AND state = 'pending' AND next_try_at <= ?3 ORDER BY id";
    static const char hold[] =
        "UPDATE outbound SET next_try_at = ?1"
        " WHERE job_id = ?2 AND destination = ?3 AND state = 'pending' AND next_try_at <= ?4";
    sqlite3_stmt *s;
    int rc = store_stmt(st, pick, &s, err);
    if (rc != 0) return rc;
    store_bind_text(s, 1, dest);
    sqlite3_bind_double(s, 2, now);
    int src = sqlite3_step(s);
    if (src == SQLITE_ROW) b->job_id = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    if (src == SQLITE_DONE) return 0;
    if (src != SQLITE_ROW) return store_fail(st, src, "looking for due outputs", err);

    rc = store_stmt(st, rows, &s, err);
    if (rc != 0) return rc;
    sqlite3_bind_int64(s, 1, b->job_id);
    store_bind_text(s, 2, dest);
    sqlite3_bind_double(s, 3, now);
    size_t cap = 0;
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        if (b->n == cap) {
            cap = cap ? cap * 2 : 4;
            os_outbound_file *f = realloc(b->files, cap * sizeof *f);
            if (!f) {
                sqlite3_reset(s);
                return os_error_set(err, -ENOMEM, "out of memory reading due outputs");
            }
            b->files = f;
        }
        os_outbound_file *f = &b->files[b->n++];
        memset(f, 0, sizeof *f);
        f->id = sqlite3_column_int64(s, 0);
        store_col_copy(s, 1, f->kind, sizeof f->kind);
        store_col_copy(s, 2, f->path, sizeof f->path);
        store_col_copy(s, 3, f->sop_uid, sizeof f->sop_uid);
        f->attempts = sqlite3_column_int(s, 4);
        double q = sqlite3_column_double(s, 5);
        if (b->n == 1 || q < b->queued_at) b->queued_at = q;
    }
    sqlite3_reset(s);
    if (src != SQLITE_DONE) return store_fail(st, src, "reading due outputs", err);

    rc = store_stmt(st, hold, &s, err);
    if (rc != 0) return rc;
    sqlite3_bind_double(s, 1, now + hold_s);
    sqlite3_bind_int64(s, 2, b->job_id);
    store_bind_text(s, 3, dest);
    sqlite3_bind_double(s, 4, now);
    rc = store_step_done(st, s, "claiming due outputs", NULL, err);
    if (rc == 0) *found = b->n > 0;
    return rc;
}

int os_store_outbound_claim(os_store *st, const char *destination, double now, double hold_s,
                            os_outbound_batch *batch, int *found, os_error *err) {
    int rc;
    memset(batch, 0, sizeof *batch);
    *found = 0;
    snprintf(batch->destination, sizeof batch->destination, "%s", destination);
    WRITE_TXN(st, "claiming due outputs", err, rc = claim_locked(st, destination, now, hold_s, batch, found, err));
    if (rc != 0 || !*found) {
        os_outbound_batch_free(batch);
        *found = 0;
    }
    return rc;
}

/* ---- outcomes ---------------------------------------------------------------------- */

double os_outbound_backoff(int attempts, double first_s, double max_s, double u) {
    if (attempts < 1) attempts = 1;
    if (u < 0) u = 0;
    if (u > 1) u = 1;
    double d = first_s * ldexp(1.0, attempts > 60 ? 60 : attempts - 1);
    if (d > max_s) d = max_s;
    d *= 0.8 + 0.4 * u;
    return d > max_s ? max_s : d;
}

typedef struct row_info {
    int64_t job_id;
    char destination[OS_OUTBOUND_NAME_MAX];
    char sop_uid[65];
    int attempts;
    double queued_at;
} row_info;

/* 1 with the row when it is pending, 0 when it is gone or no longer pending. */
static int pending_row(os_store *st, int64_t id, row_info *r, os_error *err) {
    static const char sql[] =
        "SELECT job_id, destination, sop_uid, attempts, queued_at FROM outbound WHERE id = ? AND state = 'pending'";
    sqlite3_stmt *s;
    int rc = store_stmt(st, sql, &s, err);
    if (rc != 0) return rc;
    sqlite3_bind_int64(s, 1, id);
    int src = sqlite3_step(s);
    if (src == SQLITE_ROW) {
        r->job_id = sqlite3_column_int64(s, 0);
        store_col_copy(s, 1, r->destination, sizeof r->destination);
        store_col_copy(s, 2, r->sop_uid, sizeof r->sop_uid);
        r->attempts = sqlite3_column_int(s, 3);
        r->queued_at = sqlite3_column_double(s, 4);
    }
    sqlite3_reset(s);
    if (src == SQLITE_ROW) return 1;
    return src == SQLITE_DONE ? 0 : store_fail(st, src, "reading an outbound row", err);
}

static int update_row(os_store *st, int64_t id, const char *state, int attempts, double next_try_at, int status,
                      const char *error, double sent_at, os_error *err) {
    static const char sql[] =
        "UPDATE outbound SET state = ?1, attempts = ?2, next_try_at = ?3, last_status = ?4, last_error = ?5,"
        " sent_at = ?6 WHERE id = ?7";
    sqlite3_stmt *s;
    int rc = store_stmt(st, sql, &s, err);
    if (rc != 0) return rc;
    store_bind_text(s, 1, state);
    sqlite3_bind_int(s, 2, attempts);
    sqlite3_bind_double(s, 3, next_try_at);
    if (status >= 0) sqlite3_bind_int(s, 4, status);
    else sqlite3_bind_null(s, 4);
    store_bind_text(s, 5, error && *error ? error : NULL);
    if (sent_at > 0) sqlite3_bind_double(s, 6, sent_at);
    else sqlite3_bind_null(s, 6);
    sqlite3_bind_int64(s, 7, id);
    return store_step_done(st, s, "recording a delivery outcome", NULL, err);
}

static int record_one(os_store *st, const os_outbound_outcome *o, const os_outbound_policy *p, double now,
                      os_outbound_tally *t, os_error *err) {
    row_info r;
    int rc = pending_row(st, o->id, &r, err);
    if (rc <= 0) return rc;
    if (o->result == OS_OUTBOUND_ABANDONED) {
        t->abandoned++;
        static const char sql[] = "UPDATE outbound SET next_try_at = ?1 WHERE id = ?2";
        sqlite3_stmt *s;
        rc = store_stmt(st, sql, &s, err);
        if (rc != 0) return rc;
        sqlite3_bind_double(s, 1, now);
        sqlite3_bind_int64(s, 2, o->id);
        return store_step_done(st, s, "returning an output to the queue", NULL, err);
    }
    int attempts = r.attempts + 1;
    if (o->result == OS_OUTBOUND_SENT) {
        t->sent++;
        return update_row(st, o->id, "sent", attempts, now, o->status, o->error, now, err);
    }
    char why[700];
    const char *error = o->error && *o->error ? o->error : "failed (no reason given)";
    int dead = o->result == OS_OUTBOUND_PERMANENT;
    if (!dead && now - r.queued_at >= p->max_age_s) {
        dead = 1;
        snprintf(why, sizeof why, "gave up after %d attempts in %.0f h: %s", attempts, p->max_age_s / 3600, error);
        error = why;
    }
    if (dead) {
        t->dead++;
        rc = update_row(st, o->id, "dead", attempts, now, o->status, error, 0, err);
        if (rc != 0) return rc;
        char what[900];
        snprintf(what, sizeof what, "delivery to %s dead (%s, attempt %d): %s", r.destination,
                 o->result == OS_OUTBOUND_PERMANENT ? "refused" : "too old", attempts, error);
        return store_event_locked(st, now, "warning", what, r.job_id, err);
    }
    /* The last try lands on the deadline, so a PACS that comes back late still gets it. */
    double next = now + os_outbound_backoff(attempts, p->backoff_first_s, p->backoff_max_s, p->jitter_u);
    if (next > r.queued_at + p->max_age_s) next = r.queued_at + p->max_age_s;
    t->retry++;
    if (t->next_try_at == 0 || next < t->next_try_at) t->next_try_at = next;
    return update_row(st, o->id, "pending", attempts, next, o->status, error, 0, err);
}

int os_store_outbound_record(os_store *st, const os_outbound_outcome *outcomes, size_t n,
                             const os_outbound_policy *policy, double now, os_outbound_tally *tally,
                             os_error *err) {
    int rc;
    os_outbound_tally t = {0};
    WRITE_TXN(st, "recording delivery outcomes", err, {
        for (size_t i = 0; rc == 0 && i < n; i++) rc = record_one(st, &outcomes[i], policy, now, &t, err);
    });
    if (tally) *tally = rc == 0 ? t : (os_outbound_tally){0};
    return rc;
}

/* ---- operator actions -------------------------------------------------------------- */

static int resend_locked(os_store *st, int64_t job_id, double now, size_t *n, os_error *err) {
    static const char count[] =
        "SELECT coalesce(sum(state = 'sent'), 0), coalesce(sum(state = 'dead'), 0),"
        " coalesce(sum(state = 'pending'), 0), coalesce(sum(attempts), 0) FROM outbound WHERE job_id = ?";
    static const char upd[] =
        "UPDATE outbound SET state = 'pending', attempts = 0, next_try_at = ?1, queued_at = ?1,"
        " last_status = NULL, last_error = NULL, sent_at = NULL WHERE job_id = ?2";
    int rc = job_exists_locked(st, job_id, err);
    if (rc != 0) return rc;
    sqlite3_stmt *s;
    rc = store_stmt(st, count, &s, err);
    if (rc != 0) return rc;
    sqlite3_bind_int64(s, 1, job_id);
    long long sent = 0, dead = 0, pending = 0, attempts = 0;
    int src = sqlite3_step(s);
    if (src == SQLITE_ROW) {
        sent = sqlite3_column_int64(s, 0);
        dead = sqlite3_column_int64(s, 1);
        pending = sqlite3_column_int64(s, 2);
        attempts = sqlite3_column_int64(s, 3);
    }
    sqlite3_reset(s);
    if (src != SQLITE_ROW) return store_fail(st, src, "counting a job's outputs", err);
    rc = store_stmt(st, upd, &s, err);
    if (rc != 0) return rc;
    sqlite3_bind_double(s, 1, now);
    sqlite3_bind_int64(s, 2, job_id);
    int changes = 0;
    rc = store_step_done(st, s, "re-queueing a job's outputs", &changes, err);
    if (rc != 0) return rc;
    if (n) *n = (size_t)changes;
    char what[300];
    snprintf(what, sizeof what,
             "resend: %d outbound file%s pending again (were sent=%lld dead=%lld pending=%lld, attempts=%lld)",
             changes, changes == 1 ? "" : "s", sent, dead, pending, attempts);
    return store_event_locked(st, now, "info", what, job_id, err);
}

int os_store_outbound_resend(os_store *st, int64_t job_id, double now, size_t *n, os_error *err) {
    int rc;
    size_t count = 0;
    WRITE_TXN(st, "re-queueing a job's outputs", err, rc = resend_locked(st, job_id, now, &count, err));
    if (n) *n = rc == 0 ? count : 0;
    return rc;
}

int os_store_destination_set_paused(os_store *st, const char *destination, int paused, double now,
                                    os_error *err) {
    static const char sql[] =
        "INSERT INTO destinations(name, paused, paused_at) VALUES (?1, ?2, CASE WHEN ?2 THEN ?3 END)"
        " ON CONFLICT(name) DO UPDATE SET paused = excluded.paused,"
        " paused_at = CASE WHEN excluded.paused THEN coalesce(destinations.paused_at, excluded.paused_at) END";
    if (!destination || !*destination || strlen(destination) >= OS_OUTBOUND_NAME_MAX)
        return os_error_set(err, -EINVAL, "a destination name has 1 to %d characters", OS_OUTBOUND_NAME_MAX - 1);
    int rc;
    WRITE_TXN(st, "pausing or resuming a destination", err, {
        sqlite3_stmt *s;
        rc = store_stmt(st, sql, &s, err);
        if (rc == 0) {
            store_bind_text(s, 1, destination);
            sqlite3_bind_int(s, 2, paused ? 1 : 0);
            sqlite3_bind_double(s, 3, now);
            rc = store_step_done(st, s, "pausing or resuming a destination", NULL, err);
        }
        if (rc == 0) {
            char what[200];
            snprintf(what, sizeof what, "destination %s %s", destination, paused ? "paused" : "resumed");
            rc = store_event_locked(st, now, "notice", what, 0, err);
        }
    });
    return rc;
}

int os_store_destination_paused(os_store *st, const char *destination, int *paused, os_error *err) {
    static const char sql[] = "SELECT coalesce(max(paused), 0) FROM destinations WHERE name = ?";
    STORE_LOCK(st);
    sqlite3_stmt *s;
    int rc = store_stmt(st, sql, &s, err);
    if (rc == 0) {
        store_bind_text(s, 1, destination);
        int src = sqlite3_step(s);
        if (src == SQLITE_ROW) *paused = sqlite3_column_int(s, 0) != 0;
        sqlite3_reset(s);
        if (src != SQLITE_ROW) rc = store_fail(st, src, "reading a destination", err);
    }
    STORE_UNLOCK(st);
    return rc;
}

/* ---- views ------------------------------------------------------------------------- */

static cJSON *col_json(sqlite3_stmt *s, int i) {
    switch (sqlite3_column_type(s, i)) {
    case SQLITE_INTEGER: return cJSON_CreateNumber((double)sqlite3_column_int64(s, i));
    case SQLITE_FLOAT: return cJSON_CreateNumber(sqlite3_column_double(s, i));
    case SQLITE_NULL: return cJSON_CreateNull();
    default: return cJSON_CreateString((const char *)sqlite3_column_text(s, i));
    }
}

/* Every row of s as an object keyed by column name; columns named in bools become
 * true/false. Runs under the caller's lock and read transaction. */
static int rows_json(os_store *st, sqlite3_stmt *s, const char *bool_col, cJSON *arr, os_error *err) {
    int src;
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            sqlite3_reset(s);
            return os_error_set(err, -ENOMEM, "out of memory reading the outbound queue");
        }
        for (int i = 0; i < sqlite3_column_count(s); i++) {
            const char *name = sqlite3_column_name(s, i);
            if (bool_col && !strcmp(name, bool_col))
                cJSON_AddItemToObject(o, name, cJSON_CreateBool(sqlite3_column_int(s, i) != 0));
            else
                cJSON_AddItemToObject(o, name, col_json(s, i));
        }
    }
    sqlite3_reset(s);
    return src == SQLITE_DONE ? 0 : store_fail(st, src, "reading the outbound queue", err);
}

static int view(os_store *st, const char *sql, const char *state, int limit, const char *bool_col, cJSON **out,
                os_error *err) {
    *out = cJSON_CreateArray();
    if (!*out) return os_error_set(err, -ENOMEM, "out of memory");
    STORE_LOCK(st);
    int rc = store_begin_read(st, "reading the outbound queue", err);
    if (rc == 0) {
        sqlite3_stmt *s;
        rc = store_stmt(st, sql, &s, err);
        if (rc == 0) {
            if (sqlite3_bind_parameter_count(s) >= 2) {
                store_bind_text(s, 1, state);
                sqlite3_bind_int(s, 2, limit > 0 ? limit : -1);
            }
            rc = rows_json(st, s, bool_col, *out, err);
        }
        store_rollback(st);
    }
    STORE_UNLOCK(st);
    if (rc != 0) {
        cJSON_Delete(*out);
        *out = NULL;
    }
    return rc;
}

int os_store_outbound_json(os_store *st, const char *state, int limit, cJSON **out, os_error *err) {
    static const char sql[] =
        "SELECT id, job_id, destination, kind, sop_uid, state, attempts, next_try_at, last_status, last_error,"
        " created_at, sent_at FROM outbound WHERE ?1 IS NULL OR state = ?1 ORDER BY id DESC LIMIT ?2";
    return view(st, sql, state, limit, NULL, out, err);
}

int os_store_destinations_json(os_store *st, cJSON **out, os_error *err) {
    static const char sql[] =
        "WITH names AS (SELECT name FROM destinations UNION SELECT DISTINCT destination FROM outbound)"
        " SELECT n.name AS name, coalesce(d.paused, 0) AS paused, d.paused_at AS paused_at,"
        " (SELECT count(*) FROM outbound o WHERE o.destination = n.name AND o.state = 'pending') AS pending,"
        " (SELECT count(*) FROM outbound o WHERE o.destination = n.name AND o.state = 'sent') AS sent,"
        " (SELECT count(*) FROM outbound o WHERE o.destination = n.name AND o.state = 'dead') AS dead,"
        " (SELECT min(next_try_at) FROM outbound o WHERE o.destination = n.name AND o.state = 'pending')"
        " AS next_try_at"
        " FROM names n LEFT JOIN destinations d ON d.name = n.name ORDER BY n.name";
    return view(st, sql, NULL, 0, "paused", out, err);
}
