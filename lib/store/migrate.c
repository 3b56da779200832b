/* Schema migrations: brings a database up to the newest version compiled into this build
 * (sql/ embedded by cmake/embed_sql.cmake) and refuses one written by a newer build,
 * since an older binary cannot know what a newer schema means. */
#include "store_internal.h"

#include <errno.h>
#include <stdlib.h>

#include "osteoscout/migrations.h"

static int read_version(os_store *st, int *version, os_error *err) {
    static const char sql[] = "SELECT coalesce(max(version), 0) FROM schema_version";
    sqlite3_stmt *s;
    int rc = store_stmt(st, sql, &s, err);
    if (rc != 0) return rc;
    int src = sqlite3_step(s);
    if (src == SQLITE_ROW) *version = sqlite3_column_int(s, 0);
    sqlite3_reset(s);
    return src == SQLITE_ROW ? 0 : store_fail(st, src, "reading the schema version", err);
}

static int newest_known(void) {
    int v = 0;
    for (int i = 0; i < os_migrations_count; i++)
        if (os_migrations[i].version > v) v = os_migrations[i].version;
    return v;
}

/* The embedded array is in file-name order ("0002_x.sql" sorts before "schema.sql"), so
 * look migrations up by version rather than trusting the order. */
static const os_migration *find_version(int version) {
    for (int i = 0; i < os_migrations_count; i++)
        if (os_migrations[i].version == version) return &os_migrations[i];
    return NULL;
}

/* One migration in its own transaction; re-checks the version under the write lock
 * because another process may have applied it while we waited. */
static int apply_one(os_store *st, const os_migration *m, os_error *err) {
    int rc = store_begin_write(st, "starting a schema migration", err);
    if (rc != 0) return rc;
    int current = 0;
    rc = read_version(st, &current, err);
    if (rc == 0 && current < m->version) {
        char *msg = NULL;
        int src = sqlite3_exec(st->db, m->sql, NULL, NULL, &msg);
        if (src != SQLITE_OK) {
            int primary = src & 0xff;
            if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
                rc = store_fail(st, src, "applying a schema migration", err);
            else
                rc = os_error_set(err, -EIO, "schema migration %d (sql/%s) failed: %s", m->version, m->name,
                                  msg ? msg : sqlite3_errstr(src));
            sqlite3_free(msg);
        } else {
            static const char ins[] = "INSERT INTO schema_version(version) VALUES (?)";
            sqlite3_stmt *s;
            rc = store_stmt(st, ins, &s, err);
            if (rc == 0) {
                sqlite3_bind_int(s, 1, m->version);
                rc = store_step_done(st, s, "recording the schema version", NULL, err);
            }
        }
    }
    if (rc != 0) {
        store_rollback(st);
        return rc;
    }
    return store_commit(st, "committing a schema migration", err);
}

int store_migrate(os_store *st, os_error *err) {
    int rc = sqlite3_exec(st->db, "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)", NULL,
                          NULL, NULL);
    if (rc != SQLITE_OK) return store_fail(st, rc, "creating schema_version", err);
    int known = newest_known(), current = 0;
    rc = read_version(st, &current, err);
    if (rc != 0) return rc;
    if (current > known)
        return os_error_set(err, -EPROTO, "database schema version %d is newer than this build (%d): upgrade OsteoScout",
                            current, known);
    for (int v = current + 1; v <= known; v++) {
        const os_migration *m = find_version(v);
        if (!m) continue; /* numbering gaps are allowed */
        rc = apply_one(st, m, err);
        if (rc != 0) return rc;
    }
    return 0;
}

int os_store_schema_version(os_store *st, int *version, os_error *err) {
    STORE_LOCK(st);
    int rc = read_version(st, version, err);
    STORE_UNLOCK(st);
    return rc;
}
