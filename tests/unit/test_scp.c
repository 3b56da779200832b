/* Unit tests for lib/dicom's C-STORE SCP, driven by DCMTK's real tools (echoscu,
 * storescu, dcmsend) on a loopback port chosen at run time: echo, storing a CT file with
 * every field of the callback checked, real JPEG 2000 slices, AE title refusals, a full
 * association pool, failure statuses with their Error Comment, a full disk (a tiny tmpfs,
 * when the test may mount one), a port already taken, and how fast stop() ends run(). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "osteoscout/dicom.h"
#include "osteoscout/dicom_scu.h"
#include "osteoscout/log.h"

extern char **environ;

#define AE "OSTEO_TEST"
#define UID_SC "1.2.840.10008.5.1.4.1.1.7"
#define SCU_AE "TESTSCU"

static int g_accept_all = 1; /* accept_all_storage for the next start() */

/* What the callbacks saw; guarded by mu because they run on the pool's threads. */
typedef struct seen {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stores, checks, opened, closed;
    char calling[17], called[17], peer[64], check_peer[64];
    char sop_class[OS_UID_MAX], sop_inst[OS_UID_MAX], ts[OS_UID_MAX];
    char hdr_sop_inst[OS_UID_MAX];
    int had_header;
    char parse_error[256];
    int tmp_in_incoming; /* tmp_path was inside the incoming folder */
    uint16_t status;     /* what on_store answers */
    const char *reason;
    int block_first;     /* on_store waits for `release` on its first call */
    int blocked, release;
} seen;

typedef struct scp_fixture {
    char dir[256];      /* the test's own folder */
    char incoming[300]; /* incoming_dir */
    char stored[300];   /* where on_store puts files */
    int port;
    os_dicom_scp *scp;
    pthread_t thread;
    int run_rc;
    os_error run_err;
    int returned;
    struct timespec returned_at;
    seen s;
} scp_fixture;

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void copy(char *dst, size_t cap, const char *src) {
    snprintf(dst, cap, "%s", src ? src : "");
}

/* ---- callbacks ---------------------------------------------------------------------- */

static int check_caller(void *ud, const char *calling_ae, const char *peer_host, char *reason, size_t len) {
    seen *s = &((scp_fixture *)ud)->s;
    pthread_mutex_lock(&s->mu);
    s->checks++;
    copy(s->check_peer, sizeof s->check_peer, peer_host);
    pthread_mutex_unlock(&s->mu);
    if (strcmp(calling_ae, "INTRUDER") == 0) {
        snprintf(reason, len, "calling AE title %s is not configured", calling_ae);
        return -1;
    }
    return 0;
}

static uint16_t on_store(void *ud, const os_dicom_incoming *in, char *reason, size_t len) {
    scp_fixture *f = ud;
    seen *s = &f->s;
    pthread_mutex_lock(&s->mu);
    int n = s->stores++;
    copy(s->calling, sizeof s->calling, in->calling_ae);
    copy(s->called, sizeof s->called, in->called_ae);
    copy(s->peer, sizeof s->peer, in->peer_host);
    copy(s->sop_class, sizeof s->sop_class, in->sop_class_uid);
    copy(s->sop_inst, sizeof s->sop_inst, in->sop_instance_uid);
    s->had_header = in->header != NULL;
    copy(s->ts, sizeof s->ts, in->header ? in->header->transfer_syntax_uid : "");
    copy(s->hdr_sop_inst, sizeof s->hdr_sop_inst, in->header ? in->header->sop_instance_uid : "");
    copy(s->parse_error, sizeof s->parse_error, in->parse_error);
    s->tmp_in_incoming = strncmp(in->tmp_path, f->incoming, strlen(f->incoming)) == 0;
    if (s->block_first && n == 0) {
        s->blocked = 1;
        pthread_cond_broadcast(&s->cv);
        while (!s->release) pthread_cond_wait(&s->cv, &s->mu);
    }
    uint16_t status = s->status;
    if (s->reason) snprintf(reason, len, "%s", s->reason);
    pthread_mutex_unlock(&s->mu);

    if (status == OS_STATUS_SUCCESS) {
        char dst[700];
        snprintf(dst, sizeof dst, "%s/%s.dcm", f->stored, in->sop_instance_uid);
        if (rename(in->tmp_path, dst) != 0) {
            snprintf(reason, len, "rename failed: %s", strerror(errno));
            return OS_STATUS_OUT_OF_RESOURCES;
        }
    } else {
        unlink(in->tmp_path);
    }
    return status;
}

