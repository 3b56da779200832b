/* Shared by `retry` and `cancel`: one job id in, one state change, the new state out. */
#ifndef OSTEOSCOUT_CLI_JOB_ACTION_H
#define OSTEOSCOUT_CLI_JOB_ACTION_H

#include "cli.h"

typedef int (*job_action_fn)(os_store *st, int64_t job_id, double now, os_error *err);

int cli_job_action(int argc, char **argv, const os_config *cfg, job_action_fn fn, const char *done);

#endif
