/* `osteoscout pause DEST` and `osteoscout resume DEST`: a paused destination keeps its
 * files pending and gets nothing until resumed; the daemon sees the change at its next
 * tick (within a second). A send already in flight finishes. */
#include <stdio.h>

#include "cli.h"

static int dest_action(int argc, char **argv, const os_config *cfg, int paused) {
    cli_opts o;
    int rc = cli_parse(argc, argv, 0, 1, 1, &o);
    if (rc >= 0) return rc;
    const char *name = o.pos[0];
    if (!os_config_destination(cfg, name))
        return cli_fail("there is no [destination %s] in %s", name, cfg->path[0] ? cfg->path : "the configuration");
    os_store *st;
    if (cli_open_store(cfg, &st) != 0) return 1;
    os_error err;
    os_error_clear(&err);
    rc = os_store_destination_set_paused(st, name, paused, cli_now(), &err);
    os_store_close(st);
    if (rc != 0) return cli_fail("%s", err.msg);
    if (o.json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "destination", name);
        cJSON_AddBoolToObject(j, "paused", paused);
        rc = j ? cli_print_json(j) : cli_fail("out of memory");
        cJSON_Delete(j);
        return rc;
    }
    printf("destination %s %s\n", name, paused ? "paused: files stay pending until `osteoscout resume`" : "resumed");
    return 0;
}

int cmd_pause(int argc, char **argv, const os_config *cfg) { return dest_action(argc, argv, cfg, 1); }
int cmd_resume(int argc, char **argv, const os_config *cfg) { return dest_action(argc, argv, cfg, 0); }