static void on_association(void *ud, int opened, const char *calling_ae, const char *peer_host) {
    (void)calling_ae;
    (void)peer_host;
    seen *s = &((scp_fixture *)ud)->s;
    pthread_mutex_lock(&s->mu);
    if (opened)
        s->opened++;
    else
        s->closed++;
    pthread_mutex_unlock(&s->mu);
}

/* ---- running tools ------------------------------------------------------------------ */

/* Runs a shell command line, its output into `out` (NUL-terminated); returns the exit code. */
static int sh(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int sh(char *out, size_t cap, const char *fmt, ...) {
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char line[4200];
    snprintf(line, sizeof line, "%s 2>&1", cmd);
    FILE *p = popen(line, "r");
    if (!p) return -1;
    size_t n = 0;
    if (out && cap) out[0] = '\0';
    char buf[512];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, p)) > 0) {
        if (out && n + 1 < cap) {
            size_t take = got < cap - 1 - n ? got : cap - 1 - n;
            memcpy(out + n, buf, take);
            n += take;
            out[n] = '\0';
        }
    }
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int have_tool(const char *name) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", name);
    return system(cmd) == 0;
}

static int echo(scp_fixture *f, const char *calling, const char *called, char *out, size_t cap) {
    return sh(out, cap, "echoscu -aet %s -aec %s 127.0.0.1 %d", calling, called, f->port);
}

/* ---- the SCP on its thread ---------------------------------------------------------- */

static void *run_thread(void *arg) {
    scp_fixture *f = arg;
    f->run_rc = os_dicom_scp_run(f->scp, &f->run_err);
    clock_gettime(CLOCK_MONOTONIC, &f->returned_at);
    __atomic_store_n(&f->returned, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static int free_port(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(s, (struct sockaddr *)&a, &len)) {
        if (s >= 0) close(s);
        return -1;
    }
    close(s);
    return ntohs(a.sin_port);
}

static void rm_rf(const char *dir) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
}

