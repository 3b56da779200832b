/* The SQL migrations compiled in from sql/ (see cmake/embed_sql.cmake). */
#ifndef OSTEOSCOUT_MIGRATIONS_H
#define OSTEOSCOUT_MIGRATIONS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct os_migration {
    int version;
    const char *name;
    const char *sql;
} os_migration;

extern const os_migration os_migrations[];
extern const int os_migrations_count;

#ifdef __cplusplus
}
#endif
#endif
