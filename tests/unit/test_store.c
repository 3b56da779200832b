/* lib/store: migrations, the series life cycle, selection, the job queue's state rules,
 * the admin views, and two connections working on one file at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "osteoscout/migrations.h"
#include "osteoscout/store.h"

typedef struct fixture {
    char dir[256];
    char db[300];
    os_store *st;
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/os_test_store.XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    snprintf(f->db, sizeof f->db, "%s/osteoscout.db", f->dir);
    os_error err = {0};
    if (os_store_open(f->db, 5000, &f->st, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    os_store_close(f->st);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0) return -1;
    free(f);
    return 0;
}

static int max_version(void) {
    int v = 0;
    for (int i = 0; i < os_migrations_count; i++)
        if (os_migrations[i].version > v) v = os_migrations[i].version;
    return v;
}

/* An axial slice at height z unless told otherwise. */
static os_instance_rec slice(const char *sop, const char *series, const char *study, double z, double at) {
    static char paths[64][128];
    static int next;
    char *p = paths[next++ % 64];
    snprintf(p, 128, "/spool/%s/%s/%s.dcm", study, series, sop);
    os_instance_rec r = {
        .sop_uid = sop, .sop_class_uid = "1.2.840.10008.5.1.4.1.1.2", .series_uid = series, .study_uid = study,
        .path = p, .bytes = 1000, .transfer_syntax = "1.2.840.10008.1.2.1", .calling_ae = "PACS",
        .modality = "CT", .series_description = "Abdomen", .convolution_kernel = "B30f",
        .image_type = "ORIGINAL\\PRIMARY\\AXIAL", .series_number = 2, .instance_number = 1,
        .has_orientation = 1, .orientation = {1, 0, 0, 0, 1, 0}, .has_position = 1, .position = {-200, -200, z},
        .slice_thickness = 1.0, .rows = 512, .cols = 512, .frames = 1, .received_at = at};
    return r;
}

static void add(os_store *st, os_instance_rec r, int expect_new) {
    os_error err = {0};
    int was_new = -1;
    int rc = os_store_add_instance(st, &r, &was_new, &err);
    if (rc != 0) fail_msg("add_instance: %s", err.msg);
    assert_int_equal(was_new, expect_new);
}

static void add_series(os_store *st, const char *series, const char *study, int n, double at) {
    for (int i = 0; i < n; i++) {
        char sop[64];
        snprintf(sop, sizeof sop, "%s.%d", series, i);
        os_instance_rec r = slice(sop, series, study, i * 2.0, at);
        r.instance_number = i + 1;
        add(st, r, 1);
    }
}

static int count_jobs(os_store *st, const char *state) {
    cJSON *a = NULL;
    os_error err = {0};
    assert_int_equal(os_store_jobs_json(st, state, 0, &a, &err), 0);
    int n = cJSON_GetArraySize(a);
    cJSON_Delete(a);
    return n;
}

static void job_state_is(os_store *st, int64_t id, const char *want) {
    char state[16];
    os_error err = {0};
    assert_int_equal(os_store_job_state(st, id, state, &err), 0);
    assert_string_equal(state, want);
}

/* Completes and selects `series` as the only series of its study; returns the job. */
static int64_t queue_series(os_store *st, const char *series, const char *study, double at) {
    add_series(st, series, study, 3, at);
    char **studies = NULL;
    size_t n = 0;
    os_error err = {0};
    assert_int_equal(os_store_complete_quiet_series(st, at + 100, 10, &studies, &n, &err), 0);
    os_store_free_strings(studies, n);
    int64_t job = 0;
    const char *uids[] = {series};
    const char *why[] = {""};
    assert_int_equal(os_store_apply_selection(st, study, series, uids, why, 1, at + 100, &job, &err), 0);
    assert_true(job > 0);
    return job;
}

/* ---- migrations -------------------------------------------------------------------- */

