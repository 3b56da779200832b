/* `osteoscout series`: the most recently active series with their state, and for the
 * ignored ones why selection passed them over. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char *const STATES[] = {"receiving", "complete", "selected", "ignored"};

static int known_state(const char *s) {
    for (size_t i = 0; i < sizeof STATES / sizeof STATES[0]; i++)
        if (!strcmp(s, STATES[i])) return 1;
    return 0;
}

static void print_text(const cJSON *arr, double now) {
    cli_table t;
    cli_table_init(&t, 8,
                   (const char *const[]){"SERIES", "STUDY", "MOD", "SLICES", "STATE", "LAST", "DESCRIPTION", "REASON"});
    const cJSON *s;
    cJSON_ArrayForEach(s, arr) {
        char series[64], study[64], n[32], last[32];
        cli_shorten(cli_str(s, "series_uid"), 24, series, sizeof series);
        cli_shorten(cli_str(s, "study_uid"), 20, study, sizeof study);
        snprintf(n, sizeof n, "%.0f", cli_num(s, "n_instances"));
        cli_format_age(now - cli_num(s, "last_at"), last, sizeof last);
        strncat(last, " ago", sizeof last - strlen(last) - 1);
        cli_table_add(&t, (const char *const[]){series, study, cli_str(s, "modality"), n, cli_str(s, "state"), last,
                                                cli_str(s, "description"), cli_str(s, "ignore_reason")});
    }
    cli_table_print(&t, stdout);
    cli_table_free(&t);
}

int cmd_series(int argc, char **argv, const os_config *cfg) {
    cli_opts o;
    int rc = cli_parse(argc, argv, CLI_OPT_STATE, 0, 0, &o);
    if (rc >= 0) return rc;
    if (o.state && !known_state(o.state))
        return cli_bad_usage(argv[0], "unknown state '%s' (receiving, complete, selected or ignored)", o.state);
    os_store *st;
    if (cli_open_store(cfg, &st) != 0) return 1;
    os_error err;
    os_error_clear(&err);
    cJSON *arr = NULL;
    rc = os_store_series_json(st, o.state, o.limit, &arr, &err);
    os_store_close(st);
    if (rc != 0) return cli_fail("%s", err.msg);
    if (o.json) rc = cli_print_json(arr);
    else if (cJSON_GetArraySize(arr) == 0) printf("no series%s%s\n", o.state ? " in state " : "", o.state ? o.state : "");
    else print_text(arr, cli_now());
    cJSON_Delete(arr);
    return rc;
}
