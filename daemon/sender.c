/* The sender: delivers finished jobs' SR and SC files to the configured destinations.
 *
 * A 1 s libuv timer looks, for each destination that has no send in flight, for its
 * oldest due batch (the pending files of one job) and sends it on a thread of its own
 * (not libuv's pool, which the analysis workers use), in one association. So a PACS
 * that is slow or down holds up only its own queue, and destinations send in parallel.
 * The thread only talks DICOM; the loop claims batches and records outcomes, all through
 * lib/store, which turns them into sent / retry after a backoff / dead.
 *
 * Shutdown: os_sender_drain asks sends in flight to stop after the file they are on; the
 * files not sent go back to pending at once, without counting an attempt. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "osteoscout/dicom_scu.h"
#include "osteoscout/log.h"

typedef struct sender_slot {
    os_daemon *d;
    const os_destination *dest;
    int busy;
    uv_thread_t thread;
    uv_async_t done;
    volatile int cancel;
    os_outbound_batch batch;
    const char **paths;
    os_scu_result *results;
    os_send_class overall;
    int rc;
    os_error err;
    double started;
} sender_slot;

struct os_sender {
    sender_slot slots[OS_MAX_DESTINATIONS];
    int n;
    uv_timer_t timer;
    unsigned seed;
    int open_handles; /* freed when the last one has closed */
};

/* How long a claimed batch is held before it counts as abandoned (a crash mid-send): a
 * legitimate send of a few files finishes well within it. */
static double hold_seconds(const os_config *cfg) {
    return cfg->sender_acse_timeout_s + 4.0 * cfg->sender_dimse_timeout_s + 60;
}

static void send_thread(void *arg) {
    sender_slot *s = arg;
    const os_destination *dst = s->dest;
    os_scu_peer peer = {
        .calling_ae = s->d->cfg.node_ae_title,
        .called_ae = dst->ae_title,
        .host = dst->host,
        .port = dst->port,
        .acse_timeout_s = s->d->cfg.sender_acse_timeout_s,
        .dimse_timeout_s = s->d->cfg.sender_dimse_timeout_s,
        .tls = dst->tls,
        .tls_ca_file = dst->tls_ca_file,
        .tls_cert_file = dst->tls_cert_file,
        .tls_key_file = dst->tls_key_file,
    };
    os_error_clear(&s->err);
    s->rc = os_dicom_send_files(&peer, s->paths, s->batch.n, &s->cancel, s->results, &s->overall, &s->err);
    uv_async_send(&s->done);
}

static os_outbound_result to_outbound(os_send_class c) {
    switch (c) {
    case OS_SEND_OK: return OS_OUTBOUND_SENT;
    case OS_SEND_TRANSIENT: return OS_OUTBOUND_TRANSIENT;
    case OS_SEND_PERMANENT: return OS_OUTBOUND_PERMANENT;
    case OS_SEND_ABANDONED: break;
    }
    return OS_OUTBOUND_ABANDONED;
}

static void record_outcome(sender_slot *s) {
    os_daemon *d = s->d;
    size_t n = s->batch.n;
    os_outbound_outcome *out = calloc(n ? n : 1, sizeof *out);
    if (!out) {
        os_log(OS_LOG_ERROR, "sender", "out of memory recording a send: the batch is retried when its hold lapses");
        return;
    }
    const char *reason = "";
    for (size_t i = 0; i < n; i++) {
        out[i].id = s->batch.files[i].id;
        if (s->rc != 0) { /* the send could not even start: treat as transient */
            out[i].result = OS_OUTBOUND_TRANSIENT;
            out[i].status = -1;
            out[i].error = s->err.msg;
        } else {
            out[i].result = to_outbound(s->results[i].cls);
            out[i].status = s->results[i].status;
            out[i].error = s->results[i].reason;
        }
        if (!reason[0] && out[i].result != OS_OUTBOUND_SENT && out[i].error) reason = out[i].error;
    }
    os_outbound_policy pol = {
        .backoff_first_s = d->cfg.sender_backoff_first_s,
        .backoff_max_s = d->cfg.sender_backoff_max_s,
        .max_age_s = s->dest->max_age_hours * 3600.0,
        .jitter_u = (double)rand_r(&d->sender->seed) / ((double)RAND_MAX + 1),
    };
    os_outbound_tally t;
    os_error err = {0};
    double now = os_now();
    if (os_store_outbound_record(d->store, out, n, &pol, now, &t, &err) != 0) {
        os_log(OS_LOG_ERROR, "sender", "job=%lld destination=%s: cannot record the outcome: %s",
               (long long)s->batch.job_id, s->dest->name, err.msg);
    } else {
        os_log_level level = t.dead ? OS_LOG_WARNING : t.retry ? OS_LOG_NOTICE : OS_LOG_INFO;
        char next[64] = "";
        if (t.retry) snprintf(next, sizeof next, " next_try_in=%.0fs", t.next_try_at - now);
        os_log(level, "sender",
               "job=%lld destination=%s files=%zu sent=%zu retry=%zu dead=%zu abandoned=%zu seconds=%.2f%s%s%s%s",
               (long long)s->batch.job_id, s->dest->name, n, t.sent, t.retry, t.dead, t.abandoned, now - s->started,
               next, reason[0] ? " reason=\"" : "", reason, reason[0] ? "\"" : "");
    }
    free(out);
}