static int count_files(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

static os_dicom_scp_config base_config(scp_fixture *f, int max_assoc) {
    os_dicom_scp_config c;
    memset(&c, 0, sizeof c);
    c.ae_title = AE;
    c.port = f->port;
    c.max_associations = max_assoc;
    c.acse_timeout_s = 10;
    c.dimse_timeout_s = 10;
    c.incoming_dir = f->incoming;
    c.accept_all_storage = g_accept_all;
    c.cb.check_caller = check_caller;
    c.cb.on_store = on_store;
    c.cb.on_association = on_association;
    c.cb.ud = f;
    return c;
}

/* Starts the SCP on a free loopback port and waits until it answers C-ECHO. The incoming
 * and stored folders go under `base` when given (one file system, so on_store can rename). */
static scp_fixture *start(int max_assoc, const char *base) {
    scp_fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    pthread_mutex_init(&f->s.mu, NULL);
    pthread_cond_init(&f->s.cv, NULL);
    snprintf(f->dir, sizeof f->dir, "/tmp/os_test_scp_XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->incoming, sizeof f->incoming, "%s/incoming", base ? base : f->dir);
    snprintf(f->stored, sizeof f->stored, "%s/stored", base ? base : f->dir);
    assert_int_equal(mkdir(f->incoming, 0700), 0);
    assert_int_equal(mkdir(f->stored, 0700), 0);

    for (int attempt = 0; attempt < 5; attempt++) {
        f->port = free_port();
        assert_true(f->port > 0);
        os_dicom_scp_config c = base_config(f, max_assoc);
        os_error err = {0};
        int rc = os_dicom_scp_create(&c, &f->scp, &err);
        if (rc != 0) print_error("create: %s\n", err.msg);
        assert_int_equal(rc, 0);
        f->returned = 0;
        assert_int_equal(pthread_create(&f->thread, NULL, run_thread, f), 0);
        double deadline = now_s() + 10;
        while (now_s() < deadline && !__atomic_load_n(&f->returned, __ATOMIC_SEQ_CST)) {
            if (echo(f, SCU_AE, AE, NULL, 0) == 0) return f;
            usleep(50 * 1000);
        }
        pthread_join(f->thread, NULL);
        os_dicom_scp_destroy(f->scp);
        f->scp = NULL;
        if (f->run_rc != -EADDRINUSE) break; /* somebody took the port: try another */
    }
    fail_msg("the SCP did not start: %s", f->run_err.msg);
    return NULL;
}

/* Stops the SCP and returns how long run() took to return. */
static double stop(scp_fixture *f) {
    double t0 = now_s();
    os_dicom_scp_stop(f->scp);
    pthread_join(f->thread, NULL);
    double took = f->returned_at.tv_sec + f->returned_at.tv_nsec / 1e9 - t0;
    assert_int_equal(f->run_rc, 0);
    os_dicom_scp_destroy(f->scp);
    f->scp = NULL;
    return took;
}

static void finish(scp_fixture *f) {
    if (f->scp) stop(f);
    rm_rf(f->dir);
    pthread_mutex_destroy(&f->s.mu);
    pthread_cond_destroy(&f->s.cv);
    free(f);
}

/* A CT slice written by lib/dicom itself: 512×512 int16 is the 512 KB a real one has. */
static void write_ct(const char *path, int rows, int cols, char sop_uid[OS_UID_MAX]) {
    char study[OS_UID_MAX], series[OS_UID_MAX];
    os_dicom_new_uid(study);
    os_dicom_new_uid(series);
    os_dicom_new_uid(sop_uid);
    os_ct_write w;
    memset(&w, 0, sizeof w);
    w.transfer_syntax_uid = OS_TS_EXPLICIT_LE;
    w.patient_name = "Scp^Test";
    w.patient_id = "SCP1";
    w.study_uid = study;
    w.series_uid = series;
    w.sop_uid = sop_uid;
    w.study_date = "20240102";
    w.study_time = "101500";
    w.series_number = 2;
    w.instance_number = 1;
    double o[6] = {1, 0, 0, 0, 1, 0};
    memcpy(w.orientation, o, sizeof o);
    w.pixel_spacing[0] = w.pixel_spacing[1] = 0.7;
    w.slice_thickness = 1;
    w.rows = rows;
    w.cols = cols;
    w.rescale_slope = 1;
    w.rescale_intercept = -1024;
    int16_t *px = calloc((size_t)rows * cols, sizeof *px);
    assert_non_null(px);
    for (int i = 0; i < rows * cols; i++) px[i] = (int16_t)((i * 7) % 2000);
    os_error err = {0};
    int rc = os_dicom_write_ct(&w, px, path, &err);
    free(px);
    if (rc != 0) print_error("write_ct: %s\n", err.msg);
    assert_int_equal(rc, 0);
}

/* Whether the last n bytes of two files are equal. */
static int same_tail(const char *a, const char *b, long n) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = 0;
    if (fa && fb && fseek(fa, -n, SEEK_END) == 0 && fseek(fb, -n, SEEK_END) == 0) {
        char *x = malloc((size_t)n), *y = malloc((size_t)n);
        same = x && y && fread(x, 1, (size_t)n, fa) == (size_t)n && fread(y, 1, (size_t)n, fb) == (size_t)n &&
               memcmp(x, y, (size_t)n) == 0;
        free(x);
        free(y);
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

/* ---- tests -------------------------------------------------------------------------- */

static void test_echo_and_association_callbacks(void **state) {
    (void)state;
    scp_fixture *f = start(4, NULL);
    char out[8192];
    assert_int_equal(echo(f, SCU_AE, AE, out, sizeof out), 0);
    double took = stop(f);
    pthread_mutex_lock(&f->s.mu);
    assert_true(f->s.opened >= 2); /* the start-up probe and this one */
    assert_int_equal(f->s.opened, f->s.closed);
    assert_string_equal(f->s.check_peer, "127.0.0.1");
    pthread_mutex_unlock(&f->s.mu);
    assert_true(took < 3.0);
    finish(f);
}

static void test_store_ct_with_storescu(void **state) {
    (void)state;
    scp_fixture *f = start(4, NULL);
    char ct[400], sop[OS_UID_MAX], out[16384];
    snprintf(ct, sizeof ct, "%s/ct.dcm", f->dir);
    write_ct(ct, 64, 64, sop);
    int rc = sh(out, sizeof out, "storescu -aet %s -aec %s 127.0.0.1 %d '%s'", SCU_AE, AE, f->port, ct);
    if (rc != 0) print_error("%s\n", out);
    assert_int_equal(rc, 0);

    pthread_mutex_lock(&f->s.mu);
    assert_int_equal(f->s.stores, 1);
    assert_string_equal(f->s.calling, SCU_AE);
    assert_string_equal(f->s.called, AE);
    assert_string_equal(f->s.peer, "127.0.0.1");
    assert_string_equal(f->s.sop_class, OS_SOP_CT);
    assert_string_equal(f->s.sop_inst, sop);
    assert_true(f->s.had_header);
    assert_string_equal(f->s.hdr_sop_inst, sop);
    assert_true(f->s.tmp_in_incoming);
    pthread_mutex_unlock(&f->s.mu);

    char dst[700];
    snprintf(dst, sizeof dst, "%s/%s.dcm", f->stored, sop);
    assert_int_equal(access(dst, R_OK), 0);
    assert_int_equal(count_files(f->incoming), 0);
    /* A Part 10 file: 128-byte preamble, "DICM", and a meta header naming the sender. */
    char magic[4] = {0};
    FILE *fp = fopen(dst, "rb");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 128, SEEK_SET), 0);
    assert_int_equal(fread(magic, 1, 4, fp), 4);
    fclose(fp);
    assert_memory_equal(magic, "DICM", 4);
    assert_int_equal(sh(out, sizeof out, "dcmdump -M +P 0002,0016 '%s'", dst), 0);
    assert_non_null(strstr(out, SCU_AE));
    stop(f);
    finish(f);
}

static void test_store_real_j2k_with_dcmsend(void **state) {
    (void)state;
    const char *shared = getenv("OS_SHARED_DIR");
    char dir[600];
    snprintf(dir, sizeof dir, "%s/data/ct-siemens-j2k", shared ? shared : "/work/shared");
    if (count_files(dir) <= 0 || !have_tool("dcmsend")) {
        print_message("skipped: %s or dcmsend is missing\n", dir);
        skip();
    }
    scp_fixture *f = start(4, NULL);
    char out[16384];
    int rc = sh(out, sizeof out, "dcmsend -aet %s -aec %s 127.0.0.1 %d '%s' --scan-directories", SCU_AE, AE,
                f->port, dir);
    if (rc != 0) print_error("%s\n", out);
    assert_int_equal(rc, 0);
    int n = count_files(dir);
    pthread_mutex_lock(&f->s.mu);
    assert_int_equal(f->s.stores, n);
    assert_string_equal(f->s.ts, OS_TS_J2K_LOSSLESS);
    pthread_mutex_unlock(&f->s.mu);
    assert_int_equal(count_files(f->stored), n);
    assert_int_equal(count_files(f->incoming), 0);
    /* Bit-preserving: the tail of the pixel data (J2K fragments) is byte for byte the
     * sender's. */
    DIR *d = opendir(dir);
    struct dirent *e;
    while ((e = readdir(d)) && e->d_name[0] == '.') {
    }
    assert_non_null(e);
    char src[900], got[900], sop[OS_UID_MAX] = "";
    snprintf(src, sizeof src, "%s/%s", dir, e->d_name);
    closedir(d);
    os_dicom_header h;
    os_error err = {0};
    assert_int_equal(os_dicom_read_header(src, &h, &err), 0);
    copy(sop, sizeof sop, h.sop_instance_uid);
    snprintf(got, sizeof got, "%s/%s.dcm", f->stored, sop);
    assert_true(same_tail(src, got, 65536));
    stop(f);
    finish(f);
}

/* A Secondary Capture sent with the study is negotiated and reaches on_store only when
 * accept_all_storage is set. */
static void test_other_storage_classes(void **state) {
    (void)state;
    if (!have_tool("dcmodify")) {
        print_message("skipped: dcmodify is missing\n");
        skip();
    }
    for (int accept = 1; accept >= 0; accept--) {
        g_accept_all = accept;
        scp_fixture *f = start(2, NULL);
        g_accept_all = 1;
        char sc[400], sop[OS_UID_MAX], out[16384];
        snprintf(sc, sizeof sc, "%s/sc.dcm", f->dir);
        write_ct(sc, 16, 16, sop);
        assert_int_equal(sh(out, sizeof out, "dcmodify -nb -m '(0008,0016)=%s' '%s'", UID_SC, sc), 0);
        int rc = sh(out, sizeof out, "storescu -aet %s -aec %s 127.0.0.1 %d '%s'", SCU_AE, AE, f->port, sc);
        pthread_mutex_lock(&f->s.mu);
        if (accept) {
            if (rc != 0) print_error("%s\n", out);
            assert_int_equal(rc, 0);
            assert_int_equal(f->s.stores, 1);
            assert_string_equal(f->s.sop_class, UID_SC);
        } else {
            assert_int_not_equal(rc, 0);
            assert_int_equal(f->s.stores, 0);
        }
        pthread_mutex_unlock(&f->s.mu);
        stop(f);
        finish(f);
    }
}

static void test_unknown_calling_ae_rejected(void **state) {
    (void)state;
    scp_fixture *f = start(4, NULL);
    char out[8192];
    assert_int_not_equal(echo(f, "INTRUDER", AE, out, sizeof out), 0);
    assert_non_null(strstr(out, "Calling AE Title Not Recognized"));
    pthread_mutex_lock(&f->s.mu);
    assert_string_equal(f->s.check_peer, "127.0.0.1");
    pthread_mutex_unlock(&f->s.mu);
    stop(f);
    finish(f);
}

static void test_wrong_called_ae_rejected(void **state) {
    (void)state;
    scp_fixture *f = start(4, NULL);
    char out[8192];
    assert_int_not_equal(echo(f, SCU_AE, "SOMEONE_ELSE", out, sizeof out), 0);
    assert_non_null(strstr(out, "Called AE Title Not Recognized"));
    stop(f);
    finish(f);
}

static void test_failure_status_reaches_scu(void **state) {
    (void)state;
    scp_fixture *f = start(4, NULL);
    f->s.status = OS_STATUS_CANNOT_UNDERSTAND;
    f->s.reason = "not a CT series this node analyses, and this reason is longer than 64 characters";
    static char out[1 << 20];
    char ct[400], sop[OS_UID_MAX];
    snprintf(ct, sizeof ct, "%s/ct.dcm", f->dir);
    write_ct(ct, 32, 32, sop);
    sh(out, sizeof out, "storescu -d -aet %s -aec %s 127.0.0.1 %d '%s'", SCU_AE, AE, f->port, ct);
    if (getenv("OS_TEST_VERBOSE")) print_message("%s\n", out);
    assert_non_null(strstr(out, "0xc000"));
    assert_non_null(strstr(out, "not a CT series this node analyses, and this reason is longer"));
    assert_null(strstr(out, "than 64 characters"));
    assert_int_equal(count_files(f->stored), 0);
    assert_int_equal(count_files(f->incoming), 0);
    stop(f);
    finish(f);
}

/* With one association allowed and it busy, the next is refused at once. */
static void test_full_pool_refuses(void **state) {
    (void)state;
    scp_fixture *f = start(1, NULL);
    char ct[400], sop[OS_UID_MAX], out[8192], cmd[1200];
    snprintf(ct, sizeof ct, "%s/ct.dcm", f->dir);
    write_ct(ct, 32, 32, sop);
    f->s.block_first = 1;
    snprintf(cmd, sizeof cmd, "storescu -aet %s -aec %s 127.0.0.1 %d '%s' >'%s/bg.log' 2>&1", SCU_AE, AE, f->port,
             ct, f->dir);
    pid_t pid;
    char *argv[] = {"sh", "-c", cmd, NULL};
    assert_int_equal(posix_spawnp(&pid, "sh", NULL, NULL, argv, environ), 0);

    pthread_mutex_lock(&f->s.mu);
    while (!f->s.blocked) pthread_cond_wait(&f->s.cv, &f->s.mu);
    pthread_mutex_unlock(&f->s.mu);

    double t0 = now_s();
    assert_int_not_equal(echo(f, SCU_AE, AE, out, sizeof out), 0);
    assert_true(now_s() - t0 < 5.0);
    assert_non_null(strstr(out, "Local Limit Exceeded"));

    pthread_mutex_lock(&f->s.mu);
    f->s.release = 1;
    pthread_cond_broadcast(&f->s.cv);
    pthread_mutex_unlock(&f->s.mu);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    stop(f);
    finish(f);
}

/* Many short associations at once, most of them refused, as a misconfigured modality or a
 * port scanner makes them. DCMTK's own pool deleted a worker from the worker's thread
 * while the listener could still be writing the thread id into it (CI caught the heap
 * corruption once), and never joined the threads it deleted, so each association kept its
 * thread's stack. Both show here: the first under AddressSanitizer or as a crash, the
 * second as the process's address space growing by a stack per association. */
#define STORM_THREADS 4
#define STORM_EACH 40

typedef struct storm_arg {
    int port;
    const char *file;
    int refused, other;
} storm_arg;

static void *storm_thread(void *p) {
    storm_arg *a = p;
    os_scu_peer peer = {.calling_ae = SCU_AE, .called_ae = "NOT_THIS_NODE", .host = "127.0.0.1",
                        .port = a->port, .acse_timeout_s = 10, .dimse_timeout_s = 10};
    const char *paths[1] = {a->file};
    for (int i = 0; i < STORM_EACH; i++) {
        os_scu_result r;
        os_send_class overall;
        os_error err = {0};
        /* Refused for the AE title (permanent), or, when the threads of refusals just
         * answered are still finishing under load, for the association limit (transient). */
        if (os_dicom_send_files(&peer, paths, 1, NULL, &r, &overall, &err) == 0 && overall != OS_SEND_OK &&
            strstr(r.reason, "rejected"))
            a->refused++;
        else {
            a->other++;
            print_message("not refused: %s (%s)\n", r.reason, os_send_class_name(overall));
        }
    }
    return NULL;
}

/* The process's address space in KiB (VmSize), or -1. */
static long vm_size_kib(void) {
    FILE *fp = fopen("/proc/self/status", "r");
    if (!fp) return -1;
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, fp))
        if (sscanf(line, "VmSize: %ld kB", &kib) == 1) break;
    fclose(fp);
    return kib;
}