static void test_migrations(void **state) {
    fixture *f = *state;
    os_error err = {0};
    int v = 0;
    assert_int_equal(os_store_schema_version(f->st, &v, &err), 0);
    assert_int_equal(v, max_version());

    /* Private files, the write-ahead log included (it holds the same data). */
    add(f->st, slice("1.1", "S1", "ST1", 0, 1000), 1);
    struct stat sb;
    assert_int_equal(stat(f->db, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    char wal[320];
    snprintf(wal, sizeof wal, "%s-wal", f->db);
    assert_int_equal(stat(wal, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);

    /* Re-opening applies nothing and records nothing twice. */
    os_store *again = NULL;
    assert_int_equal(os_store_open(f->db, 1000, &again, &err), 0);
    assert_int_equal(os_store_schema_version(again, &v, &err), 0);
    assert_int_equal(v, max_version());
    os_store_close(again);

    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM schema_version", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int n_rows = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    int expected = 0;
    for (int i = 0; i < os_migrations_count; i++) expected++;
    assert_int_equal(n_rows, expected);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);

    /* A database from a newer build is refused, with the versions named. */
    assert_int_equal(sqlite3_exec(db, "INSERT INTO schema_version VALUES (99)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    os_error_clear(&err);
    assert_int_not_equal(os_store_open(f->db, 1000, &again, &err), 0);
    assert_null(again);
    char want[128];
    snprintf(want, sizeof want, "database schema version 99 is newer than this build (%d): upgrade OsteoScout",
             max_version());
    assert_non_null(strstr(err.msg, want));
}

/* ---- instances and series ---------------------------------------------------------- */

static void test_add_instance_idempotent(void **state) {
    fixture *f = *state;
    os_error err = {0};
    add(f->st, slice("1.1", "S1", "ST1", 0, 1000), 1);
    add(f->st, slice("1.1", "S1", "ST1", 0, 1001), 0);
    int exists = 0, recorded = 0;
    assert_int_equal(os_store_instance_exists(f->st, "1.1", &exists, &err), 0);
    assert_int_equal(exists, 1);
    assert_int_equal(os_store_instance_exists(f->st, "9.9", &exists, &err), 0);
    assert_int_equal(exists, 0);
    assert_int_equal(os_store_instance_path_recorded(f->st, "/spool/ST1/S1/1.1.dcm", &recorded, &err), 0);
    assert_int_equal(recorded, 1);

    cJSON *a = NULL;
    assert_int_equal(os_store_series_json(f->st, NULL, 0, &a, &err), 0);
    assert_int_equal(cJSON_GetArraySize(a), 1);
    cJSON *s0 = cJSON_GetArrayItem(a, 0);
    assert_int_equal(cJSON_GetObjectItem(s0, "n_instances")->valueint, 1);
    assert_true(cJSON_GetObjectItem(s0, "last_at")->valuedouble == 1000.0);
    cJSON_Delete(a);

    char **paths = NULL;
    size_t n = 0;
    add(f->st, slice("1.0", "S1", "ST1", 2, 1002), 1);
    assert_int_equal(os_store_series_paths(f->st, "S1", &paths, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(paths[0], "/spool/ST1/S1/1.0.dcm");
    os_store_free_strings(paths, n);
}

static void test_quiet_completion(void **state) {
    fixture *f = *state;
    os_error err = {0};
    add_series(f->st, "S1", "ST1", 3, 1000);
    add_series(f->st, "S2", "ST2", 3, 1008);
    char **studies = NULL;
    size_t n = 0;
    assert_int_equal(os_store_complete_quiet_series(f->st, 1005, 10, &studies, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(os_store_complete_quiet_series(f->st, 1010, 10, &studies, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(studies[0], "ST1");
    os_store_free_strings(studies, n);
    assert_int_equal(os_store_complete_quiet_series(f->st, 1010, 10, &studies, &n, &err), 0);
    assert_int_equal(n, 0);

    assert_int_equal(os_store_studies_pending_selection(f->st, &studies, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(studies[0], "ST1");
    os_store_free_strings(studies, n);

    cJSON *a = NULL;
    assert_int_equal(os_store_series_json(f->st, "complete", 10, &a, &err), 0);
    assert_int_equal(cJSON_GetArraySize(a), 1);
    assert_true(cJSON_GetObjectItem(cJSON_GetArrayItem(a, 0), "completed_at")->valuedouble == 1010.0);
    cJSON_Delete(a);
}

static void test_reopen_supersedes(void **state) {
    fixture *f = *state;
    os_error err = {0};
    int64_t job = queue_series(f->st, "S1", "ST1", 1000);
    job_state_is(f->st, job, "queued");

    add(f->st, slice("late", "S1", "ST1", 50, 2000), 1);
    job_state_is(f->st, job, "cancelled");
    cJSON *o = NULL;
    assert_int_equal(os_store_job_json(f->st, job, &o, &err), 0);
    assert_string_equal(cJSON_GetObjectItem(o, "error")->valuestring, "superseded: new instance arrived");
    cJSON_Delete(o);
    cJSON *a = NULL;
    assert_int_equal(os_store_series_json(f->st, "receiving", 0, &a, &err), 0);
    assert_int_equal(cJSON_GetArraySize(a), 1);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(a, 0), "n_instances")->valueint, 4);
    cJSON_Delete(a);

    /* Selected again once quiet: the cancelled job does not block a new one. */
    char **studies = NULL;
    size_t n = 0;
    assert_int_equal(os_store_complete_quiet_series(f->st, 3000, 10, &studies, &n, &err), 0);
    os_store_free_strings(studies, n);
    const char *uids[] = {"S1"};
    int64_t job2 = 0;
    assert_int_equal(os_store_apply_selection(f->st, "ST1", "S1", uids, NULL, 1, 3000, &job2, &err), 0);
    assert_true(job2 > job);
}


/* New data after a job ran: a running job is superseded, and a done job no longer counts as
 * covering the series, so selection creates exactly one new job. */
static void test_reopen_after_running_and_done(void **state) {
    fixture *f = *state;
    os_error err = {0};
    int64_t job = queue_series(f->st, "S1", "ST1", 1000);
    os_job j;
    int found = 0;
    assert_int_equal(os_store_claim_job(f->st, "node", 1500, 300, &j, &found, &err), 0);
    assert_int_equal(found, 1);
    add(f->st, slice("late", "S1", "ST1", 50, 2000), 1);
    job_state_is(f->st, job, "cancelled");
    assert_int_not_equal(os_store_finish_job(f->st, job, "node", "volume", "{}", 2100, &err), 0);

    char **studies = NULL;
    size_t n = 0;
    const char *uids[] = {"S1"};
    assert_int_equal(os_store_complete_quiet_series(f->st, 3000, 10, &studies, &n, &err), 0);
    os_store_free_strings(studies, n);
    int64_t job2 = 0;
    assert_int_equal(os_store_apply_selection(f->st, "ST1", "S1", uids, NULL, 1, 3000, &job2, &err), 0);
    assert_true(job2 > job);
    assert_int_equal(os_store_claim_job(f->st, "node", 3100, 300, &j, &found, &err), 0);
    assert_int_equal(os_store_finish_job(f->st, job2, "node", "volume", "{}", 3200, &err), 0);

    /* Selecting again without new data: the done job covers it. */
    int64_t job3 = 0;
    assert_int_equal(os_store_apply_selection(f->st, "ST1", "S1", uids, NULL, 1, 3300, &job3, &err), 0);
    assert_int_equal(job3, 0);
    /* A genuinely new instance after that: one new job. */
    add(f->st, slice("later", "S1", "ST1", 52, 4000), 1);
    assert_int_equal(os_store_complete_quiet_series(f->st, 5000, 10, &studies, &n, &err), 0);
    os_store_free_strings(studies, n);
    int64_t job4 = 0;
    assert_int_equal(os_store_apply_selection(f->st, "ST1", "S1", uids, NULL, 1, 5000, &job4, &err), 0);
    assert_true(job4 > job2);
}

/* An Enhanced CT object counts as its frames and spans its first to last frame. */
static void test_multiframe_extent(void **state) {
    fixture *f = *state;
    os_error err = {0};
    os_instance_rec r = slice("mf", "SM", "STM", 0, 1000);
    r.sop_class_uid = "1.2.840.10008.5.1.4.1.1.2.1";
    r.frames = 120;
    r.position_last[0] = -200;
    r.position_last[1] = -200;
    r.position_last[2] = -238;
    add(f->st, r, 1);
    os_series_summary *v = NULL;
    size_t n = 0;
    assert_int_equal(os_store_study_series(f->st, "STM", &v, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].n_instances, 1);
    assert_int_equal(v[0].n_slices, 120);
    assert_true(v[0].z_min < -237.9 && v[0].z_max > -0.1 && v[0].z_max < 0.1);
    free(v);
}

static void test_study_series_aggregates(void **state) {
    fixture *f = *state;
    os_error err = {0};
    /* Axial: z 10..28 in 2 mm steps; thicknesses 1,1,1,...,5 (median 1). */
    for (int i = 0; i < 10; i++) {
        char sop[32];
        snprintf(sop, sizeof sop, "A.%d", i);
        os_instance_rec r = slice(sop, "A", "ST", 10 + 2.0 * i, 1000);
        r.slice_thickness = i == 9 ? 5.0 : 1.0;
        r.instance_number = i + 1;
        add(f->st, r, 1);
    }
    /* A localizer in the same series, in another orientation. */
    os_instance_rec loc = slice("A.loc", "A", "ST", 0, 1000);
    loc.image_type = "ORIGINAL\\PRIMARY\\LOCALIZER";
    loc.orientation[0] = 0, loc.orientation[1] = 1, loc.orientation[2] = 0;
    loc.orientation[3] = 0, loc.orientation[4] = 0, loc.orientation[5] = -1;
    loc.position[0] = 10; /* normal (-1,0,0): projects to -10 */
    loc.instance_number = 100;
    add(f->st, loc, 1);
    /* Series B: even count, thicknesses 2 and 3 -> median 2.5, no orientation. */
    os_instance_rec b1 = slice("B.1", "B", "ST", 0, 1000), b2 = slice("B.2", "B", "ST", 0, 1000);
    b1.slice_thickness = 2, b2.slice_thickness = 3;
    b1.has_orientation = b2.has_orientation = 0;
    b1.series_number = b2.series_number = 3;
    add(f->st, b1, 1);
    add(f->st, b2, 1);

    os_series_summary *v = NULL;
    size_t n = 0;
    assert_int_equal(os_store_study_series(f->st, "ST", &v, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].series_uid, "A");
    assert_string_equal(v[0].state, "receiving");
    assert_string_equal(v[0].modality, "CT");
    assert_string_equal(v[0].kernel, "B30f");
    assert_int_equal(v[0].n_instances, 11);
    assert_int_equal(v[0].n_localizer, 1);
    assert_int_equal(v[0].n_orientations, 2);
    assert_int_equal(v[0].has_orientation, 1);
    assert_true(v[0].orientation[0] == 1.0 && v[0].orientation[4] == 1.0);
    assert_true(v[0].slice_thickness == 1.0);
    assert_true(v[0].z_min == -10.0);
    assert_true(v[0].z_max == 28.0);
    assert_int_equal(v[0].has_job, 0);
    assert_string_equal(v[1].series_uid, "B");
    assert_int_equal(v[1].n_orientations, 0);
    assert_int_equal(v[1].has_orientation, 0);
    assert_true(v[1].slice_thickness == 2.5);
    free(v);
}

static void test_apply_selection_once(void **state) {
    fixture *f = *state;
    os_error err = {0};
    add_series(f->st, "A", "ST", 3, 1000);
    add_series(f->st, "B", "ST", 3, 1000);
    char **studies = NULL;
    size_t n = 0;
    assert_int_equal(os_store_complete_quiet_series(f->st, 1100, 10, &studies, &n, &err), 0);
    os_store_free_strings(studies, n);

    const char *uids[] = {"A", "B"};
    const char *why[] = {"", "too thick"};
    int64_t job = 0;
    assert_int_equal(os_store_apply_selection(f->st, "ST", "A", uids, why, 2, 1100, &job, &err), 0);
    assert_true(job > 0);
    int64_t again = -1;
    assert_int_equal(os_store_apply_selection(f->st, "ST", "A", uids, why, 2, 1101, &again, &err), 0);
    assert_int_equal(again, 0);
    assert_int_equal(count_jobs(f->st, NULL), 1);

    os_series_summary *v = NULL;
    assert_int_equal(os_store_study_series(f->st, "ST", &v, &n, &err), 0);
    assert_string_equal(v[0].state, "selected");
    assert_int_equal(v[0].has_job, 1);
    assert_string_equal(v[1].state, "ignored");
    free(v);
    cJSON *a = NULL;
    assert_int_equal(os_store_series_json(f->st, "ignored", 0, &a, &err), 0);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(a, 0), "ignore_reason")->valuestring, "too thick");
    cJSON_Delete(a);

    /* Changing its mind cancels the queued job of the series no longer chosen. */
    int64_t job_b = 0;
    const char *why2[] = {"worse", ""};
    assert_int_equal(os_store_apply_selection(f->st, "ST", "B", uids, why2, 2, 1200, &job_b, &err), 0);
    assert_true(job_b > job);
    job_state_is(f->st, job, "cancelled");
    assert_int_equal(count_jobs(f->st, "queued"), 1);

    /* Nothing chosen: everything ignored, queued job cancelled. */
    assert_int_equal(os_store_apply_selection(f->st, "ST", NULL, uids, why2, 2, 1300, &job, &err), 0);
    assert_int_equal(job, 0);
    assert_int_equal(count_jobs(f->st, "queued"), 0);
}

/* ---- jobs -------------------------------------------------------------------------- */

static void test_claim_finish(void **state) {
    fixture *f = *state;
    os_error err = {0};
    int64_t id = queue_series(f->st, "S1", "ST1", 1000);
    os_job job;
    int found = 0;
    assert_int_equal(os_store_claim_job(f->st, "node-a", 1100, 60, &job, &found, &err), 0);
    assert_int_equal(found, 1);
    assert_int_equal(job.id, id);
    assert_int_equal(job.attempts, 1);
    assert_string_equal(job.series_uid, "S1");
    assert_string_equal(job.study_uid, "ST1");
    assert_string_equal(job.state, "running");
    assert_int_equal(os_store_claim_job(f->st, "node-a", 1100, 60, &job, &found, &err), 0);
    assert_int_equal(found, 0);

    assert_int_equal(os_store_renew_lease(f->st, id, "node-a", 1200, &err), 0);
    assert_int_equal(os_store_renew_lease(f->st, id, "node-b", 1200, &err), -ESTALE);
    assert_int_equal(os_store_finish_job(f->st, id, "node-b", "volume", "{}", 1150, &err), -ESTALE);
    assert_int_equal(os_store_finish_job(f->st, id, "node-a", "volume", "{\"slices\":3}", 1150, &err), 0);
    job_state_is(f->st, id, "done");

    cJSON *o = NULL;
    assert_int_equal(os_store_job_json(f->st, id, &o, &err), 0);
    cJSON *res = cJSON_GetObjectItem(o, "results");
    assert_non_null(res);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(res, "volume"), "slices")->valueint, 3);
    assert_true(cJSON_IsArray(cJSON_GetObjectItem(o, "events")));
    assert_true(cJSON_GetArraySize(cJSON_GetObjectItem(o, "events")) >= 2);
    cJSON_Delete(o);
    assert_int_equal(os_store_job_json(f->st, 999, &o, &err), -ENOENT);
}

static void test_fail_retry_then_failed(void **state) {
    fixture *f = *state;
    os_error err = {0};
    int64_t id = queue_series(f->st, "S1", "ST1", 1000);
    os_job job;
    int found;
    char final[16];
    assert_int_equal(os_store_claim_job(f->st, "n", 1100, 60, &job, &found, &err), 0);
    assert_int_equal(os_store_fail_job(f->st, id, "n", "boom 1", 2, 1110, 30, final, &err), 0);
    assert_string_equal(final, "queued");
    /* Not before its retry delay. */
    assert_int_equal(os_store_claim_job(f->st, "n", 1130, 60, &job, &found, &err), 0);
    assert_int_equal(found, 0);
    assert_int_equal(os_store_claim_job(f->st, "n", 1140, 60, &job, &found, &err), 0);
    assert_int_equal(found, 1);
    assert_int_equal(job.attempts, 2);
    assert_int_equal(os_store_fail_job(f->st, id, "n", "boom 2", 2, 1150, 30, final, &err), 0);
    assert_string_equal(final, "failed");
    job_state_is(f->st, id, "failed");

    cJSON *s = NULL;
    assert_int_equal(os_store_status_json(f->st, 1200, &s, &err), 0);
    cJSON *errs = cJSON_GetObjectItem(s, "last_errors");
    assert_int_equal(cJSON_GetArraySize(errs), 1);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(errs, 0), "error")->valuestring, "boom 2");
    assert_int_equal(cJSON_GetObjectItem(s, "failed_last_hour")->valueint, 1);
    cJSON_Delete(s);
}

static void test_requeue(void **state) {
    fixture *f = *state;
    os_error err = {0};
    int64_t id = queue_series(f->st, "S1", "ST1", 1000);
    os_job job;
    int found;
    assert_int_equal(os_store_claim_job(f->st, "n", 1100, 60, &job, &found, &err), 0);
    assert_int_equal(os_store_requeue_job(f->st, id, "other", &err), -ESTALE);
    assert_int_equal(os_store_requeue_job(f->st, id, "n", &err), 0);
    job_state_is(f->st, id, "queued");
    assert_int_equal(os_store_claim_job(f->st, "n", 1100, 60, &job, &found, &err), 0);
    assert_int_equal(job.attempts, 1); /* the drained attempt did not count */
}

static void test_recover_leases(void **state) {
    fixture *f = *state;
    os_error err = {0};
    int64_t mine = queue_series(f->st, "S1", "ST1", 1000);
    int64_t theirs = queue_series(f->st, "S2", "ST2", 1000);
    int64_t worn = queue_series(f->st, "S3", "ST3", 1000);
    os_job job;
    int found;
    assert_int_equal(os_store_claim_job(f->st, "me", 1100, 60, &job, &found, &err), 0);
    assert_int_equal(job.id, mine);
    assert_int_equal(os_store_claim_job(f->st, "them", 1100, 60, &job, &found, &err), 0);
    assert_int_equal(job.id, theirs);
    assert_int_equal(os_store_claim_job(f->st, "them", 1100, 60, &job, &found, &err), 0);
    assert_int_equal(job.id, worn);

    size_t requeued = 9, failed = 9;
    /* Before expiry only my own lease comes back. */
    assert_int_equal(os_store_recover_leases(f->st, "me", 1130, 3, &requeued, &failed, &err), 0);
    assert_int_equal(requeued, 1);
    assert_int_equal(failed, 0);
    job_state_is(f->st, mine, "queued");
    job_state_is(f->st, theirs, "running");

    /* After expiry theirs too; with max_attempts 1 both foreign jobs used their last attempt. */
    assert_int_equal(os_store_recover_leases(f->st, "me", 1161, 1, &requeued, &failed, &err), 0);
    assert_int_equal(failed, 2);
    assert_int_equal(requeued, 0);
    job_state_is(f->st, theirs, "failed");
    cJSON *o = NULL;
    assert_int_equal(os_store_job_json(f->st, worn, &o, &err), 0);
    assert_string_equal(cJSON_GetObjectItem(o, "error")->valuestring,
                        "lease lost after 1 attempts (worker crashed or was killed)");
    cJSON_Delete(o);
}

static void test_recover_leases_requeues_foreign_expired(void **state) {
    fixture *f = *state;
    os_error err = {0};
    int64_t id = queue_series(f->st, "S1", "ST1", 1000);
    os_job job;
    int found;
    size_t requeued, failed;
    assert_int_equal(os_store_claim_job(f->st, "them", 1100, 60, &job, &found, &err), 0);
    assert_int_equal(os_store_recover_leases(f->st, "me", 1159, 3, &requeued, &failed, &err), 0);
    assert_int_equal(requeued, 0);
    assert_int_equal(os_store_recover_leases(f->st, "me", 1160, 3, &requeued, &failed, &err), 0);
    assert_int_equal(requeued, 1);
    job_state_is(f->st, id, "queued");
    /* The old holder finds out it lost the job. */
    assert_int_equal(os_store_finish_job(f->st, id, "them", "volume", "{}", 1170, &err), -ESTALE);
}

static void test_retry_cancel_rules(void **state) {
    fixture *f = *state;
    os_error err = {0};
    int64_t id = queue_series(f->st, "S1", "ST1", 1000);
    assert_int_equal(os_store_retry_job(f->st, id, 1100, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "queued"));
    assert_int_equal(os_store_cancel_job(f->st, id, 1100, &err), 0);
    job_state_is(f->st, id, "cancelled");
    assert_int_equal(os_store_cancel_job(f->st, id, 1100, &err), -EINVAL);
    assert_int_equal(os_store_retry_job(f->st, id, 1200, &err), 0);
    job_state_is(f->st, id, "queued");

    /* Cancel while running: the worker's finish is refused and the result discarded. */
    os_job job;
    int found;
    assert_int_equal(os_store_claim_job(f->st, "n", 1300, 60, &job, &found, &err), 0);
    assert_int_equal(job.attempts, 1); /* retry reset the count */
    assert_int_equal(os_store_cancel_job(f->st, id, 1310, &err), 0);
    assert_int_equal(os_store_renew_lease(f->st, id, "n", 1400, &err), -ECANCELED);
    assert_int_equal(os_store_finish_job(f->st, id, "n", "volume", "{}", 1320, &err), -ECANCELED);
    job_state_is(f->st, id, "cancelled");

    assert_int_equal(os_store_retry_job(f->st, 12345, 1400, &err), -ENOENT);
    assert_int_equal(os_store_cancel_job(f->st, 12345, 1400, &err), -ENOENT);

    /* Done jobs may be retried too. */
    assert_int_equal(os_store_retry_job(f->st, id, 1400, &err), 0);
    assert_int_equal(os_store_claim_job(f->st, "n", 1400, 60, &job, &found, &err), 0);
    assert_int_equal(os_store_finish_job(f->st, id, "n", "volume", "{}", 1410, &err), 0);
    assert_int_equal(os_store_retry_job(f->st, id, 1420, &err), 0);
}

/* ---- views ------------------------------------------------------------------------- */

static void has_keys(cJSON *o, const char *const *keys) {
    for (size_t i = 0; keys[i]; i++)
        if (!cJSON_HasObjectItem(o, keys[i])) fail_msg("missing key %s", keys[i]);
}

static void test_json_views(void **state) {
    fixture *f = *state;
    os_error err = {0};
    int64_t id = queue_series(f->st, "S1", "ST1", 1000);
    assert_int_equal(os_store_event(f->st, 1101, "info", "hello", id, &err), 0);
    assert_int_equal(os_store_event(f->st, 1101, "info", "node started", 0, &err), 0);

    cJSON *o = NULL;
    assert_int_equal(os_store_status_json(f->st, 1160, &o, &err), 0);
    has_keys(o, (const char *const[]){"instances", "series", "jobs", "oldest_queued_age_s", "done_last_hour",
                                      "failed_last_hour", "last_errors", NULL});
    assert_int_equal(cJSON_GetObjectItem(o, "instances")->valueint, 3);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "jobs"), "queued")->valueint, 1);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "jobs"), "failed")->valueint, 0);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "series"), "selected")->valueint, 1);
    assert_true(cJSON_GetObjectItem(o, "oldest_queued_age_s")->valuedouble == 60.0);
    cJSON_Delete(o);

    assert_int_equal(os_store_series_json(f->st, NULL, 10, &o, &err), 0);
    has_keys(cJSON_GetArrayItem(o, 0),
             (const char *const[]){"series_uid", "study_uid", "modality", "description", "state", "ignore_reason",
                                   "n_instances", "first_at", "last_at", "completed_at", NULL});
    cJSON_Delete(o);

    assert_int_equal(os_store_jobs_json(f->st, NULL, 10, &o, &err), 0);
    has_keys(cJSON_GetArrayItem(o, 0),
             (const char *const[]){"id", "state", "study_uid", "series_uid", "attempts", "error", "created_at",
                                   "started_at", "finished_at", "not_before", "lease_owner", "lease_until", NULL});
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(o, 0), "error")));
    cJSON_Delete(o);

    assert_int_equal(os_store_job_json(f->st, id, &o, &err), 0);
    has_keys(o, (const char *const[]){"id", "state", "study_uid", "series_uid", "attempts", "error", "results",
                                      "events", NULL});
    cJSON *ev = cJSON_GetObjectItem(o, "events");
    has_keys(cJSON_GetArrayItem(ev, 0), (const char *const[]){"at", "level", "what", NULL});
    cJSON_Delete(o);

    /* Empty database: nulls, not errors. */
    os_store_close(f->st);
    unlink(f->db);
    char wal[320];
    snprintf(wal, sizeof wal, "%s-wal", f->db);
    unlink(wal);
    snprintf(wal, sizeof wal, "%s-shm", f->db);
    unlink(wal);
    assert_int_equal(os_store_open(f->db, 1000, &f->st, &err), 0);
    assert_int_equal(os_store_status_json(f->st, 1160, &o, &err), 0);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "oldest_queued_age_s")));
    cJSON_Delete(o);
}

