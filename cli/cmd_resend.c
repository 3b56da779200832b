/* `osteoscout resend JOB`: delivers a job's results again without analysing it again.
 * Every outbound file of the job (sent, dead or pending) is pending again, due now, with
 * its attempt count reset (the previous states are kept in the job's events); outputs
 * listed in the job's result for a destination configured since are queued too. */
#include <stdio.h>

#include "cli.h"

/* Outputs of every result kind of the job, queued for every configured destination
 * (rows that exist are left alone). */
static int queue_missing(os_store *st, long long id, const os_config *cfg, size_t *added, os_error *err) {
    *added = 0;
    if (cfg->n_destinations == 0) return 0;
    os_outbound_route routes[OS_MAX_DESTINATIONS];
    for (int i = 0; i < cfg->n_destinations; i++) {
        const os_destination *d = &cfg->destinations[i];
        routes[i] = (os_outbound_route){d->name, (d->outputs & OS_OUTPUT_SR) != 0, (d->outputs & OS_OUTPUT_SC) != 0};
    }
    cJSON *job = NULL;
    int rc = os_store_job_json(st, id, &job, err);
    if (rc != 0) return rc;
    const cJSON *result;
    cJSON_ArrayForEach(result, cJSON_GetObjectItemCaseSensitive(job, "results")) {
        size_t n = 0;
        rc = os_store_outbound_enqueue_outputs(st, id, cJSON_GetObjectItemCaseSensitive(result, "outputs"), routes,
                                               (size_t)cfg->n_destinations, cli_now(), &n, NULL, err);
        if (rc != 0) break;
        *added += n;
    }
    cJSON_Delete(job);
    return rc;
}

int cmd_resend(int argc, char **argv, const os_config *cfg) {
    cli_opts o;
    int rc = cli_parse(argc, argv, 0, 1, 1, &o);
    if (rc >= 0) return rc;
    long long id;
    if ((rc = cli_parse_job_id(argv[0], o.pos[0], &id)) != 0) return rc;
    os_store *st;
    if (cli_open_store(cfg, &st) != 0) return 1;
    os_error err;
    os_error_clear(&err);
    size_t again = 0, added = 0;
    rc = os_store_outbound_resend(st, id, cli_now(), &again, &err);
    if (rc == 0) rc = queue_missing(st, id, cfg, &added, &err);
    os_store_close(st);
    if (rc != 0) return cli_fail("%s", err.msg);
    if (again + added == 0)
        return cli_fail("job %lld has no outputs to send (no outbound files, and its result lists none for the "
                        "configured destinations)", id);
    if (o.json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "job_id", (double)id);
        cJSON_AddNumberToObject(j, "requeued", (double)again);
        cJSON_AddNumberToObject(j, "added", (double)added);
        rc = j ? cli_print_json(j) : cli_fail("out of memory");
        cJSON_Delete(j);
        return rc;
    }
    printf("job %lld: %zu file%s pending again", id, again, again == 1 ? "" : "s");
    if (added) printf(", %zu newly queued", added);
    printf("; the daemon sends them within a second\n");
    return 0;
}