static void test_refusal_storm(void **state) {
    (void)state;
    scp_fixture *f = start(8, NULL);
    char ct[400], sop[OS_UID_MAX], out[8192];
    snprintf(ct, sizeof ct, "%s/ct.dcm", f->dir);
    write_ct(ct, 16, 16, sop);
    os_dicom_scu_global_init();

    /* glibc gives contending threads arenas of their own, 64 MiB of address space each,
     * more of them under load (ctest -j): one arena from here on keeps the address space
     * a measure of the thread stacks alone. The first storm warms up what stays (cached
     * stacks, the heap); the second must reuse it. */
    mallopt(M_ARENA_MAX, 1);
    long grown_kib = 0;
    for (int round = 0; round < 2; round++) {
        long before = vm_size_kib();
        pthread_t th[STORM_THREADS];
        storm_arg args[STORM_THREADS];
        for (int i = 0; i < STORM_THREADS; i++) {
            args[i] = (storm_arg){.port = f->port, .file = ct};
            assert_int_equal(pthread_create(&th[i], NULL, storm_thread, &args[i]), 0);
        }
        int refused = 0, other = 0;
        for (int i = 0; i < STORM_THREADS; i++) {
            pthread_join(th[i], NULL);
            refused += args[i].refused;
            other += args[i].other;
        }
        grown_kib = vm_size_kib() - before;
        print_message("round %d: %d associations refused, %d otherwise; address space grew %ld KiB\n", round + 1,
                      refused, other, grown_kib);
        assert_int_equal(other, 0);
        assert_int_equal(refused, STORM_THREADS * STORM_EACH);
    }
    /* 160 kept thread stacks would be over a GiB. */
    assert_true(grown_kib < 64 * 1024);

    assert_int_equal(echo(f, SCU_AE, AE, out, sizeof out), 0);
    stop(f);
    finish(f);
}

