/* The admin CLI's commands. Each gets the arguments after its name and the loaded
 * configuration, prints to stdout (text, or JSON with --json) and returns the process
 * exit status: 0 ok, 1 the operation failed, 2 bad usage. */
#ifndef OSTEOSCOUT_CLI_COMMANDS_H
#define OSTEOSCOUT_CLI_COMMANDS_H

#include "osteoscout/config.h"

typedef int (*os_cli_command_fn)(int argc, char **argv, const os_config *cfg);

typedef struct os_cli_command {
    const char *name;
    os_cli_command_fn run;
    const char *usage;   /* arguments, e.g. "[--state S] [--json]" */
    const char *summary; /* one line */
} os_cli_command;

int cmd_status(int argc, char **argv, const os_config *cfg);
int cmd_series(int argc, char **argv, const os_config *cfg);
int cmd_jobs(int argc, char **argv, const os_config *cfg);
int cmd_show(int argc, char **argv, const os_config *cfg);
int cmd_retry(int argc, char **argv, const os_config *cfg);
int cmd_cancel(int argc, char **argv, const os_config *cfg);
int cmd_phantom(int argc, char **argv, const os_config *cfg);
int cmd_analyze(int argc, char **argv, const os_config *cfg);
int cmd_outbound(int argc, char **argv, const os_config *cfg);
int cmd_pause(int argc, char **argv, const os_config *cfg);
int cmd_resume(int argc, char **argv, const os_config *cfg);
int cmd_resend(int argc, char **argv, const os_config *cfg);
int cmd_evaluate(int argc, char **argv, const os_config *cfg);
int cmd_selftest(int argc, char **argv, const os_config *cfg);

#endif
