/* `osteoscout jobs`: the queue, newest first: what runs, what waits (and until when),
 * what failed and why. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char *const STATES[] = {"queued", "running", "done", "failed", "cancelled"};

static int known_state(const char *s) {
    for (size_t i = 0; i < sizeof STATES / sizeof STATES[0]; i++)
        if (!strcmp(s, STATES[i])) return 1;
    return 0;
}

/* What a human wants to know about a job's timing depends on its state. */
static void when(const cJSON *j, double now, char *out, size_t outlen) {
    const char *state = cli_str(j, "state");
    char age[32];
    if (!strcmp(state, "queued") && cli_num(j, "not_before") > now) {
        cli_format_age(cli_num(j, "not_before") - now, age, sizeof age);
        snprintf(out, outlen, "retry in %s", age);
    } else if (!strcmp(state, "running")) {
        cli_format_age(now - cli_num(j, "started_at"), age, sizeof age);
        snprintf(out, outlen, "running %s", age);
    } else if (cli_has_num(j, "finished_at")) {
        cli_format_age(now - cli_num(j, "finished_at"), age, sizeof age);
        snprintf(out, outlen, "ended %s ago", age);
    } else {
        cli_format_age(now - cli_num(j, "created_at"), age, sizeof age);
        snprintf(out, outlen, "waiting %s", age);
    }
}

static void print_text(const cJSON *arr, double now) {
    cli_table t;
    cli_table_init(&t, 7, (const char *const[]){"ID", "STATE", "TRIES", "SERIES", "WHEN", "WORKER", "ERROR"});
    const cJSON *j;
    cJSON_ArrayForEach(j, arr) {
        char id[32], tries[16], series[64], w[64], error[80];
        snprintf(id, sizeof id, "%.0f", cli_num(j, "id"));
        snprintf(tries, sizeof tries, "%.0f", cli_num(j, "attempts"));
        cli_shorten(cli_str(j, "series_uid"), 24, series, sizeof series);
        when(j, now, w, sizeof w);
        /* The full error is in `show`; a table row stays on one line. */
        const char *e = cli_str(j, "error");
        if (strlen(e) > 60) snprintf(error, sizeof error, "%.57s...", e);
        else snprintf(error, sizeof error, "%s", e);
        for (char *p = error; *p; p++)
            if (*p == '\n' || *p == '\t') *p = ' ';
        cli_table_add(&t, (const char *const[]){id, cli_str(j, "state"), tries, series, w, cli_str(j, "lease_owner"),
                                                error});
    }
    cli_table_print(&t, stdout);
    cli_table_free(&t);
}

int cmd_jobs(int argc, char **argv, const os_config *cfg) {
    cli_opts o;
    int rc = cli_parse(argc, argv, CLI_OPT_STATE, 0, 0, &o);
    if (rc >= 0) return rc;
    if (o.state && !known_state(o.state))
        return cli_bad_usage(argv[0], "unknown state '%s' (queued, running, done, failed or cancelled)", o.state);
    os_store *st;
    if (cli_open_store(cfg, &st) != 0) return 1;
    os_error err;
    os_error_clear(&err);
    cJSON *arr = NULL;
    rc = os_store_jobs_json(st, o.state, o.limit, &arr, &err);
    os_store_close(st);
    if (rc != 0) return cli_fail("%s", err.msg);
    if (o.json) rc = cli_print_json(arr);
    else if (cJSON_GetArraySize(arr) == 0) printf("no jobs%s%s\n", o.state ? " in state " : "", o.state ? o.state : "");
    else print_text(arr, cli_now());
    cJSON_Delete(arr);
    return rc;
}