/* Connections that say nothing (a port scan, a half-open connection, a health check that
 * never closes), more of them than the association limit: DCMTK's ASC_receiveAssociation
 * accepts and then waits for the first PDU on the listener's own thread, so each held every
 * other peer up for the ACSE timeout (10 s here) and a C-ECHO with a 3 s ACSE timeout failed.
 * They take no association slot, and a stop does not wait for them. */
#define SILENT 6

static void test_silent_connections_hold_nobody_up(void **state) {
    (void)state;
    scp_fixture *f = start(2, NULL);
    int silent[SILENT];
    for (int i = 0; i < SILENT; i++) {
        silent[i] = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        assert_int_equal(connect(silent[i], (struct sockaddr *)&a, sizeof a), 0);
    }
    char out[8192];
    int rc = sh(out, sizeof out, "echoscu -ta 3 -aet %s -aec %s 127.0.0.1 %d", SCU_AE, AE, f->port);
    if (rc != 0) print_error("%s\n", out);
    assert_int_equal(rc, 0);
    char ct[400], sop[OS_UID_MAX];
    snprintf(ct, sizeof ct, "%s/ct.dcm", f->dir);
    write_ct(ct, 32, 32, sop);
    rc = sh(out, sizeof out, "storescu -ta 3 -aet %s -aec %s 127.0.0.1 %d '%s'", SCU_AE, AE, f->port, ct);
    if (rc != 0) print_error("%s\n", out);
    assert_int_equal(rc, 0);
    assert_true(stop(f) < 3.0);
    for (int i = 0; i < SILENT; i++) close(silent[i]);
    finish(f);
}

