/* lib/store's outbound queue: idempotent enqueue, claiming due batches per destination,
 * the backoff with jitter and the max-age cut-off, permanent failures, abandoned files,
 * pause/resume, resend and the CLI's JSON views. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osteoscout/store.h"

typedef struct fixture {
    char dir[256];
    char db[300];
    os_store *st;
    int64_t job;
} fixture;

/* A job needs a series; the selection path creates one the way the daemon does. */
static int64_t make_job(os_store *st, const char *tag) {
    char sop[64], series[64], study[64];
    snprintf(sop, sizeof sop, "1.2.3.%s.1", tag);
    snprintf(series, sizeof series, "1.2.3.%s.2", tag);
    snprintf(study, sizeof study, "1.2.3.%s.3", tag);
    os_instance_rec r = {.sop_uid = sop, .series_uid = series, .study_uid = study, .path = "/x.dcm",
                         .modality = "CT", .received_at = 1};
    os_error err = {0};
    int was_new = 0;
    assert_int_equal(os_store_add_instance(st, &r, &was_new, &err), 0);
    char **studies = NULL;
    size_t n_studies = 0;
    assert_int_equal(os_store_complete_quiet_series(st, 100, 1, &studies, &n_studies, &err), 0);
    os_store_free_strings(studies, n_studies);
    const char *uids[] = {series}, *why[] = {""};
    int64_t job = 0;
    assert_int_equal(os_store_apply_selection(st, study, series, uids, why, 1, 2, &job, &err), 0);
    assert_true(job > 0);
    return job;
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/os_test_outbound.XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    snprintf(f->db, sizeof f->db, "%s/osteoscout.db", f->dir);
    os_error err = {0};
    if (os_store_open(f->db, 5000, &f->st, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    f->job = make_job(f->st, "9");
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

static const os_outbound_item ITEMS[] = {
    {"pacs", "sr", "/out/sr.dcm", "9.1"},
    {"pacs", "sc", "/out/sc1.dcm", "9.2"},
    {"archive", "sr", "/out/sr.dcm", "9.1"},
};

static const os_outbound_policy POLICY = {.backoff_first_s = 30, .backoff_max_s = 3600, .max_age_s = 72 * 3600.0,
                                          .jitter_u = 0.5};

static void enqueue(fixture *f, double now) {
    os_error err = {0};
    size_t added = 99;
    assert_int_equal(os_store_outbound_enqueue(f->st, f->job, ITEMS, 3, now, &added, &err), 0);
    assert_int_equal(added, 3);
}

static void record_all(fixture *f, const os_outbound_batch *b, os_outbound_result res, int status, const char *why,
                       const os_outbound_policy *pol, double now, os_outbound_tally *t) {
    os_outbound_outcome o[8];
    assert_true(b->n <= 8);
    for (size_t i = 0; i < b->n; i++) o[i] = (os_outbound_outcome){b->files[i].id, res, status, why};
    os_error err = {0};
    assert_int_equal(os_store_outbound_record(f->st, o, b->n, pol, now, t, &err), 0);
}

static void enqueue_is_idempotent(void **state) {
    fixture *f = *state;
    enqueue(f, 100);
    os_error err = {0};
    size_t added = 99;
    assert_int_equal(os_store_outbound_enqueue(f->st, f->job, ITEMS, 3, 200, &added, &err), 0);
    assert_int_equal(added, 0);
    os_outbound_item bad = {"pacs", "pdf", "/p", "1"};
    assert_int_equal(os_store_outbound_enqueue(f->st, f->job, &bad, 1, 200, NULL, &err), -EINVAL);
    assert_int_equal(os_store_outbound_enqueue(f->st, 4242, ITEMS, 1, 200, NULL, &err), -ENOENT);
    cJSON *rows = NULL;
    assert_int_equal(os_store_outbound_json(f->st, NULL, 0, &rows, &err), 0);
    assert_int_equal(cJSON_GetArraySize(rows), 3);
    cJSON *r = cJSON_GetArrayItem(rows, 0); /* newest first */
    assert_string_equal(cJSON_GetObjectItem(r, "state")->valuestring, "pending");
    assert_string_equal(cJSON_GetObjectItem(r, "kind")->valuestring, "sr");
    assert_string_equal(cJSON_GetObjectItem(r, "destination")->valuestring, "archive");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(r, "last_status")));
    cJSON_Delete(rows);
}

static void enqueue_outputs_routes_by_kind(void **state) {
    fixture *f = *state;
    cJSON *outputs = cJSON_Parse("[{\"kind\":\"sr\",\"path\":\"/o/sr.dcm\",\"sop_instance_uid\":\"5.1\"},"
                                 "{\"kind\":\"sc\",\"path\":\"/o/sc.dcm\",\"sop_instance_uid\":\"5.2\"},"
                                 "{\"kind\":\"sc\",\"path\":\"/o/x.dcm\"}]");
    os_outbound_route routes[] = {{"pacs", 1, 1}, {"sr-only", 1, 0}};
    size_t added = 0, skipped = 0;
    os_error err = {0};
    assert_int_equal(os_store_outbound_enqueue_outputs(f->st, f->job, outputs, routes, 2, 10, &added, &skipped, &err), 0);
    assert_int_equal(added, 3);
    assert_int_equal(skipped, 1);
    assert_int_equal(os_store_outbound_enqueue_outputs(f->st, f->job, outputs, routes, 2, 11, &added, NULL, &err), 0);
    assert_int_equal(added, 0);
    cJSON_Delete(outputs);
}

static void claim_groups_by_job_and_destination(void **state) {
    fixture *f = *state;
    int64_t job2 = make_job(f->st, "8");
    enqueue(f, 100);
    os_outbound_item other = {"pacs", "sr", "/o2.dcm", "8.1"};
    os_error err = {0};
    assert_int_equal(os_store_outbound_enqueue(f->st, job2, &other, 1, 150, NULL, &err), 0);

    os_outbound_batch b;
    int found = 0;
    assert_int_equal(os_store_outbound_claim(f->st, "pacs", 50, 300, &b, &found, &err), 0);
    assert_int_equal(found, 0); /* not due yet */
    assert_int_equal(os_store_outbound_claim(f->st, "pacs", 200, 300, &b, &found, &err), 0);
    assert_int_equal(found, 1);
    assert_int_equal(b.job_id, f->job);
    assert_int_equal(b.n, 2);
    assert_string_equal(b.files[0].kind, "sr");
    assert_string_equal(b.files[0].sop_uid, "9.1");
    assert_string_equal(b.files[1].path, "/out/sc1.dcm");
    assert_true(b.queued_at == 100);
    os_outbound_batch_free(&b);
    /* held: the same rows are not claimed again, the next job is */
    assert_int_equal(os_store_outbound_claim(f->st, "pacs", 201, 300, &b, &found, &err), 0);
    assert_int_equal(found, 1);
    assert_int_equal(b.job_id, job2);
    os_outbound_batch_free(&b);
    assert_int_equal(os_store_outbound_claim(f->st, "pacs", 202, 300, &b, &found, &err), 0);
    assert_int_equal(found, 0);
    /* after the hold lapses (a crash), the batch is due again */
    assert_int_equal(os_store_outbound_claim(f->st, "pacs", 501, 300, &b, &found, &err), 0);
    assert_int_equal(found, 1);
    assert_int_equal(b.job_id, f->job);
    os_outbound_batch_free(&b);
    /* the other destination is independent */
    assert_int_equal(os_store_outbound_claim(f->st, "archive", 202, 300, &b, &found, &err), 0);
    assert_int_equal(found, 1);
    assert_int_equal(b.n, 1);
    os_outbound_batch_free(&b);
}

static void backoff_formula(void **state) {
    (void)state;
    assert_true(os_outbound_backoff(1, 30, 3600, 0.5) == 30);
    assert_true(os_outbound_backoff(2, 30, 3600, 0.5) == 60);
    assert_true(os_outbound_backoff(3, 30, 3600, 0.5) == 120);
    assert_true(os_outbound_backoff(1, 30, 3600, 0.0) == 24);
    assert_true(fabs(os_outbound_backoff(1, 30, 3600, 0.999999) - 36) < 1e-3);
    assert_true(os_outbound_backoff(8, 30, 3600, 0.5) == 3600); /* 3840 capped */
    assert_true(os_outbound_backoff(8, 30, 3600, 1.0) == 3600); /* jitter never exceeds the cap */
    assert_true(os_outbound_backoff(8, 30, 3600, 0.0) == 2880);
    assert_true(os_outbound_backoff(1000, 30, 3600, 0.5) == 3600);
}

static void transient_failures_back_off_then_die_of_age(void **state) {
    fixture *f = *state;
    enqueue(f, 1000);
    os_outbound_policy pol = POLICY;
    pol.max_age_s = 200;
    os_outbound_batch b;
    int found = 0;
    os_error err = {0};
    os_outbound_tally t;
    assert_int_equal(os_store_outbound_claim(f->st, "pacs", 1000, 300, &b, &found, &err), 0);
    record_all(f, &b, OS_OUTBOUND_TRANSIENT, -1, "connection refused", &pol, 1001, &t);
    assert_int_equal(t.retry, 2);
    assert_true(t.next_try_at == 1031); /* 30 s at u = 0.5 */
    os_outbound_batch_free(&b);
    assert_int_equal(os_store_outbound_claim(f->st, "pacs", 1030, 300, &b, &found, &err), 0);
    assert_int_equal(found, 0);
    assert_int_equal(os_store_outbound_claim(f->st, "pacs", 1031, 300, &b, &found, &err), 0);
    assert_int_equal(found, 1);
    assert_int_equal(b.files[0].attempts, 1);
    record_all(f, &b, OS_OUTBOUND_TRANSIENT, 0xA700, "out of resources", &pol, 1032, &t);
    assert_true(t.next_try_at == 1092); /* 60 s */
    os_outbound_batch_free(&b);
    /* the retry after 120 s would pass the deadline (queued 1000 + 200): it lands on it */
    assert_int_equal(os_store_outbound_claim(f->st, "pacs", 1092, 300, &b, &found, &err), 0);
    record_all(f, &b, OS_OUTBOUND_TRANSIENT, -1, "timeout", &pol, 1093, &t);
    assert_true(t.next_try_at == 1200);
    os_outbound_batch_free(&b);
    assert_int_equal(os_store_outbound_claim(f->st, "pacs", 1200, 300, &b, &found, &err), 0);
    assert_int_equal(found, 1);
    record_all(f, &b, OS_OUTBOUND_TRANSIENT, -1, "timeout", &pol, 1201, &t);
    assert_int_equal(t.dead, 2);
    os_outbound_batch_free(&b);
    cJSON *rows = NULL;
    assert_int_equal(os_store_outbound_json(f->st, "dead", 0, &rows, &err), 0);
    assert_int_equal(cJSON_GetArraySize(rows), 2);
    cJSON *r = cJSON_GetArrayItem(rows, 0);
    assert_int_equal((int)cJSON_GetObjectItem(r, "attempts")->valuedouble, 4);
    const char *e = cJSON_GetObjectItem(r, "last_error")->valuestring;
    if (!strstr(e, "gave up after 4 attempts") || !strstr(e, "timeout")) fail_msg("last_error: %s", e);
    cJSON_Delete(rows);
}

static void permanent_failure_is_dead_at_once_and_sent_is_sent(void **state) {
    fixture *f = *state;
    enqueue(f, 10);
    os_outbound_batch b;
    int found = 0;
    os_error err = {0};
    assert_int_equal(os_store_outbound_claim(f->st, "pacs", 10, 300, &b, &found, &err), 0);
    assert_int_equal(b.n, 2);
    os_outbound_outcome o[2] = {
        {b.files[0].id, OS_OUTBOUND_SENT, 0, NULL},
        {b.files[1].id, OS_OUTBOUND_PERMANENT, 0xA900, "C-STORE status 0xA900: dataset does not match"},
    };
    os_outbound_tally t;
    assert_int_equal(os_store_outbound_record(f->st, o, 2, &POLICY, 11, &t, &err), 0);
    assert_int_equal(t.sent, 1);
    assert_int_equal(t.dead, 1);
    /* recording again changes nothing: the rows are no longer pending */
    assert_int_equal(os_store_outbound_record(f->st, o, 2, &POLICY, 12, &t, &err), 0);
    assert_int_equal(t.sent + t.dead + t.retry, 0);
    os_outbound_batch_free(&b);
    cJSON *rows = NULL;
    assert_int_equal(os_store_outbound_json(f->st, "dead", 0, &rows, &err), 0);
    assert_int_equal(cJSON_GetArraySize(rows), 1);
    cJSON *r = cJSON_GetArrayItem(rows, 0);
    assert_int_equal((int)cJSON_GetObjectItem(r, "last_status")->valuedouble, 0xA900);
    assert_non_null(strstr(cJSON_GetObjectItem(r, "last_error")->valuestring, "0xA900"));
    cJSON_Delete(rows);
    assert_int_equal(os_store_outbound_json(f->st, "sent", 0, &rows, &err), 0);
    assert_int_equal(cJSON_GetArraySize(rows), 1);
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 0), "sent_at")));
    cJSON_Delete(rows);
    /* the dead file left an event on the job */
    cJSON *job = NULL;
    assert_int_equal(os_store_job_json(f->st, f->job, &job, &err), 0);
    char *text = cJSON_PrintUnformatted(job);
    assert_non_null(strstr(text, "delivery to pacs dead (refused"));
    free(text);
    cJSON_Delete(job);
}

