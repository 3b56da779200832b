/* lib/store: the only code that speaks SQL. The node's durable state (instances, series,
 * jobs, results, events) in SQLite (WAL, synchronous=FULL). Callers see functions, never SQL.
 *
 * Thread safety: every function takes the handle's mutex, so one handle may be shared by
 * threads; separate handles (separate connections) may be used concurrently from separate
 * processes and threads. Times are Unix seconds (double, sub-second precision). */
#ifndef OSTEOSCOUT_STORE_H
#define OSTEOSCOUT_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "osteoscout/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OS_STORE_BUSY (-16) /* -EBUSY: the database stayed locked past busy_timeout */

typedef struct os_store os_store;

/* Opens (creating if needed, mode 0600) and applies pending migrations. */
int os_store_open(const char *db_path, int busy_timeout_ms, os_store **out, os_error *err);
void os_store_close(os_store *st);
int os_store_schema_version(os_store *st, int *version, os_error *err);

/* ---- instances ------------------------------------------------------------------- */

typedef struct os_instance_rec {
    const char *sop_uid, *sop_class_uid, *series_uid, *study_uid;
    const char *path;
    int64_t bytes;
    const char *transfer_syntax, *calling_ae;
    const char *modality, *series_description, *convolution_kernel, *image_type;
    int series_number, instance_number;
    int has_orientation;
    double orientation[6];
    int has_position;
    double position[3];
    double position_last[3]; /* last frame of a multi-frame object; = position otherwise */
    double slice_thickness;
    int rows, cols, frames;
    double received_at;
} os_instance_rec;

/* 1 when this SOP Instance UID is already recorded (a re-send is then a no-op). */
int os_store_instance_exists(os_store *st, const char *sop_uid, int *exists, os_error *err);
/* 1 when a stored instance has this path (start-up spool recovery). */
int os_store_instance_path_recorded(os_store *st, const char *path, int *recorded, os_error *err);

/* Records a new instance in one transaction: inserts the instance, creates or updates its
 * series (n_instances, last_at). When the series was already complete/selected/ignored it is
 * re-opened (state receiving) and any queued job of its study is superseded (state
 * cancelled, error "superseded: new instance arrived"). Idempotent: a known SOP UID changes
 * nothing and sets *was_new = 0. Returns OS_STORE_BUSY when locked past the timeout. */
int os_store_add_instance(os_store *st, const os_instance_rec *rec, int *was_new, os_error *err);

/* ---- series completion and selection --------------------------------------------- */

/* Marks every `receiving` series whose last_at <= now - quiet_s as `complete`.
 * Writes the distinct study UIDs touched (malloc'd array of malloc'd strings). */
int os_store_complete_quiet_series(os_store *st, double now, double quiet_s, char ***studies,
                                   size_t *n_studies, os_error *err);
/* Study UIDs having at least one `complete` series and none `receiving` (for start-up,
 * so a completion recorded before a crash is still acted on). */
int os_store_studies_pending_selection(os_store *st, char ***studies, size_t *n, os_error *err);
void os_store_free_strings(char **v, size_t n);

/* What series selection needs to know about one series (aggregated over its instances). */
typedef struct os_series_summary {
    char series_uid[65];
    char study_uid[65];
    char modality[17];
    char description[65];
    char kernel[65];
    char state[16];          /* receiving | complete | selected | ignored */
    int series_number;       /* 0 when absent */
    int n_instances;
    int n_slices;            /* frames summed over instances (an Enhanced CT file holds many) */
    int n_localizer;         /* instances whose ImageType contains LOCALIZER */
    int n_orientations;      /* distinct orientations (rounded to 1e-3) */
    int has_orientation;
    double orientation[6];   /* of the first instance */
    double slice_thickness;  /* median over instances, 0 unknown */
    double z_min, z_max;     /* positions projected on the slice normal, mm */
    int has_job;             /* a queued/running/done job exists for this series */
} os_series_summary;

int os_store_study_series(os_store *st, const char *study_uid, os_series_summary **out, size_t *n,
                          os_error *err);

/* Applies a selection decision in one transaction: `chosen` (may be NULL) becomes
 * `selected` and gets a queued job unless it already has one queued/running/done;
 * every other complete/selected series of the study becomes `ignored` with reasons[i]
 * (aligned with series_uids). A queued job of a series that is no longer chosen is
 * cancelled. *job_id is the new job or 0. */
int os_store_apply_selection(os_store *st, const char *study_uid, const char *chosen,
                             const char *const *series_uids, const char *const *reasons, size_t n,
                             double now, int64_t *job_id, os_error *err);

