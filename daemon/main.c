/* osteoscoutd: the OsteoScout node. Reads the configuration, recovers whatever a crash
 * left behind, then runs the listener, the scheduler and the workers until SIGTERM, which
 * drains: no new associations, the ones in flight finish, running jobs go back to the
 * queue, exit 0. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "osteoscout/fs.h"
#include "osteoscout/log.h"
#include "osteoscout/models.h"

double os_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(FILE *out) {
    fprintf(out,
            "usage: osteoscoutd --config FILE [--set section.key=value ...] [--check-config]\n"
            "       osteoscoutd --version\n"
            "Receives CT studies over DICOM, queues and analyses them. See conf/osteoscout.conf.\n");
}

static void close_handle(uv_handle_t *h) {
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

void os_daemon_maybe_finish(os_daemon *d) {
    if (!d->draining || d->scp_started || os_workers_busy(d) || os_sender_busy(d)) return;
    os_log(OS_LOG_NOTICE, "daemon", "drained: stored=%lu duplicates=%lu discarded=%lu refused=%lu",
           atomic_load(&d->n_stored), atomic_load(&d->n_duplicates), atomic_load(&d->n_discarded),
           atomic_load(&d->n_refused));
    os_scheduler_stop(d);
    os_workers_stop(d);
    os_sender_stop(d);
    close_handle((uv_handle_t *)&d->sigterm);
    close_handle((uv_handle_t *)&d->sigint);
    close_handle((uv_handle_t *)&d->watchdog);
}

static void begin_drain(os_daemon *d, const char *why) {
    if (d->draining) return;
    d->draining = 1;
    sd_notify(0, "STOPPING=1");
    os_log(OS_LOG_NOTICE, "daemon",
           "%s: draining (associations in flight=finish, running jobs=requeue, sends=stop after the current file)",
           why);
    os_listener_stop(d);
    os_workers_drain(d);
    os_sender_drain(d);
    os_daemon_maybe_finish(d);
}

static void on_signal(uv_signal_t *h, int signum) {
    begin_drain(h->data, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

static void on_watchdog(uv_timer_t *t) {
    (void)t;
    sd_notify(0, "WATCHDOG=1");
}

static int is_recorded(void *ud, const char *path) {
    int recorded = 0;
    if (os_store_instance_path_recorded(ud, path, &recorded, NULL) != 0) return -5;
    return recorded;
}

/* What a crash can leave: half-received files, files renamed but never recorded, jobs
 * whose worker died. Acknowledged instances are all recorded, so anything else goes. */
static int recover(os_daemon *d, os_error *err) {
    size_t removed = 0, requeued = 0, failed = 0;
    int rc = os_spool_recover(d->spool_dir, is_recorded, d->store, &removed, err);
    if (rc != 0) return rc;
    rc = os_store_recover_leases(d->store, d->cfg.node_name, os_now(), d->cfg.workers_max_attempts, &requeued,
                                 &failed, err);
    if (rc != 0) return rc;
    if (removed || requeued || failed)
        os_log(OS_LOG_NOTICE, "daemon",
               "recovered: unacknowledged_files_removed=%zu jobs_requeued=%zu jobs_failed=%zu", removed, requeued,
               failed);
    return 0;
}

static int start(os_daemon *d, os_error *err) {
    int rc = os_fs_mkdirs(d->cfg.node_data_dir, 0700, err);
    if (rc == 0) rc = os_spool_init(d->spool_dir, err);
    if (rc == 0) rc = os_store_open(d->db_path, d->cfg.database_busy_timeout_ms, &d->store, err);
    if (rc == 0) rc = recover(d, err);
    if (rc == 0) rc = os_workers_start(d, err);
    if (rc == 0) rc = os_listener_start(d, err);
    if (rc == 0) rc = os_scheduler_start(d, err);
    if (rc == 0) rc = os_sender_start(d, err);
    return rc;
}

int main(int argc, char **argv) {
    static const struct option opts[] = {
        {"config", required_argument, 0, 'c'}, {"set", required_argument, 0, 's'},
        {"check-config", no_argument, 0, 'k'}, {"version", no_argument, 0, 'V'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0},
    };
    const char *config_path = NULL;
    const char **overrides = calloc((size_t)argc, sizeof *overrides);
    size_t n_overrides = 0;
    int check_only = 0, c;
    while ((c = getopt_long(argc, argv, "c:s:kVh", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config_path = optarg; break;
        case 's': overrides[n_overrides++] = optarg; break;
        case 'k': check_only = 1; break;
        case 'V': printf("osteoscoutd %s\n", OS_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }

    static os_daemon daemon;
    os_daemon *d = &daemon;
    os_error err = {0};
    if (os_config_load(config_path, overrides, n_overrides, &d->cfg, &err) != 0) {
        fprintf(stderr, "osteoscoutd: %s\n", err.msg);
        return 2;
    }
    free(overrides);
    os_log_level level = OS_LOG_INFO;
    os_log_level_parse(d->cfg.log_level, &level);
    os_log_init(level, d->cfg.log_phi);
    if (check_only) {
        os_models *models = NULL; /* a model that cannot load is a configuration error too */
        if (os_models_open(&d->cfg, &models, &err) != 0) {
            fprintf(stderr, "osteoscoutd: %s\n", err.msg);
            return 2;
        }
        os_models_close(models);
        printf("%s: configuration OK\n", config_path ? config_path : "(defaults)");
        return 0;
    }

    umask(0077); /* received images and the database are private to the service user */
    char threads[16];
    snprintf(threads, sizeof threads, "%d", d->cfg.workers_count);
    setenv("UV_THREADPOOL_SIZE", threads, 1);
    os_config_spool_dir(&d->cfg, d->spool_dir, sizeof d->spool_dir);
    os_config_db_path(&d->cfg, d->db_path, sizeof d->db_path);
    d->loop = uv_default_loop();

    os_log(OS_LOG_NOTICE, "daemon", "starting version=%s config=%s data_dir=%s workers=%d", OS_VERSION,
           config_path ? config_path : "(defaults)", d->cfg.node_data_dir, d->cfg.workers_count);
    if (start(d, &err) != 0) {
        os_log(OS_LOG_ERROR, "daemon", "cannot start: %s", err.msg);
        fprintf(stderr, "osteoscoutd: %s\n", err.msg);
        return 1;
    }

    uv_signal_init(d->loop, &d->sigterm);
    uv_signal_init(d->loop, &d->sigint);
    d->sigterm.data = d->sigint.data = d;
    uv_signal_start(&d->sigterm, on_signal, SIGTERM);
    uv_signal_start(&d->sigint, on_signal, SIGINT);
    uv_timer_init(d->loop, &d->watchdog);
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0)
        uv_timer_start(&d->watchdog, on_watchdog, 0, usec / 2000);

    sd_notify(0, "READY=1");
    os_log(OS_LOG_NOTICE, "daemon", "ready");
    uv_run(d->loop, UV_RUN_DEFAULT);

    os_dicom_scp_destroy(d->scp);
    os_store_close(d->listener_store);
    os_store_close(d->store);
    uv_loop_close(d->loop);
    os_log(OS_LOG_NOTICE, "daemon", "stopped exit=%d", d->exit_code);
    return d->exit_code;
}