static void abandoned_files_are_due_again_without_an_attempt(void **state) {
    fixture *f = *state;
    enqueue(f, 10);
    os_outbound_batch b;
    int found = 0;
    os_error err = {0};
    os_outbound_tally t;
    assert_int_equal(os_store_outbound_claim(f->st, "pacs", 10, 300, &b, &found, &err), 0);
    record_all(f, &b, OS_OUTBOUND_ABANDONED, -1, NULL, &POLICY, 20, &t);
    assert_int_equal(t.abandoned, 2);
    os_outbound_batch_free(&b);
    assert_int_equal(os_store_outbound_claim(f->st, "pacs", 20, 300, &b, &found, &err), 0);
    assert_int_equal(found, 1);
    assert_int_equal(b.files[0].attempts, 0);
    os_outbound_batch_free(&b);
}

static void paused_destination_is_not_claimed(void **state) {
    fixture *f = *state;
    enqueue(f, 10);
    os_error err = {0};
    int paused = -1;
    assert_int_equal(os_store_destination_paused(f->st, "pacs", &paused, &err), 0);
    assert_int_equal(paused, 0);
    assert_int_equal(os_store_destination_set_paused(f->st, "pacs", 1, 15, &err), 0);
    assert_int_equal(os_store_destination_set_paused(f->st, "pacs", 1, 16, &err), 0); /* keeps paused_at */
    assert_int_equal(os_store_destination_paused(f->st, "pacs", &paused, &err), 0);
    assert_int_equal(paused, 1);
    os_outbound_batch b;
    int found = 0;
    assert_int_equal(os_store_outbound_claim(f->st, "pacs", 20, 300, &b, &found, &err), 0);
    assert_int_equal(found, 0);
    assert_int_equal(os_store_outbound_claim(f->st, "archive", 20, 300, &b, &found, &err), 0);
    assert_int_equal(found, 1);
    os_outbound_batch_free(&b);
    cJSON *d = NULL;
    assert_int_equal(os_store_destinations_json(f->st, &d, &err), 0);
    assert_int_equal(cJSON_GetArraySize(d), 2);
    cJSON *archive = cJSON_GetArrayItem(d, 0), *pacs = cJSON_GetArrayItem(d, 1);
    assert_string_equal(cJSON_GetObjectItem(pacs, "name")->valuestring, "pacs");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(pacs, "paused")));
    assert_true(cJSON_GetObjectItem(pacs, "paused_at")->valuedouble == 15);
    assert_int_equal((int)cJSON_GetObjectItem(pacs, "pending")->valuedouble, 2);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(archive, "paused")));
    cJSON_Delete(d);
    assert_int_equal(os_store_destination_set_paused(f->st, "pacs", 0, 30, &err), 0);
    assert_int_equal(os_store_outbound_claim(f->st, "pacs", 31, 300, &b, &found, &err), 0);
    assert_int_equal(found, 1);
    os_outbound_batch_free(&b);
}

