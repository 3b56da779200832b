/* `osteoscout retry JOB`: puts a failed, cancelled or done job back in the queue with a
 * fresh attempt count (after fixing whatever made it fail). */
#include "job_action.h"

int cmd_retry(int argc, char **argv, const os_config *cfg) {
    return cli_job_action(argc, argv, cfg, os_store_retry_job, "queued again");
}