/* A full disk: the SCU gets Out of Resources, nothing is left behind, and the same
 * association still stores the next (small) file. Needs to mount a tmpfs (root). */
/* Fills the file system of `dir` until about `keep` bytes are left. */
static void fill_leaving(const char *dir, long keep) {
    struct statvfs v;
    assert_int_equal(statvfs(dir, &v), 0);
    long fill = (long)(v.f_bavail * v.f_frsize) - keep;
    char path[400];
    snprintf(path, sizeof path, "%s/filler", dir);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    static char zeros[4096];
    for (long done = 0; done < fill; done += (long)sizeof zeros)
        assert_int_equal(fwrite(zeros, 1, sizeof zeros, fp), sizeof zeros);
    assert_int_equal(fclose(fp), 0);
}

static char g_mnt[64]; /* the tmpfs, unmounted by the teardown even when a check fails */

static int unmount_tmpfs(void **state) {
    (void)state;
    if (g_mnt[0]) {
        umount(g_mnt);
        rmdir(g_mnt);
        g_mnt[0] = '\0';
    }
    return 0;
}

static void test_disk_full_answers_out_of_resources(void **state) {
    (void)state;
    char mnt[] = "/tmp/os_test_scp_tmpfs_XXXXXX";
    assert_non_null(mkdtemp(mnt));
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=256k") == 0) {
        snprintf(g_mnt, sizeof g_mnt, "%s", mnt);
    } else {
        print_message("skipped: cannot mount a tmpfs (%s)\n", strerror(errno));
        rmdir(mnt);
        skip();
    }
    scp_fixture *f = start(2, mnt);
    static char out[1 << 20]; /* storescu -d dumps every proposed context */
    char big[400], edge[400], small[400], sop_big[OS_UID_MAX], sop_edge[OS_UID_MAX], sop_small[OS_UID_MAX];
    snprintf(big, sizeof big, "%s/big.dcm", f->dir);
    snprintf(edge, sizeof edge, "%s/edge.dcm", f->dir);
    snprintf(small, sizeof small, "%s/small.dcm", f->dir);
    write_ct(big, 512, 512, sop_big);
    /* 32 KB in one PDV, with 20 KB free: the disk fills during the dataset's last PDV,
     * where DCMTK's own drain would wait for data that never comes. */
    write_ct(edge, 128, 128, sop_edge);
    write_ct(small, 32, 32, sop_small);
    fill_leaving(mnt, 20 * 1024);
    sh(out, sizeof out, "storescu -d -nh -aet %s -aec %s 127.0.0.1 %d '%s' '%s' '%s'", SCU_AE, AE, f->port, big,
       edge, small);
    const char *a700 = strstr(out, "0xa700");
    assert_non_null(a700);
    assert_non_null(strstr(a700 + 6, "0xa700"));
    assert_non_null(strstr(out, "No space left on device"));
    pthread_mutex_lock(&f->s.mu);
    assert_int_equal(f->s.stores, 1); /* only the small one reached on_store */
    assert_string_equal(f->s.sop_inst, sop_small);
    assert_int_equal(f->s.opened, 2);     /* the start-up echo, then one for both files */
    pthread_mutex_unlock(&f->s.mu);
    assert_int_equal(count_files(f->incoming), 0);
    char dst[700];
    snprintf(dst, sizeof dst, "%s/%s.dcm", f->stored, sop_small);
    assert_int_equal(access(dst, R_OK), 0);
    stop(f);
    finish(f);
}