static void resend_requeues_with_a_fresh_count(void **state) {
    fixture *f = *state;
    enqueue(f, 10);
    os_outbound_batch b;
    int found = 0;
    os_error err = {0};
    os_outbound_tally t;
    assert_int_equal(os_store_outbound_claim(f->st, "pacs", 10, 300, &b, &found, &err), 0);
    record_all(f, &b, OS_OUTBOUND_PERMANENT, -1, "association rejected (permanent)", &POLICY, 11, &t);
    os_outbound_batch_free(&b);
    assert_int_equal(os_store_outbound_claim(f->st, "archive", 10, 300, &b, &found, &err), 0);
    record_all(f, &b, OS_OUTBOUND_SENT, 0, NULL, &POLICY, 11, &t);
    os_outbound_batch_free(&b);

    size_t n = 0;
    assert_int_equal(os_store_outbound_resend(f->st, f->job, 500, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_int_equal(os_store_outbound_resend(f->st, 4242, 500, &n, &err), -ENOENT);
    cJSON *rows = NULL;
    assert_int_equal(os_store_outbound_json(f->st, "pending", 0, &rows, &err), 0);
    assert_int_equal(cJSON_GetArraySize(rows), 3);
    const cJSON *r;
    cJSON_ArrayForEach(r, rows) {
        assert_int_equal((int)cJSON_GetObjectItem(r, "attempts")->valuedouble, 0);
        assert_true(cJSON_IsNull(cJSON_GetObjectItem(r, "last_error")));
    }
    cJSON_Delete(rows);
    /* due now, same SOP Instance UIDs */
    assert_int_equal(os_store_outbound_claim(f->st, "pacs", 500, 300, &b, &found, &err), 0);
    assert_int_equal(found, 1);
    assert_string_equal(b.files[0].sop_uid, "9.1");
    assert_true(b.queued_at == 500);
    os_outbound_batch_free(&b);
    cJSON *job = NULL;
    assert_int_equal(os_store_job_json(f->st, f->job, &job, &err), 0);
    char *text = cJSON_PrintUnformatted(job);
    assert_non_null(strstr(text, "resend: 3 outbound files pending again (were sent=1 dead=2"));
    free(text);
    cJSON_Delete(job);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(enqueue_is_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(enqueue_outputs_routes_by_kind, setup, teardown),
        cmocka_unit_test_setup_teardown(claim_groups_by_job_and_destination, setup, teardown),
        cmocka_unit_test(backoff_formula),
        cmocka_unit_test_setup_teardown(transient_failures_back_off_then_die_of_age, setup, teardown),
        cmocka_unit_test_setup_teardown(permanent_failure_is_dead_at_once_and_sent_is_sent, setup, teardown),
        cmocka_unit_test_setup_teardown(abandoned_files_are_due_again_without_an_attempt, setup, teardown),
        cmocka_unit_test_setup_teardown(paused_destination_is_not_claimed, setup, teardown),
        cmocka_unit_test_setup_teardown(resend_requeues_with_a_fresh_count, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
