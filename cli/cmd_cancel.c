/* `osteoscout cancel JOB`: stops a queued job from running; a running one finishes its
 * current step but its result is discarded. */
#include "job_action.h"

int cmd_cancel(int argc, char **argv, const os_config *cfg) {
    return cli_job_action(argc, argv, cfg, os_store_cancel_job, "cancelled");
}