/* ---- jobs -------------------------------------------------------------------------- */

typedef struct os_job {
    int64_t id;
    char study_uid[65];
    char series_uid[65];
    char state[16]; /* queued | running | done | failed | cancelled */
    int attempts;
} os_job;

/* Takes the oldest queued job with not_before <= now: running, attempts+1, lease owned by
 * `owner` until now+lease_s. Returns 0 with *found = 0 when none. */
int os_store_claim_job(os_store *st, const char *owner, double now, double lease_s, os_job *job,
                       int *found, os_error *err);
int os_store_renew_lease(os_store *st, int64_t job_id, const char *owner, double until, os_error *err);
/* running → done; stores result_json as results(kind). */
int os_store_finish_job(os_store *st, int64_t job_id, const char *owner, const char *kind,
                        const char *result_json, double now, os_error *err);
/* running → failed (attempts >= max_attempts) or back to queued with not_before = now+retry_s;
 * error is kept as the job's last error. *final_state gets "failed" or "queued". */
int os_store_fail_job(os_store *st, int64_t job_id, const char *owner, const char *error,
                      int max_attempts, double now, double retry_s, char final_state[16],
                      os_error *err);
/* running → queued without counting the attempt (drain on SIGTERM). */
int os_store_requeue_job(os_store *st, int64_t job_id, const char *owner, os_error *err);
/* Start-up: running jobs owned by `owner` (this node restarted) or whose lease expired go
 * back to queued, or to failed with "lease lost after N attempts (worker crashed or was
 * killed)" once attempts >= max_attempts. */
int os_store_recover_leases(os_store *st, const char *owner, double now, int max_attempts,
                            size_t *requeued, size_t *failed, os_error *err);
/* Paths of the instances of a series, sorted by path (malloc'd). */
int os_store_series_paths(os_store *st, const char *series_uid, char ***paths, size_t *n,
                          os_error *err);

/* Admin: failed/cancelled/done → queued (attempts reset to 0, error cleared).
 * queued/running → cancelled (a running job's worker finds it cancelled on return and its
 * result is discarded). Errors with a sentence when the state does not allow it. */
int os_store_retry_job(os_store *st, int64_t job_id, double now, os_error *err);
int os_store_cancel_job(os_store *st, int64_t job_id, double now, os_error *err);
/* The job's current state (for a worker to notice cancellation). */
int os_store_job_state(os_store *st, int64_t job_id, char state[16], os_error *err);

/* ---- events (audit trail, no patient names) --------------------------------------- */
int os_store_event(os_store *st, double now, const char *level, const char *what, int64_t job_id,
                   os_error *err);

/* ---- admin views, as JSON for the CLI ------------------------------------------------ */
/* {"instances": N, "series": {state: n}, "jobs": {state: n}, "oldest_queued_age_s": x|null,
 *  "done_last_hour": n, "failed_last_hour": n, "last_errors": [{"job_id","at","error"}]} */
int os_store_status_json(os_store *st, double now, cJSON **out, os_error *err);
/* [{"series_uid","study_uid","modality","description","state","ignore_reason",
 *   "n_instances","first_at","last_at","completed_at"}] newest first */
int os_store_series_json(os_store *st, const char *state, int limit, cJSON **out, os_error *err);
/* [{"id","state","study_uid","series_uid","attempts","error","created_at","started_at",
 *   "finished_at","not_before","lease_owner","lease_until"}] newest first; state may be NULL */
int os_store_jobs_json(os_store *st, const char *state, int limit, cJSON **out, os_error *err);
/* One job with "results": {kind: parsed JSON} and "events": [...]; -ENOENT when absent. */
int os_store_job_json(os_store *st, int64_t job_id, cJSON **out, os_error *err);


/* ---- outbound: results going back to PACS (lib/store/outbound.c) -------------------- *
 * One row per file per destination: pending → sent | dead. The sender claims a batch
 * (one job × one destination) by pushing its rows' next_try_at forward by a hold time,
 * so a crash mid-send simply lets the hold lapse and the batch is tried again; the rows
 * stay `pending` and keep their SOP Instance UIDs, so every retry sends the same objects. */

#define OS_OUTBOUND_NAME_MAX 64

typedef struct os_outbound_item {
    const char *destination;
    const char *kind; /* "sr" | "sc" */
    const char *path;
    const char *sop_uid;
} os_outbound_item;

/* Queues files in one transaction; a (job, destination, sop_uid) already queued is left
 * alone, whatever its state. *added (may be NULL) counts the new rows. -ENOENT when the
 * job does not exist, -EINVAL for a kind other than sr/sc. */
