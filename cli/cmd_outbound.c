/* `osteoscout outbound`: what goes back to PACS. Per destination: paused or not, how many
 * files wait, went, died; then the files themselves, newest first, with the reason of the
 * last failure. --json prints the file rows only (one object per file). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char *const STATES[] = {"pending", "sent", "dead"};

static int known_state(const char *s) {
    for (size_t i = 0; i < sizeof STATES / sizeof STATES[0]; i++)
        if (!strcmp(s, STATES[i])) return 1;
    return 0;
}

static const cJSON *find_dest(const cJSON *arr, const char *name) {
    const cJSON *d;
    cJSON_ArrayForEach(d, arr) if (!strcmp(cli_str(d, "name"), name)) return d;
    return NULL;
}

static void add_dest_row(cli_table *t, const char *name, const os_destination *cfg_dest, const cJSON *d, double now) {
    char where[300] = "(not configured)", pending[16], sent[16], dead[16], paused[64] = "no", next[48] = "-";
    if (cfg_dest)
        snprintf(where, sizeof where, "%s@%s:%d%s", cfg_dest->ae_title, cfg_dest->host, cfg_dest->port,
                 cfg_dest->tls ? " tls" : "");
    snprintf(pending, sizeof pending, "%.0f", d ? cli_num(d, "pending") : 0);
    snprintf(sent, sizeof sent, "%.0f", d ? cli_num(d, "sent") : 0);
    snprintf(dead, sizeof dead, "%.0f", d ? cli_num(d, "dead") : 0);
    if (d && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "paused"))) {
        char age[32];
        cli_format_age(now - cli_num(d, "paused_at"), age, sizeof age);
        snprintf(paused, sizeof paused, "yes (%s)", age);
    }
    if (d && cli_has_num(d, "next_try_at")) {
        double at = cli_num(d, "next_try_at");
        char age[32];
        cli_format_age(at - now, age, sizeof age);
        if (at <= now) snprintf(next, sizeof next, "due");
        else snprintf(next, sizeof next, "in %s", age);
    }
    cli_table_add(t, (const char *const[]){name, where, paused, pending, sent, dead, next});
}

static void print_destinations(const os_config *cfg, const cJSON *dests, double now) {
    cli_table t;
    cli_table_init(&t, 7, (const char *const[]){"DESTINATION", "PEER", "PAUSED", "PENDING", "SENT", "DEAD", "NEXT TRY"});
    for (int i = 0; i < cfg->n_destinations; i++)
        add_dest_row(&t, cfg->destinations[i].name, &cfg->destinations[i], find_dest(dests, cfg->destinations[i].name),
                     now);
    const cJSON *d;
    cJSON_ArrayForEach(d, dests) {
        if (!os_config_destination(cfg, cli_str(d, "name"))) add_dest_row(&t, cli_str(d, "name"), NULL, d, now);
    }
    cli_table_print(&t, stdout);
    cli_table_free(&t);
}

static void print_rows(const cJSON *arr, double now) {
    cli_table t;
    cli_table_init(&t, 9,
                   (const char *const[]){"ID", "JOB", "DESTINATION", "KIND", "STATE", "TRIES", "WHEN", "STATUS", "ERROR"});
    const cJSON *r;
    cJSON_ArrayForEach(r, arr) {
        char id[32], job[32], tries[16], when[48] = "", status[16] = "", error[80], age[32];
        snprintf(id, sizeof id, "%.0f", cli_num(r, "id"));
        snprintf(job, sizeof job, "%.0f", cli_num(r, "job_id"));
        snprintf(tries, sizeof tries, "%.0f", cli_num(r, "attempts"));
        const char *state = cli_str(r, "state");
        if (!strcmp(state, "pending")) {
            double at = cli_num(r, "next_try_at");
            cli_format_age(at - now, age, sizeof age);
            if (at <= now) snprintf(when, sizeof when, "due");
            else snprintf(when, sizeof when, "retry in %s", age);
        } else if (!strcmp(state, "sent") && cli_has_num(r, "sent_at")) {
            cli_format_age(now - cli_num(r, "sent_at"), age, sizeof age);
            snprintf(when, sizeof when, "%s ago", age);
        }
        if (cli_has_num(r, "last_status")) snprintf(status, sizeof status, "0x%04X", (unsigned)cli_num(r, "last_status"));
        const char *e = cli_str(r, "last_error");
        if (strlen(e) > 60) snprintf(error, sizeof error, "%.57s...", e);
        else snprintf(error, sizeof error, "%s", e);
        cli_table_add(&t, (const char *const[]){id, job, cli_str(r, "destination"), cli_str(r, "kind"), state, tries,
                                                when, status, error});
    }
    cli_table_print(&t, stdout);
    cli_table_free(&t);
}

int cmd_outbound(int argc, char **argv, const os_config *cfg) {
    cli_opts o;
    int rc = cli_parse(argc, argv, CLI_OPT_STATE, 0, 0, &o);
    if (rc >= 0) return rc;
    if (o.state && !known_state(o.state))
        return cli_bad_usage(argv[0], "unknown state '%s' (pending, sent or dead)", o.state);
    os_store *st;
    if (cli_open_store(cfg, &st) != 0) return 1;
    os_error err;
    os_error_clear(&err);
    cJSON *rows = NULL, *dests = NULL;
    rc = os_store_outbound_json(st, o.state, o.limit, &rows, &err);
    if (rc == 0 && !o.json) rc = os_store_destinations_json(st, &dests, &err);
    os_store_close(st);
    if (rc != 0) {
        cJSON_Delete(rows);
        return cli_fail("%s", err.msg);
    }
    if (o.json) {
        rc = cli_print_json(rows);
    } else {
        double now = cli_now();
        if (cfg->n_destinations == 0 && cJSON_GetArraySize(dests) == 0) printf("no destinations configured\n");
        else print_destinations(cfg, dests, now);
        printf("\n");
        if (cJSON_GetArraySize(rows) == 0) printf("no outbound files%s%s\n", o.state ? " in state " : "", o.state ? o.state : "");
        else print_rows(rows, now);
    }
    cJSON_Delete(rows);
    cJSON_Delete(dests);
    return rc;
}
