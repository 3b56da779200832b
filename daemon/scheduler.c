/* The scheduler: a libuv timer that turns quiet series into complete ones, picks the
 * series of each finished study to analyse, and keeps the workers fed. Every decision is
 * committed to the database before it is acted on, so a restart resumes, never repeats. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "osteoscout/log.h"
#include "osteoscout/pipeline.h"
#include "osteoscout/select.h"

static void select_study(os_daemon *d, const char *study_uid) {
    os_error err = {0};
    os_series_summary *series = NULL;
    size_t n = 0;
    char uid[OS_LOG_UID_MAX];
    if (os_store_study_series(d->store, study_uid, &series, &n, &err) != 0) {
        os_log(OS_LOG_ERROR, "scheduler", "cannot read study=%s: %s", os_log_uid(study_uid, uid), err.msg);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(series[i].state, "receiving")) { /* the study is still arriving */
            free(series);
            return;
        }
    }
    os_select_rules rules;
    os_pipeline_select_rules(&d->cfg, &rules);
    char(*reasons)[OS_SELECT_REASON_MAX] = calloc(n ? n : 1, sizeof *reasons);
    const char **uids = calloc(n ? n : 1, sizeof *uids);
    const char **why = calloc(n ? n : 1, sizeof *why);
    if (!reasons || !uids || !why) {
        os_log(OS_LOG_ERROR, "scheduler", "out of memory selecting a series");
        goto out;
    }
    int chosen = os_select_series(series, n, &rules, reasons);
    for (size_t i = 0; i < n; i++) {
        uids[i] = series[i].series_uid;
        why[i] = reasons[i];
    }
    int64_t job_id = 0;
    if (os_store_apply_selection(d->store, study_uid, chosen >= 0 ? series[chosen].series_uid : NULL, uids,
                                 why, n, os_now(), &job_id, &err) != 0) {
        os_log(OS_LOG_ERROR, "scheduler", "cannot record the selection for study=%s: %s",
               os_log_uid(study_uid, uid), err.msg);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        char suid[OS_LOG_UID_MAX];
        if ((int)i == chosen)
            os_log(OS_LOG_INFO, "scheduler", "selected series=%s slices=%d study=%s job=%lld",
                   os_log_uid(series[i].series_uid, suid), series[i].n_instances, os_log_uid(study_uid, uid),
                   (long long)job_id);
        else
            os_log(OS_LOG_INFO, "scheduler", "ignored series=%s reason=\"%s\"",
                   os_log_uid(series[i].series_uid, suid), reasons[i]);
    }
    if (chosen < 0)
        os_log(OS_LOG_NOTICE, "scheduler", "no usable series in study=%s", os_log_uid(study_uid, uid));
out:
    free(reasons);
    free(uids);
    free(why);
    free(series);
}

static void select_studies(os_daemon *d, char **studies, size_t n) {
    for (size_t i = 0; i < n; i++) select_study(d, studies[i]);
    os_store_free_strings(studies, n);
}

void os_scheduler_run_once(os_daemon *d) {
    if (d->draining) return;
    os_error err = {0};
    char **studies = NULL;
    size_t n = 0;
    if (os_store_complete_quiet_series(d->store, os_now(), d->cfg.series_quiet_seconds, &studies, &n, &err) != 0) {
        os_log(OS_LOG_ERROR, "scheduler", "cannot complete quiet series: %s", err.msg);
    } else {
        if (n) os_log(OS_LOG_INFO, "scheduler", "%zu stud%s with newly complete series", n, n == 1 ? "y" : "ies");
        select_studies(d, studies, n);
    }
    os_workers_dispatch(d);
}

static void on_tick(uv_timer_t *t) { os_scheduler_run_once(t->data); }

int os_scheduler_start(os_daemon *d, os_error *err) {
    /* A completion committed just before a crash still needs its selection. */
    char **studies = NULL;
    size_t n = 0;
    int rc = os_store_studies_pending_selection(d->store, &studies, &n, err);
    if (rc != 0) return rc;
    select_studies(d, studies, n);

    uv_timer_init(d->loop, &d->tick);
    d->tick.data = d;
    uint64_t period_ms = 1000;
    if ((uint64_t)d->cfg.series_quiet_seconds * 1000 / 4 < period_ms)
        period_ms = (uint64_t)d->cfg.series_quiet_seconds * 1000 / 4;
    uv_timer_start(&d->tick, on_tick, 0, period_ms);
    return 0;
}

void os_scheduler_stop(os_daemon *d) {
    uv_timer_stop(&d->tick);
    uv_close((uv_handle_t *)&d->tick, NULL);
}