int os_store_outbound_enqueue(os_store *st, int64_t job_id, const os_outbound_item *items, size_t n, double now,
                              size_t *added, os_error *err);

/* Who wants what: a destination and whether it takes SR and SC files. */
typedef struct os_outbound_route {
    const char *destination;
    int sr, sc;
} os_outbound_route;

/* Queues a job's outputs as the pipeline lists them in its result,
 * [{"kind": "sr"|"sc", "path", "sop_instance_uid"}], for every route that wants the kind
 * (os_store_outbound_enqueue's rules). Malformed entries are counted in *skipped (may be
 * NULL) and left out. */
int os_store_outbound_enqueue_outputs(os_store *st, int64_t job_id, const cJSON *outputs,
                                      const os_outbound_route *routes, size_t n_routes, double now,
                                      size_t *added, size_t *skipped, os_error *err);

typedef struct os_outbound_file {
    int64_t id;
    char kind[4];
    char sop_uid[65];
    char path[4096];
    int attempts; /* before this try */
} os_outbound_file;

typedef struct os_outbound_batch {
    int64_t job_id;
    char destination[OS_OUTBOUND_NAME_MAX];
    double queued_at; /* the oldest file's */
    os_outbound_file *files;
    size_t n;
} os_outbound_batch;

void os_outbound_batch_free(os_outbound_batch *b);

/* Claims the oldest due batch of one destination: its pending rows of one job with
 * next_try_at <= now, unless the destination is paused. Their next_try_at becomes
 * now + hold_s (the claim). *found = 0 when nothing is due. */
int os_store_outbound_claim(os_store *st, const char *destination, double now, double hold_s,
                            os_outbound_batch *batch, int *found, os_error *err);

typedef enum os_outbound_result {
    OS_OUTBOUND_SENT = 0,      /* the PACS stored it (success or warning status) */
    OS_OUTBOUND_TRANSIENT = 1, /* try again after the backoff, dead once older than max age */
    OS_OUTBOUND_PERMANENT = 2, /* dead now: retrying cannot help */
    OS_OUTBOUND_ABANDONED = 3  /* not tried (shutting down): pending again at once, no attempt counted */
} os_outbound_result;

typedef struct os_outbound_outcome {
    int64_t id;
    os_outbound_result result;
    int status;        /* DIMSE status, or -1 when the failure was not a DIMSE status */
    const char *error; /* a sentence, or NULL */
} os_outbound_outcome;

typedef struct os_outbound_policy {
    double backoff_first_s, backoff_max_s;
    double max_age_s; /* from queued_at */
    double jitter_u;  /* uniform in [0, 1): the caller's randomness, one draw per batch */
} os_outbound_policy;

typedef struct os_outbound_tally {
    size_t sent, retry, dead, abandoned;
    double next_try_at; /* of the rows left to retry (0 when none) */
} os_outbound_tally;

/* Records a batch's outcomes in one transaction (attempts+1 except when abandoned; dead
 * rows get an event). Rows no longer pending are left alone. tally may be NULL. */
int os_store_outbound_record(os_store *st, const os_outbound_outcome *outcomes, size_t n,
                             const os_outbound_policy *policy, double now, os_outbound_tally *tally,
                             os_error *err);

/* The retry delay after the attempts-th failed attempt (1, 2, ...):
 * min(max, first * 2^(attempts-1)) scaled by a jitter factor 0.8 + 0.4*u, never above max. */
double os_outbound_backoff(int attempts, double first_s, double max_s, double u);

/* Every row of the job back to pending, due now, with attempts reset to 0 and a fresh
 * max-age allowance; the previous states go to the job's events. *n (may be NULL) counts
 * the rows. -ENOENT when the job does not exist. */
int os_store_outbound_resend(os_store *st, int64_t job_id, double now, size_t *n, os_error *err);

/* Pauses (rows stay pending, nothing is claimed) or resumes a destination. */
int os_store_destination_set_paused(os_store *st, const char *destination, int paused, double now,
                                    os_error *err);
int os_store_destination_paused(os_store *st, const char *destination, int *paused, os_error *err);

/* [{"id","job_id","destination","kind","sop_uid","state","attempts","next_try_at",
 *   "last_status","last_error","created_at","sent_at"}] newest first; state may be NULL. */
int os_store_outbound_json(os_store *st, const char *state, int limit, cJSON **out, os_error *err);
/* [{"name","paused","paused_at","pending","sent","dead","next_try_at"}] for every
 * destination with rows or a pause record, by name. */
int os_store_destinations_json(os_store *st, cJSON **out, os_error *err);

#ifdef __cplusplus
}
#endif
#endif
