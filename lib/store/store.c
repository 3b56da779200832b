/* Opening and closing a store handle, plus the plumbing the other store files share:
 * the statement cache, transactions and the mapping of SQLite errors to os_error. */
#include "store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int store_migrate(os_store *st, os_error *err); /* migrate.c */

double store_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int store_fail(os_store *st, int rc, const char *doing, os_error *err) {
    int primary = rc & 0xff;
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
        return os_error_set(err, OS_STORE_BUSY,
                            "the database stayed locked for more than %d ms while %s; another process "
                            "holds it (try again, or raise database.busy_timeout_ms)",
                            st->busy_timeout_ms, doing);
    if (primary == SQLITE_NOMEM) return os_error_set(err, -ENOMEM, "out of memory while %s", doing);
    return os_error_set(err, -EIO, "database error while %s: %s", doing,
                        st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
}

int store_stmt(os_store *st, const char *sql, sqlite3_stmt **out, os_error *err) {
    for (size_t i = 0; i < st->n_cache; i++) {
        if (st->cache[i].sql == sql) {
            sqlite3_reset(st->cache[i].stmt);
            sqlite3_clear_bindings(st->cache[i].stmt);
            *out = st->cache[i].stmt;
            return 0;
        }
    }
    if (st->n_cache == st->cap_cache) {
        size_t cap = st->cap_cache ? st->cap_cache * 2 : 32;
        store_cached *c = realloc(st->cache, cap * sizeof *c);
        if (!c) return os_error_set(err, -ENOMEM, "out of memory preparing a database statement");
        st->cache = c;
        st->cap_cache = cap;
    }
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
    if (rc != SQLITE_OK) return store_fail(st, rc, "preparing a statement", err);
    st->cache[st->n_cache].sql = sql;
    st->cache[st->n_cache].stmt = s;
    st->n_cache++;
    *out = s;
    return 0;
}

static int exec_simple(os_store *st, const char *sql, const char *doing, os_error *err) {
    int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : store_fail(st, rc, doing, err);
}

int store_begin_write(os_store *st, const char *doing, os_error *err) {
    return exec_simple(st, "BEGIN IMMEDIATE", doing, err);
}

int store_begin_read(os_store *st, const char *doing, os_error *err) {
    return exec_simple(st, "BEGIN", doing, err);
}

int store_commit(os_store *st, const char *doing, os_error *err) {
    int rc = exec_simple(st, "COMMIT", doing, err);
    /* A failed COMMIT can leave the transaction open; never leave it to the next caller. */
    if (rc != 0) store_rollback(st);
    return rc;
}

void store_rollback(os_store *st) {
    if (!sqlite3_get_autocommit(st->db)) sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

int store_step_done(os_store *st, sqlite3_stmt *s, const char *doing, int *changes, os_error *err) {
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) return store_fail(st, rc, doing, err);
    if (changes) *changes = sqlite3_changes(st->db);
    return 0;
}

void store_bind_text(sqlite3_stmt *s, int i, const char *v) {
    if (v) sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(s, i);
}

void store_bind_id(sqlite3_stmt *s, int i, int64_t job_id) {
    if (job_id > 0) sqlite3_bind_int64(s, i, job_id);
    else sqlite3_bind_null(s, i);
}

void store_col_copy(sqlite3_stmt *s, int i, char *out, size_t outlen) {
    const unsigned char *t = sqlite3_column_text(s, i);
    if (!outlen) return;
    size_t n = t ? strlen((const char *)t) : 0;
    if (n >= outlen) n = outlen - 1;
    if (n) memcpy(out, t, n);
    out[n] = '\0';
}

char *store_col_dup(sqlite3_stmt *s, int i) {
    const unsigned char *t = sqlite3_column_text(s, i);
    return strdup(t ? (const char *)t : "");
}

/* Creates the file ourselves so it is born 0600 whatever the umask: SQLite gives -wal and
 * -shm the mode of the database file, so they inherit it. An existing file is left as is. */
static int create_private(const char *path, os_error *err) {
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST) return 0;
        return os_error_set(err, -errno, "cannot create database %s: %s", path, strerror(errno));
    }
    int rc = 0;
    if (fchmod(fd, 0600) != 0)
        rc = os_error_set(err, -errno, "cannot make database %s private: %s", path, strerror(errno));
    close(fd);
    return rc;
}

static int apply_pragmas(os_store *st, os_error *err) {
    sqlite3_busy_timeout(st->db, st->busy_timeout_ms);
    /* journal_mode answers with a row; sqlite3_exec discards it. */
    int rc = exec_simple(st, "PRAGMA journal_mode=WAL", "switching the database to WAL", err);
    if (rc == 0) rc = exec_simple(st, "PRAGMA synchronous=FULL", "setting synchronous=FULL", err);
    if (rc == 0) rc = exec_simple(st, "PRAGMA foreign_keys=ON", "enabling foreign keys", err);
    return rc;
}

int os_store_open(const char *db_path, int busy_timeout_ms, os_store **out, os_error *err) {
    *out = NULL;
    if (!db_path || !db_path[0]) return os_error_set(err, -EINVAL, "no database path given");
    int rc = create_private(db_path, err);
    if (rc != 0) return rc;

    os_store *st = calloc(1, sizeof *st);
    if (!st) return os_error_set(err, -ENOMEM, "out of memory opening %s", db_path);
    st->busy_timeout_ms = busy_timeout_ms > 0 ? busy_timeout_ms : 0;
    pthread_mutex_init(&st->lock, NULL);

    /* NOMUTEX: the handle's own mutex already serialises every call. */
    int src = sqlite3_open_v2(db_path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (src != SQLITE_OK) {
        rc = os_error_set(err, -EIO, "cannot open database %s: %s", db_path,
                          st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(src));
        os_store_close(st);
        return rc;
    }
    sqlite3_extended_result_codes(st->db, 1);
    rc = apply_pragmas(st, err);
    if (rc == 0) rc = store_migrate(st, err);
    if (rc != 0) {
        os_error_wrap(err, "%s", db_path);
        os_store_close(st);
        return rc;
    }
    *out = st;
    return 0;
}

void os_store_close(os_store *st) {
    if (!st) return;
    for (size_t i = 0; i < st->n_cache; i++) sqlite3_finalize(st->cache[i].stmt);
    free(st->cache);
    if (st->db) sqlite3_close_v2(st->db);
    pthread_mutex_destroy(&st->lock);
    free(st);
}

int store_collect_strings(os_store *st, sqlite3_stmt *s, const char *doing, char ***out, size_t *n,
                          os_error *err) {
    char **v = NULL;
    size_t len = 0, cap = 0;
    int rc = 0, src;
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        if (len == cap) {
            cap = cap ? cap * 2 : 64;
            char **nv = realloc(v, cap * sizeof *nv);
            if (!nv) break;
            v = nv;
        }
        if (!(v[len] = store_col_dup(s, 0))) break;
        len++;
    }
    if (src == SQLITE_ROW) rc = os_error_set(err, -ENOMEM, "out of memory while %s", doing);
    else if (src != SQLITE_DONE) rc = store_fail(st, src, doing, err);
    sqlite3_reset(s);
    if (rc != 0) {
        os_store_free_strings(v, len);
        return rc;
    }
    *out = v;
    *n = len;
    return 0;
}

void os_store_free_strings(char **v, size_t n) {
    if (!v) return;
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}
