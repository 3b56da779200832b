/* Helpers the admin commands share: opening the node's database the way an operator
 * expects (a missing file is a configuration mistake, not something to create), one-line
 * errors, option parsing for the list commands, and human formatting (ages, short UIDs,
 * aligned tables). */
#ifndef OSTEOSCOUT_CLI_H
#define OSTEOSCOUT_CLI_H

#include <stddef.h>
#include <stdio.h>
#include <cjson/cJSON.h>

#include "commands.h"
#include "osteoscout/store.h"

/* The dispatch table (main.c), so commands can print their own usage line. */
extern const os_cli_command os_cli_commands[];
extern const size_t os_cli_n_commands;

/* "osteoscout: <sentence>" on stderr; returns 1 (the operation failed). */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "osteoscout: <cmd>: <sentence>" and the command's usage on stderr; returns 2. */
int cli_bad_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "usage: osteoscout <cmd> <usage>" on f. */
void cli_print_usage(FILE *f, const char *cmd);

/* Opens the configured database; on failure prints why and returns 1. */
int cli_open_store(const os_config *cfg, os_store **st);

/* Options of the read-only commands: --json, --state S, --limit N, --help, and
 * positional arguments (at most max_pos, at least min_pos). Returns -1 to go on, or an exit
 * status (0 after --help, 2 on bad usage). */
typedef struct cli_opts {
    int json;
    const char *state;
    int limit;
    char *pos[2];
    int n_pos;
} cli_opts;
#define CLI_OPT_STATE 1 /* accept --state and --limit */
int cli_parse(int argc, char **argv, int flags, int min_pos, int max_pos, cli_opts *o);

/* Parses a job id (a positive whole number); 0 on success. */
int cli_parse_job_id(const char *cmd, const char *s, long long *id);

double cli_now(void);
/* "45s", "3m12s", "2h05m", "4d03h"; negative durations get a leading "-". */
void cli_format_age(double seconds, char *out, size_t outlen);
/* Local time "2024-05-01 10:22:03", or "-" when t is not a positive number. */
void cli_format_time(double t, char *out, size_t outlen);
/* Bytes as "42.1 GiB". */
void cli_format_bytes(double bytes, char *out, size_t outlen);
/* Keeps the head and tail of a long UID joined by "…" so it fits width columns. */
void cli_shorten(const char *s, size_t width, char *out, size_t outlen);

/* Pretty JSON and a newline on stdout; returns 0, or 1 when out of memory. */
int cli_print_json(const cJSON *v);

/* cJSON field accessors that tolerate absence and null. */
const char *cli_str(const cJSON *o, const char *key); /* "" when absent or null */
double cli_num(const cJSON *o, const char *key);      /* 0 when absent or null */
int cli_has_num(const cJSON *o, const char *key);

/* A text table: cells are copied; columns are as wide as their widest cell. */
typedef struct cli_table {
    size_t n_cols, n_rows, cap;
    char **cells; /* row-major, n_rows * n_cols, row 0 is the header */
} cli_table;
void cli_table_init(cli_table *t, size_t n_cols, const char *const *headers);
/* Appends a row of n_cols strings (NULL prints as ""). */
void cli_table_add(cli_table *t, const char *const *cells);
void cli_table_print(const cli_table *t, FILE *f);
void cli_table_free(cli_table *t);

#endif