/* ---- two connections, two threads --------------------------------------------------- */

typedef struct worker_arg {
    const char *db;
    int n;
    int errors;
    char msg[OS_ERROR_MSG_MAX];
} worker_arg;

static void *inserter(void *p) {
    worker_arg *a = p;
    os_store *st = NULL;
    os_error err = {0};
    if (os_store_open(a->db, 10000, &st, &err) != 0) {
        a->errors++;
        snprintf(a->msg, sizeof a->msg, "%s", err.msg);
        return NULL;
    }
    for (int i = 0; i < a->n; i++) {
        char sop[64], series[32];
        snprintf(sop, sizeof sop, "new.%d", i);
        snprintf(series, sizeof series, "NEW%d", i % 5);
        os_instance_rec r = slice(sop, series, "NEWSTUDY", i, 5000 + i);
        int was_new = 0;
        if (os_store_add_instance(st, &r, &was_new, &err) != 0 || !was_new) {
            a->errors++;
            snprintf(a->msg, sizeof a->msg, "%s", err.msg);
        }
    }
    os_store_close(st);
    return NULL;
}

static void *claimer(void *p) {
    worker_arg *a = p;
    os_store *st = NULL;
    os_error err = {0};
    if (os_store_open(a->db, 10000, &st, &err) != 0) {
        a->errors++;
        snprintf(a->msg, sizeof a->msg, "%s", err.msg);
        return NULL;
    }
    int done = 0;
    for (int tries = 0; done < a->n && tries < 100000; tries++) {
        os_job job;
        int found = 0;
        if (os_store_claim_job(st, "claimer", 9000, 60, &job, &found, &err) != 0) {
            a->errors++;
            snprintf(a->msg, sizeof a->msg, "%s", err.msg);
            break;
        }
        if (!found) break;
        cJSON *view = NULL;
        if (os_store_finish_job(st, job.id, "claimer", "volume", "{}", 9001, &err) != 0 ||
            os_store_status_json(st, 9002, &view, &err) != 0) {
            a->errors++;
            snprintf(a->msg, sizeof a->msg, "%s", err.msg);
        }
        cJSON_Delete(view);
        done++;
    }
    a->n = done;
    os_store_close(st);
    return NULL;
}