static void on_send_done(uv_async_t *h) {
    sender_slot *s = h->data;
    if (!s->busy) return;
    uv_thread_join(&s->thread);
    record_outcome(s);
    os_outbound_batch_free(&s->batch);
    free(s->paths);
    free(s->results);
    s->paths = NULL;
    s->results = NULL;
    s->busy = 0;
    if (s->d->draining) os_daemon_maybe_finish(s->d);
}

/* Claims and starts the next due batch of one destination; 1 when a send started. */
static int start_send(sender_slot *s) {
    os_daemon *d = s->d;
    os_error err = {0};
    int found = 0;
    double now = os_now();
    if (os_store_outbound_claim(d->store, s->dest->name, now, hold_seconds(&d->cfg), &s->batch, &found, &err) != 0) {
        os_log(OS_LOG_ERROR, "sender", "destination=%s: cannot claim due files: %s", s->dest->name, err.msg);
        return 0;
    }
    if (!found) return 0;
    s->paths = calloc(s->batch.n, sizeof *s->paths);
    s->results = calloc(s->batch.n, sizeof *s->results);
    if (!s->paths || !s->results) {
        free(s->paths);
        free(s->results);
        s->paths = NULL;
        s->results = NULL;
        os_outbound_batch_free(&s->batch);
        os_log(OS_LOG_ERROR, "sender", "out of memory starting a send");
        return 0;
    }
    for (size_t i = 0; i < s->batch.n; i++) s->paths[i] = s->batch.files[i].path;
    s->cancel = 0;
    s->started = now;
    s->busy = 1;
    if (uv_thread_create(&s->thread, send_thread, s) != 0) {
        os_log(OS_LOG_ERROR, "sender", "cannot start a send thread: the batch is retried when its hold lapses");
        free(s->paths);
        free(s->results);
        s->paths = NULL;
        s->results = NULL;
        os_outbound_batch_free(&s->batch);
        s->busy = 0;
        return 0;
    }
    os_log(OS_LOG_INFO, "sender", "job=%lld destination=%s sending files=%zu attempt=%d", (long long)s->batch.job_id,
           s->dest->name, s->batch.n, s->batch.files[0].attempts + 1);
    return 1;
}

void os_sender_run_once(os_daemon *d) {
    if (!d->sender || d->draining) return;
    for (int i = 0; i < d->sender->n; i++)
        if (!d->sender->slots[i].busy) start_send(&d->sender->slots[i]);
}

static void on_tick(uv_timer_t *t) { os_sender_run_once(t->data); }