static void test_port_in_use(void **state) {
    (void)state;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof a;
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s, 1), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
    scp_fixture f;
    memset(&f, 0, sizeof f);
    snprintf(f.incoming, sizeof f.incoming, "/tmp");
    f.port = ntohs(a.sin_port);
    os_dicom_scp_config c = base_config(&f, 1);
    os_dicom_scp *scp;
    os_error err = {0};
    assert_int_equal(os_dicom_scp_create(&c, &scp, &err), 0);
    int rc = os_dicom_scp_run(scp, &err);
    assert_int_equal(rc, -EADDRINUSE);
    char want[128];
    snprintf(want, sizeof want, "cannot listen on port %d: Address already in use", f.port);
    assert_string_equal(err.msg, want);
    os_dicom_scp_destroy(scp);
    close(s);
}

static void test_config_errors(void **state) {
    (void)state;
    scp_fixture f;
    memset(&f, 0, sizeof f);
    snprintf(f.incoming, sizeof f.incoming, "/nonexistent/incoming");
    f.port = 11112;
    os_dicom_scp_config c = base_config(&f, 1);
    os_dicom_scp *scp = NULL;
    os_error err = {0};
    assert_int_not_equal(os_dicom_scp_create(&c, &scp, &err), 0);
    assert_null(scp);
    assert_non_null(strstr(err.msg, "/nonexistent/incoming"));
    snprintf(f.incoming, sizeof f.incoming, "/tmp");
    c = base_config(&f, 0);
    assert_int_not_equal(os_dicom_scp_create(&c, &scp, &err), 0);
    assert_non_null(strstr(err.msg, "max_associations"));
}

