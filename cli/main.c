/* osteoscout: the admin and offline CLI. Reads the same configuration as the daemon (so it
 * finds the same database), then runs one command from the table below. Every command is
 * a thin call into lib/; this file only parses the global options and dispatches. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define DEFAULT_CONFIG "/etc/osteoscout/osteoscout.conf"
#define MAX_OVERRIDES 64

const os_cli_command os_cli_commands[] = {
    {"status", cmd_status, "[--json]", "node health: counts by state, queue age, disk space, recent errors"},
    {"series", cmd_series, "[--state S] [--limit N] [--json]", "recent series and why each was selected or ignored"},
    {"jobs", cmd_jobs, "[--state S] [--limit N] [--json]", "the analysis queue, newest first"},
    {"show", cmd_show, "JOB [--json]", "one job in full: series, timing, error, results, events"},
    {"retry", cmd_retry, "JOB [--json]", "queue a failed, cancelled or done job again"},
    {"cancel", cmd_cancel, "JOB [--json]", "cancel a queued or running job"},
    {"outbound", cmd_outbound, "[--state S] [--limit N] [--json]",
     "results going back to PACS: per destination, then each file and its last error"},
    {"pause", cmd_pause, "DEST [--json]", "stop sending to a destination (files stay pending)"},
    {"resume", cmd_resume, "DEST [--json]", "send to a paused destination again"},
    {"resend", cmd_resend, "JOB [--json]", "deliver a job's results again, without analysing it again"},
    {"analyze", cmd_analyze, "PATH... [--json|--csv] [--out DIR] [--dicom]",
     "run the daemon's pipeline offline on files and folders, one result per study"},
    {"phantom", cmd_phantom, "--out DIR [options] [--json]", "write a synthetic CT series with known truth"},
    {"evaluate", cmd_evaluate, "FILE.csv --time C --event C --score C... [--json]",
     "discrimination and calibration of risk scores on a follow-up cohort"},
    {"selftest", cmd_selftest, "[--dest NAME] [--host HOST] [--timeout S] [--json]",
     "send a synthetic CT to the running node and check the results it sends back: PASS or FAIL"},
};
const size_t os_cli_n_commands = sizeof os_cli_commands / sizeof os_cli_commands[0];

static void usage(FILE *f) {
    fprintf(f, "usage: osteoscout [--config FILE] [--set section.key=value]... COMMAND [ARGS]\n"
               "       osteoscout --help | --version\n\ncommands:\n");
    for (size_t i = 0; i < os_cli_n_commands; i++)
        fprintf(f, "  %-8s %-36s %s\n", os_cli_commands[i].name, os_cli_commands[i].usage, os_cli_commands[i].summary);
    fprintf(f, "\n--config defaults to " DEFAULT_CONFIG " when it exists, else the built-in defaults.\n"
               "`osteoscout COMMAND --help` describes one command.\n");
}

int main(int argc, char **argv) {
    static const struct option longopts[] = {
        {"config", required_argument, 0, 'c'},
        {"set", required_argument, 0, 's'},
        {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},
        {0, 0, 0, 0},
    };
    const char *config_path = NULL;
    const char *overrides[MAX_OVERRIDES];
    size_t n_overrides = 0;
    int opt;
    opterr = 0;
    /* "+": stop at the command, whose own options are its business. */
    while ((opt = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': config_path = optarg; break;
        case 's':
            if (n_overrides == MAX_OVERRIDES) return cli_fail("too many --set options (at most %d)", MAX_OVERRIDES), 2;
            overrides[n_overrides++] = optarg;
            break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("osteoscout %s\n", OS_VERSION); return 0;
        case ':':
            fprintf(stderr, "osteoscout: %s needs a value\n", argv[optind - 1]);
            usage(stderr);
            return 2;
        default:
            fprintf(stderr, "osteoscout: unknown option %s\n", argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[optind];
    if (!strcmp(name, "help")) {
        usage(stdout);
        return 0;
    }
    const os_cli_command *cmd = NULL;
    for (size_t i = 0; i < os_cli_n_commands && !cmd; i++)
        if (!strcmp(os_cli_commands[i].name, name)) cmd = &os_cli_commands[i];
    if (!cmd) {
        fprintf(stderr, "osteoscout: unknown command '%s'\n", name);
        usage(stderr);
        return 2;
    }

    /* An explicit --config must exist; the default one only when installed. */
    if (!config_path && access(DEFAULT_CONFIG, F_OK) == 0) config_path = DEFAULT_CONFIG;
    os_config cfg;
    os_error err;
    os_error_clear(&err);
    if (os_config_load(config_path, overrides, n_overrides, &cfg, &err) != 0) return cli_fail("%s", err.msg);

    /* The command sees argv[0] = its name, as getopt expects. */
    return cmd->run(argc - optind, argv + optind, &cfg);
}
