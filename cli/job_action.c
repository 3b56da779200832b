/* The common shape of `retry` and `cancel`: parse JOB, change its state through the store,
 * report the state it ended in. */
#include "job_action.h"

#include <stdio.h>

int cli_job_action(int argc, char **argv, const os_config *cfg, job_action_fn fn, const char *done) {
    cli_opts o;
    int rc = cli_parse(argc, argv, 0, 1, 1, &o);
    if (rc >= 0) return rc;
    long long id;
    if ((rc = cli_parse_job_id(argv[0], o.pos[0], &id)) != 0) return rc;
    os_store *st;
    if (cli_open_store(cfg, &st) != 0) return 1;
    os_error err;
    os_error_clear(&err);
    char state[16] = "";
    rc = fn(st, id, cli_now(), &err);
    if (rc == 0) rc = os_store_job_state(st, id, state, &err);
    os_store_close(st);
    if (rc != 0) return cli_fail("%s", err.msg);
    if (o.json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "id", (double)id);
        cJSON_AddStringToObject(j, "state", state);
        rc = j ? cli_print_json(j) : cli_fail("out of memory");
        cJSON_Delete(j);
        return rc;
    }
    printf("job %lld %s (now %s)\n", id, done, state);
    return 0;
}