static void test_two_handles_two_threads(void **state) {
    fixture *f = *state;
    enum { N_JOBS = 40, N_INSERTS = 300 };
    for (int i = 0; i < N_JOBS; i++) {
        char series[32], study[32];
        snprintf(series, sizeof series, "J%d", i);
        snprintf(study, sizeof study, "JS%d", i);
        queue_series(f->st, series, study, 1000);
    }
    worker_arg ins = {.db = f->db, .n = N_INSERTS}, cl = {.db = f->db, .n = N_JOBS};
    pthread_t t1, t2;
    assert_int_equal(pthread_create(&t1, NULL, inserter, &ins), 0);
    assert_int_equal(pthread_create(&t2, NULL, claimer, &cl), 0);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    if (ins.errors) fail_msg("inserter: %d errors, last: %s", ins.errors, ins.msg);
    if (cl.errors) fail_msg("claimer: %d errors, last: %s", cl.errors, cl.msg);
    assert_int_equal(cl.n, N_JOBS);
    assert_int_equal(count_jobs(f->st, "done"), N_JOBS);
    cJSON *o = NULL;
    os_error err = {0};
    assert_int_equal(os_store_status_json(f->st, 9999, &o, &err), 0);
    assert_int_equal(cJSON_GetObjectItem(o, "instances")->valueint, N_JOBS * 3 + N_INSERTS);
    cJSON_Delete(o);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_migrations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_instance_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quiet_completion, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_supersedes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_study_series_aggregates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_after_running_and_done, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multiframe_extent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply_selection_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_claim_finish, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fail_retry_then_failed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_requeue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recover_leases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recover_leases_requeues_foreign_expired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_cancel_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_views, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_handles_two_threads, setup, teardown),
    };
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
