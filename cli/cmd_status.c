/* `osteoscout status`: the node at a glance for an operator or a monitoring script:
 * how much is stored, where each series and job stands, how long the queue waits, whether
 * the disk is filling, and the last errors. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "osteoscout/fs.h"

static void print_counts(const char *label, const cJSON *obj) {
    printf("%-15s", label);
    const cJSON *c;
    cJSON_ArrayForEach(c, obj) printf("  %s %.0f", c->string, c->valuedouble);
    putchar('\n');
}

static void print_text(const cJSON *o, const char *db_path, double now) {
    char a[64], b[64];
    printf("%-15s  %s\n", "database", db_path);
    printf("%-15s  %.0f\n", "instances", cli_num(o, "instances"));
    print_counts("series", cJSON_GetObjectItemCaseSensitive(o, "series"));
    print_counts("jobs", cJSON_GetObjectItemCaseSensitive(o, "jobs"));
    if (cli_has_num(o, "oldest_queued_age_s")) cli_format_age(cli_num(o, "oldest_queued_age_s"), a, sizeof a);
    else snprintf(a, sizeof a, "-");
    printf("%-15s  %s\n", "oldest queued", a);
    printf("%-15s  %.0f done, %.0f failed\n", "last hour", cli_num(o, "done_last_hour"), cli_num(o, "failed_last_hour"));
    if (cli_has_num(o, "disk_free_bytes")) cli_format_bytes(cli_num(o, "disk_free_bytes"), b, sizeof b);
    else snprintf(b, sizeof b, "unknown");
    printf("%-15s  %s (%s)\n", "disk free", b, cli_str(o, "data_dir"));

    const cJSON *errors = cJSON_GetObjectItemCaseSensitive(o, "last_errors");
    if (cJSON_GetArraySize(errors) == 0) return;
    printf("\nrecent errors\n");
    cli_table t;
    cli_table_init(&t, 3, (const char *const[]){"JOB", "AGO", "ERROR"});
    const cJSON *e;
    cJSON_ArrayForEach(e, errors) {
        char id[32], ago[32];
        snprintf(id, sizeof id, "%.0f", cli_num(e, "job_id"));
        cli_format_age(now - cli_num(e, "at"), ago, sizeof ago);
        cli_table_add(&t, (const char *const[]){id, ago, cli_str(e, "error")});
    }
    cli_table_print(&t, stdout);
    cli_table_free(&t);
}

int cmd_status(int argc, char **argv, const os_config *cfg) {
    cli_opts o;
    int rc = cli_parse(argc, argv, 0, 0, 0, &o);
    if (rc >= 0) return rc;
    os_store *st;
    if (cli_open_store(cfg, &st) != 0) return 1;
    double now = cli_now();
    os_error err;
    os_error_clear(&err);
    cJSON *status = NULL;
    rc = os_store_status_json(st, now, &status, &err);
    os_store_close(st);
    if (rc != 0) return cli_fail("%s", err.msg);

    /* Free space matters because the listener refuses instances below node.min_free_mb. */
    char db_path[4096];
    os_config_db_path(cfg, db_path, sizeof db_path);
    uint64_t free_bytes = 0;
    if (os_fs_free_bytes(cfg->node_data_dir, &free_bytes, &err) == 0)
        cJSON_AddNumberToObject(status, "disk_free_bytes", (double)free_bytes);
    else
        cJSON_AddNullToObject(status, "disk_free_bytes");
    cJSON_AddStringToObject(status, "data_dir", cfg->node_data_dir);
    cJSON_AddStringToObject(status, "database", db_path);

    if (o.json) rc = cli_print_json(status);
    else print_text(status, db_path, now);
    cJSON_Delete(status);
    return rc;
}