/* stop() before run() must not leave run() listening forever. */
static void test_stop_before_run(void **state) {
    (void)state;
    scp_fixture f;
    memset(&f, 0, sizeof f);
    snprintf(f.incoming, sizeof f.incoming, "/tmp");
    f.port = free_port();
    os_dicom_scp_config c = base_config(&f, 1);
    os_error err = {0};
    assert_int_equal(os_dicom_scp_create(&c, &f.scp, &err), 0);
    os_dicom_scp_stop(f.scp);
    assert_int_equal(os_dicom_scp_run(f.scp, &err), 0);
    os_dicom_scp_destroy(f.scp);
}

int main(void) {
    os_log_init(getenv("OS_TEST_VERBOSE") ? OS_LOG_DEBUG : OS_LOG_WARNING, 0);
    signal(SIGPIPE, SIG_IGN);
    if (!have_tool("echoscu") || !have_tool("storescu")) {
        print_message("skipped: DCMTK's echoscu/storescu are not installed\n");
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_stop_before_run),
        cmocka_unit_test(test_port_in_use),
        cmocka_unit_test(test_echo_and_association_callbacks),
        cmocka_unit_test(test_store_ct_with_storescu),
        cmocka_unit_test(test_store_real_j2k_with_dcmsend),
        cmocka_unit_test(test_other_storage_classes),
        cmocka_unit_test(test_unknown_calling_ae_rejected),
        cmocka_unit_test(test_wrong_called_ae_rejected),
        cmocka_unit_test(test_failure_status_reaches_scu),
        cmocka_unit_test(test_full_pool_refuses),
        cmocka_unit_test(test_refusal_storm),
        cmocka_unit_test(test_silent_connections_hold_nobody_up),
        cmocka_unit_test_teardown(test_disk_full_answers_out_of_resources, unmount_tmpfs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