int os_sender_start(os_daemon *d, os_error *err) {
    if (d->cfg.n_destinations == 0) {
        os_log(OS_LOG_NOTICE, "sender", "no [destination] configured: results stay on this node");
        return 0;
    }
    os_dicom_scu_global_init();
    for (int i = 0; i < d->cfg.n_destinations; i++) {
        const os_destination *dst = &d->cfg.destinations[i];
        os_scu_peer peer = {.tls = dst->tls,
                            .tls_ca_file = dst->tls_ca_file,
                            .tls_cert_file = dst->tls_cert_file,
                            .tls_key_file = dst->tls_key_file};
        if (os_dicom_scu_check_tls(&peer, err) != 0) return os_error_wrap(err, "[destination %s]", dst->name);
        if (dst->tls && !dst->tls_ca_file[0])
            os_log(OS_LOG_WARNING, "sender", "destination=%s: TLS without tls_ca_file does not verify the PACS",
                   dst->name);
    }
    os_sender *snd = calloc(1, sizeof *snd);
    if (!snd) return os_error_set(err, -ENOMEM, "out of memory for the sender");
    snd->seed = (unsigned)os_now() ^ (unsigned)getpid();
    snd->n = d->cfg.n_destinations;
    for (int i = 0; i < snd->n; i++) {
        sender_slot *s = &snd->slots[i];
        s->d = d;
        s->dest = &d->cfg.destinations[i];
        uv_async_init(d->loop, &s->done, on_send_done);
        s->done.data = s;
        os_log(OS_LOG_INFO, "sender", "destination=%s ae_title=%s host=%s port=%d tls=%s outputs=%s%s%s",
               s->dest->name, s->dest->ae_title, s->dest->host, s->dest->port, s->dest->tls ? "yes" : "no",
               (s->dest->outputs & OS_OUTPUT_SR) ? "sr" : "",
               (s->dest->outputs & OS_OUTPUT_SR) && (s->dest->outputs & OS_OUTPUT_SC) ? "," : "",
               (s->dest->outputs & OS_OUTPUT_SC) ? "sc" : "");
    }
    d->sender = snd;
    uv_timer_init(d->loop, &snd->timer);
    snd->timer.data = d;
    uv_timer_start(&snd->timer, on_tick, 0, 1000);
    return 0;
}

void os_sender_drain(os_daemon *d) {
    if (!d->sender) return;
    uv_timer_stop(&d->sender->timer);
    for (int i = 0; i < d->sender->n; i++)
        if (d->sender->slots[i].busy) d->sender->slots[i].cancel = 1;
}

int os_sender_busy(const os_daemon *d) {
    int n = 0;
    if (d->sender)
        for (int i = 0; i < d->sender->n; i++) n += d->sender->slots[i].busy;
    return n;
}

static void on_closed(uv_handle_t *h) {
    os_sender *snd = h->data;
    if (--snd->open_handles == 0) free(snd);
}

/* Closes the handles; the sender's memory goes with the last close callback. */
void os_sender_stop(os_daemon *d) {
    os_sender *snd = d->sender;
    if (!snd) return;
    d->sender = NULL;
    snd->open_handles = snd->n + 1;
    for (int i = 0; i < snd->n; i++) {
        snd->slots[i].done.data = snd;
        uv_close((uv_handle_t *)&snd->slots[i].done, on_closed);
    }
    uv_timer_stop(&snd->timer);
    snd->timer.data = snd;
    uv_close((uv_handle_t *)&snd->timer, on_closed);
}

int os_sender_enqueue_job_outputs(os_daemon *d, int64_t job_id, const cJSON *outputs) {
    if (!cJSON_IsArray(outputs) || d->cfg.n_destinations == 0) return 0;
    os_outbound_route routes[OS_MAX_DESTINATIONS];
    for (int i = 0; i < d->cfg.n_destinations; i++) {
        const os_destination *dst = &d->cfg.destinations[i];
        routes[i] = (os_outbound_route){dst->name, (dst->outputs & OS_OUTPUT_SR) != 0, (dst->outputs & OS_OUTPUT_SC) != 0};
    }
    size_t added = 0, skipped = 0;
    os_error err = {0};
    int rc = os_store_outbound_enqueue_outputs(d->store, job_id, outputs, routes, (size_t)d->cfg.n_destinations,
                                               os_now(), &added, &skipped, &err);
    if (skipped)
        os_log(OS_LOG_WARNING, "sender", "job=%lld: %zu output%s without kind (sr|sc), path or sop_instance_uid skipped",
               (long long)job_id, skipped, skipped == 1 ? "" : "s");
    if (rc != 0) {
        os_log(OS_LOG_ERROR, "sender", "job=%lld: cannot queue its outputs: %s", (long long)job_id, err.msg);
        return rc;
    }
    if (added) os_log(OS_LOG_INFO, "sender", "job=%lld queued files=%zu for delivery", (long long)job_id, added);
    os_sender_run_once(d); /* no need to wait for the next tick */
    return (int)added;
}
