/* The worker pool: each slot runs one job's pipeline on libuv's thread pool. The loop
 * thread claims jobs, renews their leases and records their outcome; the pool threads
 * only compute. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "osteoscout/log.h"
#include "osteoscout/models.h"
#include "osteoscout/parallel.h"
#include "osteoscout/pipeline.h"

struct os_worker_slot {
    uv_work_t req;
    os_daemon *d;
    int busy;
    os_job job;
    char **paths;
    size_t n_paths;
    volatile int cancel;
    int rc;
    cJSON *result;
    os_error err;
    double started;
    os_models *models; /* this worker's own: opened once at start-up, NULL when none configured */
};

static void run_job(uv_work_t *req) {
    os_worker_slot *s = req->data;
    os_measure_opts mo;
    os_pipeline_measure_opts(&s->d->cfg, &mo);
    /* The workers already run jobs side by side: each takes its share of the CPUs. */
    int workers = s->d->cfg.workers_count > 0 ? s->d->cfg.workers_count : 1, share = os_cpu_count() / workers;
    mo.threads = share > 1 ? share : 1;
    char outbox[4200];
    snprintf(outbox, sizeof outbox, "%s/outbox/%lld", s->d->cfg.node_data_dir, (long long)s->job.id);
    os_report_opts ro;
    os_report_opts_defaults(&ro);
    ro.device_name = s->d->cfg.node_name;
    os_pipeline_opts opts = {
        .cancel = &s->cancel, .measure = &mo, .outbox_dir = outbox, .report = &ro, .models = s->models};
    s->result = NULL;
    os_error_clear(&s->err);
    s->rc = os_pipeline_run_files((const char *const *)s->paths, s->n_paths, &opts, &s->result, &s->err);
}

static void record_outcome(os_worker_slot *s) {
    os_daemon *d = s->d;
    os_error err = {0};
    const char *owner = d->cfg.node_name;
    char state[16] = "";
    char what[600];
    double secs = os_now() - s->started;

    if (os_store_job_state(d->store, s->job.id, state, &err) == 0 && strcmp(state, "running") != 0) {
        os_log(OS_LOG_NOTICE, "worker", "job=%lld finished but is now %s: result discarded",
               (long long)s->job.id, state);
        return;
    }
    if (s->rc == -ECANCELED && d->draining) {
        if (os_store_requeue_job(d->store, s->job.id, owner, &err) != 0)
            os_log(OS_LOG_ERROR, "worker", "job=%lld: cannot requeue: %s", (long long)s->job.id, err.msg);
        else
            os_log(OS_LOG_INFO, "worker", "job=%lld returned to the queue (shutting down)", (long long)s->job.id);
        return;
    }
    if (s->rc == 0) {
        char *json = cJSON_PrintUnformatted(s->result);
        int rc = json ? os_store_finish_job(d->store, s->job.id, owner, "analysis", json, os_now(), &err)
                      : os_error_set(&err, -ENOMEM, "cannot serialise the result");
        free(json);
        if (rc != 0) {
            os_log(OS_LOG_ERROR, "worker", "job=%lld: cannot record result: %s", (long long)s->job.id, err.msg);
            return;
        }
        os_log(OS_LOG_INFO, "worker", "job=%lld done seconds=%.2f files=%zu", (long long)s->job.id, secs,
               s->n_paths);
        snprintf(what, sizeof what, "job done in %.2f s", secs);
        os_store_event(d->store, os_now(), "info", what, s->job.id, NULL);
        /* The SR and SC files the pipeline wrote go to every destination that wants them. */
        os_sender_enqueue_job_outputs(d, s->job.id, cJSON_GetObjectItemCaseSensitive(s->result, "outputs"));
        return;
    }
    double retry_s = (double)d->cfg.workers_retry_delay_s * s->job.attempts;
    if (os_store_fail_job(d->store, s->job.id, owner, s->err.msg, d->cfg.workers_max_attempts, os_now(), retry_s,
                          state, &err) != 0) {
        os_log(OS_LOG_ERROR, "worker", "job=%lld: cannot record failure: %s", (long long)s->job.id, err.msg);
        return;
    }
    os_log(OS_LOG_WARNING, "worker", "job=%lld attempt=%d failed now=%s error=\"%s\"", (long long)s->job.id,
           s->job.attempts, state, s->err.msg);
    snprintf(what, sizeof what, "attempt %d failed (%s): %s", s->job.attempts, state, s->err.msg);
    os_store_event(d->store, os_now(), "warning", what, s->job.id, NULL);
}

static void job_done(uv_work_t *req, int status) {
    os_worker_slot *s = req->data;
    os_daemon *d = s->d;
    if (status == UV_ECANCELED) s->rc = -ECANCELED;
    record_outcome(s);
    cJSON_Delete(s->result);
    s->result = NULL;
    os_store_free_strings(s->paths, s->n_paths);
    s->paths = NULL;
    s->busy = 0;
    if (d->draining) os_daemon_maybe_finish(d);
    else os_workers_dispatch(d);
}

