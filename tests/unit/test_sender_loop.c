/* The daemon's sender (daemon/sender.c, compiled into this test) end to end on loopback:
 * its libuv loop, lib/store's outbound queue and lib/dicom's SCU against real PACS
 * stand-ins — DCMTK's storescp as a child process, and OsteoScout's own SCP refusing our
 * calling AE title. Checks: files delivered exactly once; a PACS that is down gives
 * transient failures with backoff, then delivery once it is back; a rejecting PACS is dead
 * at once with the reason while another destination still gets the files; a paused
 * destination gets nothing until resumed; a file that is not DICOM is dead at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "osteoscout/dicom.h"
#include "osteoscout/log.h"

/* What daemon/main.c provides to the sender. */
double os_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}
void os_daemon_maybe_finish(os_daemon *d) { (void)d; }

typedef struct fixture {
    char dir[256];
    char files[2][400];
    char uids[2][OS_UID_MAX];
    os_daemon d;
    int64_t job;
    pid_t pacs[4];
    int n_pacs;
} fixture;

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(fd, (struct sockaddr *)&a, sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

static int port_open(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* storescp on port, writing every received object to its own file in out_dir. */
static pid_t start_storescp(fixture *f, int port, const char *out_dir) {
    mkdir(out_dir, 0700);
    pid_t pid = fork();
    if (pid == 0) {
        char p[16];
        snprintf(p, sizeof p, "%d", port);
        int null = open("/dev/null", 1);
        dup2(null, 1);
        dup2(null, 2);
        execlp("storescp", "storescp", "--aetitle", "PACS", "--output-directory", out_dir, "--unique-filenames", p,
               (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100 && !port_open(port); i++) usleep(50000);
    assert_true(port_open(port));
    f->pacs[f->n_pacs++] = pid;
    return pid;
}

static void stop_pacs(fixture *f, pid_t pid) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    for (int i = 0; i < f->n_pacs; i++)
        if (f->pacs[i] == pid) f->pacs[i] = 0;
}

static int count_files(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

static void write_ct(const char *path, const char *study, const char *series, const char *sop, int number) {
    os_ct_write w;
    memset(&w, 0, sizeof w);
    w.transfer_syntax_uid = OS_TS_EXPLICIT_LE;
    w.patient_name = "Sender^Test";
    w.patient_id = "SND1";
    w.study_uid = study;
    w.series_uid = series;
    w.sop_uid = sop;
    w.study_date = "20240102";
    w.study_time = "101500";
    w.series_number = 901;
    w.instance_number = number;
    double o[6] = {1, 0, 0, 0, 1, 0};
    memcpy(w.orientation, o, sizeof o);
    w.pixel_spacing[0] = w.pixel_spacing[1] = 1;
    w.slice_thickness = 1;
    w.rows = w.cols = 8;
    w.rescale_slope = 1;
    int16_t px[64] = {0};
    os_error err = {0};
    assert_int_equal(os_dicom_write_ct(&w, px, path, &err), 0);
}

static int64_t make_job(os_store *st) {
    os_instance_rec r = {.sop_uid = "7.7.1", .series_uid = "7.7.2", .study_uid = "7.7.3", .path = "/x.dcm",
                         .modality = "CT", .received_at = 1};
    os_error err = {0};
    int was_new = 0;
    assert_int_equal(os_store_add_instance(st, &r, &was_new, &err), 0);
    char **studies = NULL;
    size_t n = 0;
    assert_int_equal(os_store_complete_quiet_series(st, 100, 1, &studies, &n, &err), 0);
    os_store_free_strings(studies, n);
    const char *uids[] = {"7.7.2"}, *why[] = {""};
    int64_t job = 0;
    assert_int_equal(os_store_apply_selection(st, "7.7.3", "7.7.2", uids, why, 1, 2, &job, &err), 0);
    return job;
}

static void add_destination(fixture *f, const char *name, int port, int outputs) {
    os_destination *d = &f->d.cfg.destinations[f->d.cfg.n_destinations++];
    memset(d, 0, sizeof *d);
    snprintf(d->name, sizeof d->name, "%s", name);
    snprintf(d->ae_title, sizeof d->ae_title, "PACS");
    snprintf(d->host, sizeof d->host, "127.0.0.1");
    d->port = port;
    d->outputs = outputs;
    d->max_age_hours = 72;
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/os_test_sender.XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    os_log_init(getenv("OS_TEST_VERBOSE") ? OS_LOG_DEBUG : OS_LOG_ERROR, 0);
    char study[OS_UID_MAX], series[OS_UID_MAX];
    os_dicom_new_uid(study);
    os_dicom_new_uid(series);
    for (int i = 0; i < 2; i++) {
        os_dicom_new_uid(f->uids[i]);
        snprintf(f->files[i], sizeof f->files[i], "%s/out%d.dcm", f->dir, i);
        write_ct(f->files[i], study, series, f->uids[i], i + 1);
    }
    os_config_defaults(&f->d.cfg);
    snprintf(f->d.cfg.node_ae_title, sizeof f->d.cfg.node_ae_title, "OSTEOSCOUT");
    f->d.cfg.sender_backoff_first_s = 1;
    f->d.cfg.sender_backoff_max_s = 2;
    f->d.cfg.sender_acse_timeout_s = 5;
    f->d.cfg.sender_dimse_timeout_s = 5;
    char db[400];
    snprintf(db, sizeof db, "%s/osteoscout.db", f->dir);
    os_error err = {0};
    if (os_store_open(db, 5000, &f->d.store, &err) != 0) return -1;
    f->job = make_job(f->d.store);
    f->d.loop = calloc(1, sizeof *f->d.loop);
    uv_loop_init(f->d.loop);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    for (int i = 0; i < f->n_pacs; i++)
        if (f->pacs[i] > 0) stop_pacs(f, f->pacs[i]);
    os_sender_stop(&f->d);
    uv_run(f->d.loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(f->d.loop), 0);
    free(f->d.loop);
    os_store_close(f->d.store);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0) return -1;
    free(f);
    return 0;
}

/* Both files as the pipeline lists them in its result. */
static void enqueue(fixture *f, const char *kind2) {
    cJSON *outputs = cJSON_CreateArray();
    for (int i = 0; i < 2; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "kind", i == 0 ? "sr" : kind2);
        cJSON_AddStringToObject(o, "path", f->files[i]);
        cJSON_AddStringToObject(o, "sop_instance_uid", f->uids[i]);
        cJSON_AddItemToArray(outputs, o);
    }
    assert_true(os_sender_enqueue_job_outputs(&f->d, f->job, outputs) >= 0);
    cJSON_Delete(outputs);
}

/* Per-destination counts from the store. */
typedef struct counts {
    int pending, sent, dead, attempts;
    char last_error[512];
} counts;

static counts dest_counts(fixture *f, const char *dest) {
    counts c = {0};
    cJSON *rows = NULL;
    os_error err = {0};
    assert_int_equal(os_store_outbound_json(f->d.store, NULL, 0, &rows, &err), 0);
    const cJSON *r;
    cJSON_ArrayForEach(r, rows) {
        if (strcmp(cJSON_GetObjectItem(r, "destination")->valuestring, dest)) continue;
        const char *s = cJSON_GetObjectItem(r, "state")->valuestring;
        c.pending += !strcmp(s, "pending");
        c.sent += !strcmp(s, "sent");
        c.dead += !strcmp(s, "dead");
        int a = (int)cJSON_GetObjectItem(r, "attempts")->valuedouble;
        if (a > c.attempts) c.attempts = a;
        const cJSON *e = cJSON_GetObjectItem(r, "last_error");
        if (cJSON_IsString(e)) snprintf(c.last_error, sizeof c.last_error, "%s", e->valuestring);
    }
    cJSON_Delete(rows);
    return c;
}

typedef int (*predicate)(fixture *f);
typedef struct wait_ctx {
    fixture *f;
    predicate p;
    double until;
    int met;
} wait_ctx;

static void on_poll(uv_timer_t *t) {
    wait_ctx *w = t->data;
    if ((w->p && w->p(w->f) && !os_sender_busy(&w->f->d)) || os_now() >= w->until) {
        w->met = w->p ? w->p(w->f) : 1;
        uv_stop(t->loop);
    }
}

/* Runs the daemon's loop until p holds (and no send is in flight) or seconds pass. */
static int run_until(fixture *f, predicate p, double seconds) {
    wait_ctx w = {f, p, os_now() + seconds, 0};
    uv_timer_t t;
    uv_timer_init(f->d.loop, &t);
    t.data = &w;
    uv_timer_start(&t, on_poll, 50, 50);
    uv_run(f->d.loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(f->d.loop, UV_RUN_NOWAIT);
    return w.met;
}

static void start_sender(fixture *f) {
    os_error err = {0};
    if (os_sender_start(&f->d, &err) != 0) fail_msg("sender: %s", err.msg);
}

static int pacs_all_sent(fixture *f) { return dest_counts(f, "pacs").sent == 2; }

static void delivered_once(void **state) {
    fixture *f = *state;
    int port = free_port();
    char out[400];
    snprintf(out, sizeof out, "%s/pacs", f->dir);
    start_storescp(f, port, out);
    add_destination(f, "pacs", port, OS_OUTPUT_SR | OS_OUTPUT_SC);
    start_sender(f);
    enqueue(f, "sc");
    assert_true(run_until(f, pacs_all_sent, 20));
    run_until(f, NULL, 2.5); /* nothing more may arrive */
    assert_int_equal(count_files(out), 2);
    counts c = dest_counts(f, "pacs");
    assert_int_equal(c.attempts, 1);
    /* enqueueing the same outputs again sends nothing new */
    enqueue(f, "sc");
    run_until(f, NULL, 1.5);
    assert_int_equal(count_files(out), 2);
}

static int pacs_retried_twice(fixture *f) { return dest_counts(f, "pacs").attempts >= 2; }

static void down_then_back(void **state) {
    fixture *f = *state;
    int port = free_port(); /* nothing listens yet */
    add_destination(f, "pacs", port, OS_OUTPUT_SR | OS_OUTPUT_SC);
    start_sender(f);
    enqueue(f, "sc");
    double t0 = os_now();
    assert_true(run_until(f, pacs_retried_twice, 20));
    /* backoff: 1 s ±20 % after the first failure, so the second try cannot come at once */
    assert_true(os_now() - t0 >= 0.7);
    counts c = dest_counts(f, "pacs");
    assert_int_equal(c.pending, 2);
    assert_int_equal(c.dead, 0);
    if (!strstr(c.last_error, "cannot open an association")) fail_msg("last_error: %s", c.last_error);
    char out[400];
    snprintf(out, sizeof out, "%s/pacs", f->dir);
    start_storescp(f, port, out);
    assert_true(run_until(f, pacs_all_sent, 20));
    run_until(f, NULL, 2.5);
    assert_int_equal(count_files(out), 2); /* once each */
    /* the same SOP instances as queued */
    cJSON *rows = NULL;
    os_error err = {0};
    assert_int_equal(os_store_outbound_json(f->d.store, "sent", 0, &rows, &err), 0);
    int matched = 0;
    const cJSON *r;
    cJSON_ArrayForEach(r, rows) {
        const char *uid = cJSON_GetObjectItem(r, "sop_uid")->valuestring;
        matched += !strcmp(uid, f->uids[0]) || !strcmp(uid, f->uids[1]);
    }
    cJSON_Delete(rows);
    assert_int_equal(matched, 2);
}

/* OsteoScout's own listener as a PACS that does not know our calling AE title. */
static int refuse_caller(void *ud, const char *calling_ae, const char *peer_host, char *reason, size_t len) {
    (void)ud;
    (void)peer_host;
    snprintf(reason, len, "%s is not allowed", calling_ae);
    return 1;
}
static uint16_t never_store(void *ud, const os_dicom_incoming *in, char *reason, size_t len) {
    (void)ud;
    (void)reason;
    (void)len;
    unlink(in->tmp_path);
    return OS_STATUS_SUCCESS;
}
static void run_scp(void *arg) { os_dicom_scp_run(arg, NULL); }

static int both_final(fixture *f) {
    counts a = dest_counts(f, "good"), b = dest_counts(f, "refuses");
    return a.sent == 2 && b.dead == 2;
}

static void rejected_is_dead_and_other_destination_still_delivered(void **state) {
    fixture *f = *state;
    char incoming[400];
    snprintf(incoming, sizeof incoming, "%s/incoming", f->dir);
    mkdir(incoming, 0700);
    int bad_port = free_port();
    os_dicom_scp_config sc = {.ae_title = "PACS", .port = bad_port, .max_associations = 2, .acse_timeout_s = 5,
                              .dimse_timeout_s = 5, .incoming_dir = incoming,
                              .cb = {.check_caller = refuse_caller, .on_store = never_store}};
    os_dicom_scp *scp = NULL;
    os_error err = {0};
    assert_int_equal(os_dicom_scp_create(&sc, &scp, &err), 0);
    uv_thread_t th;
    uv_thread_create(&th, run_scp, scp);
    for (int i = 0; i < 100 && !port_open(bad_port); i++) usleep(50000);

    int good_port = free_port();
    char out[400];
    snprintf(out, sizeof out, "%s/good", f->dir);
    start_storescp(f, good_port, out);
    add_destination(f, "refuses", bad_port, OS_OUTPUT_SR | OS_OUTPUT_SC);
    add_destination(f, "good", good_port, OS_OUTPUT_SR | OS_OUTPUT_SC);
    start_sender(f);
    enqueue(f, "sc");
    assert_true(run_until(f, both_final, 20));
    counts b = dest_counts(f, "refuses");
    assert_int_equal(b.attempts, 1); /* dead at once, no retry */
    if (!strstr(b.last_error, "association rejected (permanent): calling AE title not recognized"))
        fail_msg("last_error: %s", b.last_error);
    assert_int_equal(count_files(out), 2);
    os_dicom_scp_stop(scp);
    uv_thread_join(&th);
    os_dicom_scp_destroy(scp);
}

static int nothing(fixture *f) {
    (void)f;
    return 0;
}

static void paused_destination_waits(void **state) {
    fixture *f = *state;
    int port = free_port();
    char out[400];
    snprintf(out, sizeof out, "%s/pacs", f->dir);
    start_storescp(f, port, out);
    add_destination(f, "pacs", port, OS_OUTPUT_SR); /* wants SR only */
    os_error err = {0};
    assert_int_equal(os_store_destination_set_paused(f->d.store, "pacs", 1, os_now(), &err), 0);
    start_sender(f);
    enqueue(f, "sc");
    run_until(f, nothing, 2.5);
    counts c = dest_counts(f, "pacs");
    assert_int_equal(c.pending, 1); /* the SC file was not queued for it */
    assert_int_equal(c.attempts, 0);
    assert_int_equal(count_files(out), 0);
    assert_int_equal(os_store_destination_set_paused(f->d.store, "pacs", 0, os_now(), &err), 0);
    int sent = 0;
    for (int i = 0; i < 100 && !sent; i++) {
        run_until(f, NULL, 0.2);
        sent = dest_counts(f, "pacs").sent == 1;
    }
    assert_true(sent);
    assert_int_equal(count_files(out), 1);
}

static int pacs_one_dead_one_sent(fixture *f) {
    counts c = dest_counts(f, "pacs");
    return c.dead == 1 && c.sent == 1;
}

static void unreadable_file_is_dead_at_once(void **state) {
    fixture *f = *state;
    FILE *fp = fopen(f->files[1], "w");
    fputs("not DICOM", fp);
    fclose(fp);
    int port = free_port();
    char out[400];
    snprintf(out, sizeof out, "%s/pacs", f->dir);
    start_storescp(f, port, out);
    add_destination(f, "pacs", port, OS_OUTPUT_SR | OS_OUTPUT_SC);
    start_sender(f);
    enqueue(f, "sc");
    assert_true(run_until(f, pacs_one_dead_one_sent, 20));
    counts c = dest_counts(f, "pacs");
    if (!strstr(c.last_error, "cannot read the file")) fail_msg("last_error: %s", c.last_error);
    assert_int_equal(count_files(out), 1);
}

/* DICOM over TLS: storescp with a self-signed certificate that our CA file trusts, and
 * one that it does not (the handshake fails: transient, the file waits). */
static int tls_sent(fixture *f) { return dest_counts(f, "tls").sent == 2; }
static int untrusted_tried(fixture *f) { return dest_counts(f, "untrusted").attempts >= 1; }

static void tls_delivery(void **state) {
    fixture *f = *state;
    char cmd[2048], key[400], cert[400], other_key[400], other[400];
    snprintf(key, sizeof key, "%s/key.pem", f->dir);
    snprintf(cert, sizeof cert, "%s/cert.pem", f->dir);
    snprintf(other_key, sizeof other_key, "%s/okey.pem", f->dir);
    snprintf(other, sizeof other, "%s/ocert.pem", f->dir);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=pacs -keyout %s -out %s >/dev/null 2>&1 &&"
             " openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other -keyout %s -out %s >/dev/null 2>&1",
             key, cert, other_key, other);
    if (system(cmd) != 0) skip();
    int port = free_port();
    char out[400];
    snprintf(out, sizeof out, "%s/tls", f->dir);
    mkdir(out, 0700);
    pid_t pid = fork();
    if (pid == 0) {
        char p[16];
        snprintf(p, sizeof p, "%d", port);
        int null = open("/dev/null", 1);
        dup2(null, 1);
        dup2(null, 2);
        execlp("storescp", "storescp", "+tls", key, cert, "+px", "-ic", "--aetitle", "PACS", "--output-directory",
               out, "--unique-filenames", p, (char *)NULL);
        _exit(127);
    }
    f->pacs[f->n_pacs++] = pid;
    for (int i = 0; i < 100 && !port_open(port); i++) usleep(50000);
    add_destination(f, "tls", port, OS_OUTPUT_SR | OS_OUTPUT_SC);
    f->d.cfg.destinations[0].tls = 1;
    snprintf(f->d.cfg.destinations[0].tls_ca_file, sizeof f->d.cfg.destinations[0].tls_ca_file, "%s", cert);
    add_destination(f, "untrusted", port, OS_OUTPUT_SR);
    f->d.cfg.destinations[1].tls = 1;
    snprintf(f->d.cfg.destinations[1].tls_ca_file, sizeof f->d.cfg.destinations[1].tls_ca_file, "%s", other);
    start_sender(f);
    enqueue(f, "sc");
    assert_true(run_until(f, tls_sent, 20));
    assert_true(run_until(f, untrusted_tried, 10));
    counts u = dest_counts(f, "untrusted");
    assert_int_equal(u.sent, 0);
    assert_int_equal(u.pending, 1);
    assert_int_equal(count_files(out), 2);
}

static void bad_tls_files_stop_start_up(void **state) {
    fixture *f = *state;
    add_destination(f, "tls", 104, OS_OUTPUT_SR);
    f->d.cfg.destinations[0].tls = 1;
    snprintf(f->d.cfg.destinations[0].tls_ca_file, sizeof f->d.cfg.destinations[0].tls_ca_file, "/nonexistent.pem");
    os_error err = {0};
    assert_int_not_equal(os_sender_start(&f->d, &err), 0);
    if (!strstr(err.msg, "[destination tls]") || !strstr(err.msg, "/nonexistent.pem")) fail_msg("%s", err.msg);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(delivered_once, setup, teardown),
        cmocka_unit_test_setup_teardown(down_then_back, setup, teardown),
        cmocka_unit_test_setup_teardown(rejected_is_dead_and_other_destination_still_delivered, setup, teardown),
        cmocka_unit_test_setup_teardown(paused_destination_waits, setup, teardown),
        cmocka_unit_test_setup_teardown(unreadable_file_is_dead_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(tls_delivery, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_tls_files_stop_start_up, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
