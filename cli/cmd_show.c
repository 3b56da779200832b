/* `osteoscout show JOB`: everything known about one job, with full UIDs: its series, its
 * timing, its last error, its results and its audit trail. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void line(const char *label, const char *value) { printf("%-14s %s\n", label, value && *value ? value : "-"); }

static void time_line(const char *label, const cJSON *o, const char *key, double now) {
    if (!cli_has_num(o, key)) {
        line(label, "-");
        return;
    }
    double t = cli_num(o, key);
    char when[64], age[32], buf[128];
    cli_format_time(t, when, sizeof when);
    cli_format_age(now - t, age, sizeof age);
    if (t > now) snprintf(buf, sizeof buf, "%s (in %s)", when, age + 1); /* drop the '-' */
    else snprintf(buf, sizeof buf, "%s (%s ago)", when, age);
    line(label, buf);
}

static void print_text(const cJSON *j, double now) {
    char buf[128];
    snprintf(buf, sizeof buf, "%.0f", cli_num(j, "id"));
    line("job", buf);
    line("state", cli_str(j, "state"));
    snprintf(buf, sizeof buf, "%.0f", cli_num(j, "attempts"));
    line("attempts", buf);
    line("study", cli_str(j, "study_uid"));
    line("series", cli_str(j, "series_uid"));
    snprintf(buf, sizeof buf, "%s %s, %.0f instances, %s", cli_str(j, "modality"), cli_str(j, "series_description"),
             cli_num(j, "n_instances"), cli_str(j, "series_state"));
    line("", buf);
    time_line("created", j, "created_at", now);
    time_line("not before", j, "not_before", now);
    time_line("started", j, "started_at", now);
    time_line("finished", j, "finished_at", now);
    line("worker", cli_str(j, "lease_owner"));
    if (!strcmp(cli_str(j, "state"), "running")) time_line("lease until", j, "lease_until", now);
    line("error", cli_str(j, "error"));

    const cJSON *results = cJSON_GetObjectItemCaseSensitive(j, "results");
    const cJSON *r;
    cJSON_ArrayForEach(r, results) {
        char *text = cJSON_Print(r);
        printf("\nresult %s\n%s\n", r->string, text ? text : "(out of memory)");
        free(text);
    }

    const cJSON *events = cJSON_GetObjectItemCaseSensitive(j, "events");
    if (cJSON_GetArraySize(events) == 0) return;
    printf("\nevents\n");
    cli_table t;
    cli_table_init(&t, 3, (const char *const[]){"AT", "LEVEL", "WHAT"});
    const cJSON *e;
    cJSON_ArrayForEach(e, events) {
        char when[64];
        cli_format_time(cli_num(e, "at"), when, sizeof when);
        cli_table_add(&t, (const char *const[]){when, cli_str(e, "level"), cli_str(e, "what")});
    }
    cli_table_print(&t, stdout);
    cli_table_free(&t);
}

int cmd_show(int argc, char **argv, const os_config *cfg) {
    cli_opts o;
    int rc = cli_parse(argc, argv, 0, 1, 1, &o);
    if (rc >= 0) return rc;
    long long id;
    if ((rc = cli_parse_job_id(argv[0], o.pos[0], &id)) != 0) return rc;
    os_store *st;
    if (cli_open_store(cfg, &st) != 0) return 1;
    os_error err;
    os_error_clear(&err);
    cJSON *job = NULL;
    rc = os_store_job_json(st, id, &job, &err);
    os_store_close(st);
    if (rc != 0) return cli_fail("%s", err.msg);
    if (o.json) rc = cli_print_json(job);
    else print_text(job, cli_now());
    cJSON_Delete(job);
    return rc;
}