static int start_one(os_daemon *d, os_worker_slot *s) {
    os_error err = {0};
    int found = 0;
    double now = os_now();
    if (os_store_claim_job(d->store, d->cfg.node_name, now, d->cfg.workers_lease_seconds, &s->job, &found, &err) != 0) {
        os_log(OS_LOG_ERROR, "worker", "cannot claim a job: %s", err.msg);
        return 0;
    }
    if (!found) return 0;
    if (os_store_series_paths(d->store, s->job.series_uid, &s->paths, &s->n_paths, &err) != 0 || s->n_paths == 0) {
        char msg[OS_ERROR_MSG_MAX + 64];
        snprintf(msg, sizeof msg, "no stored instances for the series%s%s", err.msg[0] ? ": " : "", err.msg);
        char state[16];
        os_store_fail_job(d->store, s->job.id, d->cfg.node_name, msg, d->cfg.workers_max_attempts, now,
                          d->cfg.workers_retry_delay_s, state, NULL);
        return 1;
    }
    s->busy = 1;
    s->cancel = 0;
    s->started = now;
    s->req.data = s;
    char uid[OS_LOG_UID_MAX];
    os_log(OS_LOG_INFO, "worker", "job=%lld started attempt=%d series=%s files=%zu", (long long)s->job.id,
           s->job.attempts, os_log_uid(s->job.series_uid, uid), s->n_paths);
    uv_queue_work(d->loop, &s->req, run_job, job_done);
    return 1;
}

void os_workers_dispatch(os_daemon *d) {
    if (d->draining) return;
    for (int i = 0; i < d->n_slots; i++) {
        if (d->slots[i].busy) continue;
        if (!start_one(d, &d->slots[i])) break;
    }
}

/* Leases are renewed well before they lapse so a long analysis is never taken over;
 * the same pass notices jobs an admin cancelled. */
static void on_lease_timer(uv_timer_t *t) {
    os_daemon *d = t->data;
    double until = os_now() + d->cfg.workers_lease_seconds;
    for (int i = 0; i < d->n_slots; i++) {
        os_worker_slot *s = &d->slots[i];
        if (!s->busy) continue;
        os_error err = {0};
        char state[16] = "";
        if (os_store_job_state(d->store, s->job.id, state, &err) == 0 && !strcmp(state, "cancelled")) {
            s->cancel = 1;
            continue;
        }
        if (os_store_renew_lease(d->store, s->job.id, d->cfg.node_name, until, &err) != 0)
            os_log(OS_LOG_WARNING, "worker", "job=%lld: cannot renew lease: %s", (long long)s->job.id, err.msg);
    }
}

int os_workers_start(os_daemon *d, os_error *err) {
    d->n_slots = d->cfg.workers_count;
    d->slots = calloc((size_t)d->n_slots, sizeof *d->slots);
    if (!d->slots) return os_error_set(err, -ENOMEM, "out of memory for %d workers", d->n_slots);
    for (int i = 0; i < d->n_slots; i++) d->slots[i].d = d;
    /* Each worker loads its own models once, here: a model that cannot load stops the start,
     * and a worker never waits for another's model. */
    for (int i = 0; i < d->n_slots && d->cfg.n_models > 0; i++) {
        int rc = os_models_open(&d->cfg, &d->slots[i].models, err);
        if (rc) {
            for (int k = 0; k < i; k++) os_models_close(d->slots[k].models);
            free(d->slots);
            d->slots = NULL;
            return rc;
        }
    }
    if (d->cfg.n_models > 0)
        os_log(OS_LOG_INFO, "worker", "models=%d opened in each of %d workers", d->cfg.n_models, d->n_slots);
    uv_timer_init(d->loop, &d->lease_timer);
    d->lease_timer.data = d;
    uint64_t period = (uint64_t)d->cfg.workers_lease_seconds * 1000 / 3;
    uv_timer_start(&d->lease_timer, on_lease_timer, period, period);
    return 0;
}

void os_workers_drain(os_daemon *d) {
    for (int i = 0; i < d->n_slots; i++)
        if (d->slots[i].busy) {
            d->slots[i].cancel = 1;
            uv_cancel((uv_req_t *)&d->slots[i].req); /* succeeds only if not yet started */
        }
}

int os_workers_busy(const os_daemon *d) {
    int n = 0;
    for (int i = 0; i < d->n_slots; i++) n += d->slots[i].busy;
    return n;
}

void os_workers_stop(os_daemon *d) {
    uv_timer_stop(&d->lease_timer);
    uv_close((uv_handle_t *)&d->lease_timer, NULL);
    for (int i = 0; i < d->n_slots; i++) os_models_close(d->slots[i].models);
    free(d->slots);
    d->slots = NULL;
}
