/* lib/store's private side: the handle, the per-handle statement cache and the helpers
 * every store file shares (locking, transactions, turning SQLite codes into os_error). */
#ifndef OSTEOSCOUT_STORE_INTERNAL_H
#define OSTEOSCOUT_STORE_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>

#include "osteoscout/store.h"

typedef struct store_cached {
    const char *sql; /* keyed by address: each call site owns a static string */
    sqlite3_stmt *stmt;
} store_cached;

struct os_store {
    sqlite3 *db;
    pthread_mutex_t lock;
    int busy_timeout_ms;
    store_cached *cache;
    size_t n_cache, cap_cache;
};

/* Returns a reset statement for sql (prepared once per handle). */
int store_stmt(os_store *st, const char *sql, sqlite3_stmt **out, os_error *err);

/* Maps an SQLite failure to OS_STORE_BUSY or -EIO with a sentence naming `doing`. */
int store_fail(os_store *st, int rc, const char *doing, os_error *err);

/* BEGIN IMMEDIATE for writers (so the busy timeout applies up front instead of failing
 * at lock upgrade), BEGIN for consistent multi-statement reads. */
int store_begin_write(os_store *st, const char *doing, os_error *err);
int store_begin_read(os_store *st, const char *doing, os_error *err);
int store_commit(os_store *st, const char *doing, os_error *err);
void store_rollback(os_store *st);

/* Runs a statement with no result rows; *changes gets sqlite3_changes when not NULL.
 * Resets the statement either way. */
int store_step_done(os_store *st, sqlite3_stmt *s, const char *doing, int *changes, os_error *err);

/* Binding shorthands: NULL strings and absent numbers become SQL NULL. */
void store_bind_text(sqlite3_stmt *s, int i, const char *v);
void store_bind_id(sqlite3_stmt *s, int i, int64_t job_id); /* 0 -> NULL */

/* Copies column i (or "" when NULL) into a fixed buffer, truncating. */
void store_col_copy(sqlite3_stmt *s, int i, char *out, size_t outlen);
/* malloc'd copy of column i, "" when NULL; NULL only when out of memory. */
char *store_col_dup(sqlite3_stmt *s, int i);

/* Steps s collecting column 0 of every row as malloc'd strings; resets s. */
int store_collect_strings(os_store *st, sqlite3_stmt *s, const char *doing, char ***out, size_t *n,
                          os_error *err);

/* Appends an audit event inside the caller's transaction (mutex already held). */
int store_event_locked(os_store *st, double at, const char *level, const char *what, int64_t job_id,
                       os_error *err);

/* Wall clock, for the few writes whose API carries no `now`. */
double store_now(void);

#define STORE_LOCK(st) pthread_mutex_lock(&(st)->lock)
#define STORE_UNLOCK(st) pthread_mutex_unlock(&(st)->lock)

/* Runs body inside BEGIN IMMEDIATE .. COMMIT under the handle's mutex; body sets rc. */
#define WRITE_TXN(st, doing, err, body)                     \
    do {                                                    \
        STORE_LOCK(st);                                     \
        rc = store_begin_write(st, doing, err);             \
        if (rc == 0) {                                      \
            body;                                           \
            if (rc == 0) rc = store_commit(st, doing, err); \
            else store_rollback(st);                        \
        }                                                   \
        STORE_UNLOCK(st);                                   \
    } while (0)

#endif
