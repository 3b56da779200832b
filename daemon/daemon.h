/* osteoscoutd's shared state: the wiring between the listener thread, the scheduler and
 * the worker pool on the libuv loop. Logic lives in lib/; these files only connect it. */
#ifndef OSTEOSCOUTD_DAEMON_H
#define OSTEOSCOUTD_DAEMON_H

#include <stdatomic.h>
#include <uv.h>

#include "osteoscout/config.h"
#include "osteoscout/dicom.h"
#include "osteoscout/spool.h"
#include "osteoscout/store.h"

typedef struct os_worker_slot os_worker_slot;
typedef struct os_sender os_sender;

typedef struct os_daemon {
    os_config cfg;
    uv_loop_t *loop;
    char spool_dir[OS_PATH_MAX];
    char db_path[OS_PATH_MAX];
    os_store *store;          /* the loop's connection: scheduler and workers */
    os_store *listener_store; /* shared by the SCP's association threads */

    /* listener */
    os_dicom_scp *scp;
    uv_thread_t scp_thread;
    int scp_started;
    int scp_rc;
    os_error scp_err;
    uv_async_t scp_finished;
    atomic_ulong n_stored, n_duplicates, n_discarded, n_refused;

    /* scheduler */
    uv_timer_t tick;

    /* workers */
    os_worker_slot *slots;
    int n_slots;
    uv_timer_t lease_timer;

    /* sender (daemon/sender.c): NULL when no destination is configured */
    os_sender *sender;

    /* lifecycle */
    uv_signal_t sigterm, sigint;
    uv_timer_t watchdog;
    int draining;
    int exit_code;
} os_daemon;

int os_listener_start(os_daemon *d, os_error *err);
void os_listener_stop(os_daemon *d);

int os_scheduler_start(os_daemon *d, os_error *err);
/* Completes quiet series, selects, and hands queued jobs to free workers. */
void os_scheduler_run_once(os_daemon *d);
void os_scheduler_stop(os_daemon *d);

int os_workers_start(os_daemon *d, os_error *err);
/* Claims queued jobs while a worker is free. */
void os_workers_dispatch(os_daemon *d);
/* Asks running jobs to stop; they go back to the queue when their worker returns. */
void os_workers_drain(os_daemon *d);
int os_workers_busy(const os_daemon *d);
void os_workers_stop(os_daemon *d);

/* The sender: one send thread per destination, fed by a 1 s timer. */
int os_sender_start(os_daemon *d, os_error *err);
/* Claims and starts due batches for destinations with no send in flight. */
void os_sender_run_once(os_daemon *d);
/* Sends in flight stop after their current file; unsent files go back to pending. */
void os_sender_drain(os_daemon *d);
int os_sender_busy(const os_daemon *d);
void os_sender_stop(os_daemon *d);
/* Queues a finished job's outputs ([{"kind": "sr"|"sc", "path", "sop_instance_uid"}]) for
 * every destination that wants their kind. Returns the number of new rows, or < 0. */
int os_sender_enqueue_job_outputs(os_daemon *d, int64_t job_id, const cJSON *outputs);

/* Called whenever something finished during a drain; exits the loop once all is idle. */
void os_daemon_maybe_finish(os_daemon *d);
double os_now(void);

#endif
