/* `osteoscout selftest`: proves an installed node works end to end, the way a PACS would use it.
 *
 * The node sends results to its configured destinations, never back to whoever sent the
 * study, so the selftest plays one of those destinations: it listens with the AE title and
 * port of [destination selftest] (or --dest NAME), sends a synthetic CT with a known L1
 * compression fracture to the node with lib/dicom's SCU, and waits for the SR and Secondary Capture pages
 * to come back to it. It then checks what arrived — SOP classes, the study, and the SR's
 * numbers against the phantom's truth — and prints one verdict an installer can act on:
 * "PASS: ..." (exit 0) or "FAIL: ... because ..." (exit 1).
 *
 * While it waits it watches the node's database (when this user can read it) so that a
 * failed analysis or a dead delivery ends the wait at once with the node's own reason. */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "cli.h"
#include "osteoscout/dicom.h"
#include "osteoscout/dicom_report.h"
#include "osteoscout/dicom_scu.h"
#include "osteoscout/fs.h"
#include "osteoscout/log.h"
#include "osteoscout/phantom.h"

#define CMD "selftest"
#define SOP_SC "1.2.840.10008.5.1.4.1.1.7"
#define SOP_SR_PREFIX "1.2.840.10008.5.1.4.1.1.88."
#define SOP_COMPREHENSIVE_SR "1.2.840.10008.5.1.4.1.1.88.33"
#define MAX_FILES 32

/* What the phantom holds, and how close the node must come. The phantom is the same every
 * time (a fixed seed; only its UIDs are new) so that a verdict does not depend on luck. */
#define SELFTEST_SEED 1
#define FRACTURE_LEVEL "L1"
#define FRACTURE_KIND OS_PHANTOM_CRUSH
#define FRACTURE_LOSS 0.35
#define TRAB_HU 95.0
#define TOL_HEIGHT_MM 2.0
#define TOL_HU 15.0
#define TOL_AREA_FRACTION 0.10

typedef struct selftest_args {
    const char *dest, *host, *calling_ae, *keep;
    int timeout_s, json, verbose;
    double pixel_mm, spacing_mm;
} selftest_args;

/* ---- the receiver: lib/dicom's SCP in this process ---- */

typedef struct receiver {
    os_dicom_scp *scp;
    pthread_t thread;
    int started;
    atomic_int finished;
    int rc;
    os_error err;
    char node_ae[OS_AE_MAX];
    char dir[4200];
    char study_uid[OS_UID_MAX];
    pthread_mutex_t mu;
    char sr[MAX_FILES][4300], sc[MAX_FILES][4300];
    int n_sr, n_sc, n_other, n_foreign, n_open;
    int settled; /* an association ended after the last file of the study arrived */
} receiver;

static int rx_check_caller(void *ud, const char *calling_ae, const char *peer_host, char *reason, size_t len) {
    receiver *r = ud;
    (void)peer_host;
    if (!strcmp(calling_ae, r->node_ae)) return 0;
    snprintf(reason, len, "the selftest receives only from the node (%s)", r->node_ae);
    return -1;
}

static uint16_t rx_on_store(void *ud, const os_dicom_incoming *in, char *reason, size_t len) {
    receiver *r = ud;
    if (!in->header) {
        unlink(in->tmp_path);
        snprintf(reason, len, "unreadable: %s", in->parse_error ? in->parse_error : "?");
        return OS_STATUS_CANNOT_UNDERSTAND;
    }
    pthread_mutex_lock(&r->mu);
    uint16_t status = OS_STATUS_SUCCESS;
    if (strcmp(in->header->study_uid, r->study_uid) != 0) {
        /* Another study's results (every job's results go to every destination): not ours
         * to judge; acknowledged so that the node does not retry them. */
        unlink(in->tmp_path);
        r->n_foreign++;
    } else {
        int sr = !strncmp(in->header->sop_class_uid, SOP_SR_PREFIX, strlen(SOP_SR_PREFIX));
        int sc = !strcmp(in->header->sop_class_uid, SOP_SC);
        char path[4300];
        snprintf(path, sizeof path, "%s/%s-%s.dcm", r->dir, sr ? "sr" : sc ? "sc" : "other",
                 in->header->sop_instance_uid);
        if (rename(in->tmp_path, path) != 0) {
            snprintf(reason, len, "cannot keep the file: %s", strerror(errno));
            unlink(in->tmp_path);
            status = OS_STATUS_OUT_OF_RESOURCES;
        } else if (sr && r->n_sr < MAX_FILES) {
            snprintf(r->sr[r->n_sr++], sizeof r->sr[0], "%s", path);
        } else if (sc && r->n_sc < MAX_FILES) {
            snprintf(r->sc[r->n_sc++], sizeof r->sc[0], "%s", path);
        } else {
            r->n_other++;
        }
        r->settled = 0;
    }
    pthread_mutex_unlock(&r->mu);
    return status;
}

static void rx_on_association(void *ud, int opened, const char *calling_ae, const char *peer_host) {
    receiver *r = ud;
    (void)calling_ae;
    (void)peer_host;
    pthread_mutex_lock(&r->mu);
    r->n_open += opened ? 1 : -1;
    if (!opened && r->n_sr + r->n_sc > 0) r->settled = 1;
    pthread_mutex_unlock(&r->mu);
}

static void *rx_thread(void *arg) {
    receiver *r = arg;
    r->rc = os_dicom_scp_run(r->scp, &r->err);
    atomic_store(&r->finished, 1);
    return NULL;
}

/* Listens with the destination's AE title on its port; fails when the port is taken. */
static int rx_start(receiver *r, const os_destination *dst, const char *incoming, os_error *err) {
    os_dicom_scp_config sc = {
        .ae_title = dst->ae_title,
        .port = dst->port,
        .max_associations = 4,
        .acse_timeout_s = 30,
        .dimse_timeout_s = 60,
        .incoming_dir = incoming,
        .accept_all_storage = 1,
        .cb = {.check_caller = rx_check_caller, .on_store = rx_on_store, .on_association = rx_on_association, .ud = r},
    };
    int rc = os_dicom_scp_create(&sc, &r->scp, err);
    if (rc != 0) return rc;
    if (pthread_create(&r->thread, NULL, rx_thread, r) != 0)
        return os_error_set(err, -EAGAIN, "cannot start the receiver's thread");
    r->started = 1;
    /* A port that is taken fails at once; give it a moment to say so. */
    for (int i = 0; i < 10 && !atomic_load(&r->finished); i++) usleep(50 * 1000);
    if (atomic_load(&r->finished))
        return os_error_set(err, r->rc ? r->rc : -EADDRINUSE, "cannot listen on port %d: %s", dst->port,
                            r->err.msg[0] ? r->err.msg : "the listener stopped");
    return 0;
}

static void rx_stop(receiver *r) {
    if (r->started) {
        os_dicom_scp_stop(r->scp);
        pthread_join(r->thread, NULL);
        r->started = 0;
    }
    os_dicom_scp_destroy(r->scp);
    r->scp = NULL;
}

/* ---- the verdict ---- */

typedef struct verdict {
    cJSON *checks; /* [{"what", "ok", "detail"}] */
    char because[2048];
    int failed;
} verdict;

static void check(verdict *v, int ok, const char *what, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void check(verdict *v, int ok, const char *what, const char *fmt, ...) {
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "what", what);
    cJSON_AddBoolToObject(c, "ok", ok);
    cJSON_AddStringToObject(c, "detail", detail);
    cJSON_AddItemToArray(v->checks, c);
    if (ok) return;
    v->failed = 1;
    size_t len = strlen(v->because);
    snprintf(v->because + len, sizeof v->because - len, "%s%s", len ? "; " : "", detail);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static int is_loopback(const char *host) {
    return !strcmp(host, "127.0.0.1") || !strcmp(host, "localhost") || !strcmp(host, "::1") ||
           !strncmp(host, "127.", 4);
}

static const cJSON *truth_vertebra(const cJSON *truth, const char *label) {
    const cJSON *v;
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(truth, "vertebrae")) {
        const cJSON *l = cJSON_GetObjectItemCaseSensitive(v, "label");
        if (cJSON_IsString(l) && !strcmp(l->valuestring, label)) return v;
    }
    return NULL;
}

static double jnum(const cJSON *o, const char *key) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(x) ? x->valuedouble : NAN;
}

/* The SR's numbers against the phantom's truth. */
static void check_sr_values(verdict *v, const os_sr_content *sr, const cJSON *truth) {
    const cJSON *tv = truth_vertebra(truth, FRACTURE_LEVEL);
    const char *group = FRACTURE_LEVEL " vertebra";
    const os_sr_num *grade = os_sr_find(sr, group, "VB-GENANT", NULL);
    static const struct {
        const char *modifier, *key, *name;
    } hs[] = {{"255549009", "height_anterior_mm", "anterior"},
              {"255562008", "height_middle_mm", "middle"},
              {"255551008", "height_posterior_mm", "posterior"}};
    int heights_close = 1;
    char heights[160] = "";
    for (size_t i = 0; i < 3; i++) {
        const os_sr_num *h = os_sr_find(sr, group, "121207", hs[i].modifier);
        double want = jnum(tv, hs[i].key);
        if (!h || !(fabs(h->value - want) <= TOL_HEIGHT_MM)) heights_close = 0;
        size_t n = strlen(heights);
        if (h) snprintf(heights + n, sizeof heights - n, "%s%s %.1f mm (truth %.1f)", n ? ", " : "", hs[i].name, h->value, want);
        else snprintf(heights + n, sizeof heights - n, "%s%s missing", n ? ", " : "", hs[i].name);
    }
    int truth_grade = (int)jnum(tv, "genant_grade");
    int found = (grade && grade->value >= 2) || heights_close;
    char g[16] = "none";
    if (grade) snprintf(g, sizeof g, "%.0f", grade->value);
    check(v, found, "fracture",
          found ? "L1 compression fracture found (Genant %s, truth %d; %s)"
                : "the L1 compression fracture was missed (Genant %s, truth %d; %s)",
          g, truth_grade, heights);

    const os_sr_num *hu = os_sr_find(sr, group, "112031", NULL);
    double want_hu = jnum(tv, "trabecular_hu");
    int hu_ok = hu && fabs(hu->value - want_hu) <= TOL_HU;
    if (hu)
        check(v, hu_ok, "trabecular_hu", "L1 trabecular %.0f HU (truth %.0f, tolerance %.0f)", hu->value, want_hu, TOL_HU);
    else
        check(v, 0, "trabecular_hu", "the SR has no L1 trabecular attenuation");

    const os_sr_num *area = os_sr_find(sr, "Skeletal muscle at L3", "42798000", NULL);
    double want_area = jnum(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(truth, "muscle"), "L3"),
                            "area_cm2");
    int area_ok = area && fabs(area->value - want_area) <= TOL_AREA_FRACTION * want_area;
    if (area)
        check(v, area_ok, "muscle_area", "L3 muscle %.1f cm\xC2\xB2 (truth %.1f, tolerance %.0f %%)", area->value,
              want_area, TOL_AREA_FRACTION * 100);
    else
        check(v, 0, "muscle_area", "the SR has no L3 muscle area");
}

static void check_received(verdict *v, receiver *r, const os_destination *dst, const cJSON *truth) {
    int want_sr = (dst->outputs & OS_OUTPUT_SR) != 0, want_sc = (dst->outputs & OS_OUTPUT_SC) != 0;
    if (want_sr) check(v, r->n_sr == 1, "sr_count", "%d SR received (expected 1)", r->n_sr);
    if (want_sc) check(v, r->n_sc >= 1, "sc_count", "%d Secondary Capture page%s received", r->n_sc, r->n_sc == 1 ? "" : "s");
    os_error err;
    for (int i = 0; i < r->n_sc; i++) {
        os_dicom_header h;
        os_error_clear(&err);
        if (os_dicom_read_header(r->sc[i], &h, &err) != 0) {
            check(v, 0, "sc", "SC page %d cannot be read: %s", i + 1, err.msg);
            continue;
        }
        int ok = !strcmp(h.sop_class_uid, SOP_SC) && !strcmp(h.study_uid, r->study_uid) && !strcmp(h.modality, "OT") &&
                 h.pixel_data_ok;
        check(v, ok, "sc", "SC page %d: SOP class %s, modality %s, %s study, %dx%d", i + 1, h.sop_class_uid, h.modality,
              strcmp(h.study_uid, r->study_uid) ? "another" : "the phantom's", h.cols, h.rows);
    }
    for (int i = 0; i < r->n_sr; i++) {
        os_sr_content sr;
        os_error_clear(&err);
        if (os_dicom_read_sr(r->sr[i], &sr, &err) != 0) {
            check(v, 0, "sr", "the SR cannot be read: %s", err.msg);
            continue;
        }
        int ok = !strcmp(sr.sop_class_uid, SOP_COMPREHENSIVE_SR) && !strcmp(sr.study_uid, r->study_uid) &&
                 !strcmp(sr.root_concept, "126000");
        check(v, ok, "sr", "SR: SOP class %s, root concept %s, %s study, %zu measurements", sr.sop_class_uid,
              sr.root_concept, strcmp(sr.study_uid, r->study_uid) ? "another" : "the phantom's", sr.n_nums);
        check_sr_values(v, &sr, truth);
        os_sr_content_free(&sr);
    }
}

/* ---- watching the node's queue (optional) ---- */

typedef struct watch {
    os_store *st;
    char why_not[512];
    char stage[512];  /* what the node is doing with the study, for a timeout's message */
    char fatal[1024]; /* a reason to stop waiting */
} watch;

static void watch_open(watch *w, const os_config *cfg) {
    char path[4096];
    os_config_db_path(cfg, path, sizeof path);
    if (access(path, R_OK | W_OK) != 0) {
        snprintf(w->why_not, sizeof w->why_not, "cannot read the node's database %s: %s", path, strerror(errno));
        return;
    }
    os_error err;
    os_error_clear(&err);
    if (os_store_open(path, cfg->database_busy_timeout_ms, &w->st, &err) != 0) {
        snprintf(w->why_not, sizeof w->why_not, "%s", err.msg);
        w->st = NULL;
    }
}

static void watch_poll(watch *w, const char *study_uid, const char *dest, int verbose) {
    if (!w->st) return;
    os_error err;
    os_error_clear(&err);
    cJSON *jobs = NULL, *rows = NULL;
    if (os_store_jobs_json(w->st, NULL, 200, &jobs, &err) != 0) return;
    const cJSON *job = NULL, *j;
    cJSON_ArrayForEach(j, jobs) {
        if (!strcmp(cli_str(j, "study_uid"), study_uid)) {
            job = j;
            break;
        }
    }
    char stage[512];
    if (!job) {
        snprintf(stage, sizeof stage, "the node has not queued a job for the study yet (it waits [series] quiet_seconds "
                                      "after the last slice)");
    } else {
        long long id = (long long)cli_num(job, "id");
        const char *state = cli_str(job, "state");
        snprintf(stage, sizeof stage, "job %lld is %s", id, state);
        if (!strcmp(state, "failed") || !strcmp(state, "cancelled"))
            snprintf(w->fatal, sizeof w->fatal, "the node's job %lld %s: %s", id, state,
                     cli_str(job, "error")[0] ? cli_str(job, "error") : "no reason recorded");
        if (!strcmp(state, "done") && os_store_outbound_json(w->st, NULL, 500, &rows, &err) == 0) {
            int pending = 0, sent = 0, dead = 0;
            const char *last_error = "";
            const cJSON *r;
            cJSON_ArrayForEach(r, rows) {
                if ((long long)cli_num(r, "job_id") != id || strcmp(cli_str(r, "destination"), dest) != 0) continue;
                const char *s = cli_str(r, "state");
                pending += !strcmp(s, "pending");
                sent += !strcmp(s, "sent");
                dead += !strcmp(s, "dead");
                if (cli_str(r, "last_error")[0]) last_error = cli_str(r, "last_error");
            }
            if (pending + sent + dead == 0)
                snprintf(stage, sizeof stage, "job %lld is done but queued nothing for [destination %s] (is the daemon "
                                              "running with this configuration?)", id, dest);
            else
                snprintf(stage, sizeof stage, "job %lld is done; to [destination %s]: %d sent, %d pending, %d dead%s%s",
                         id, dest, sent, pending, dead, last_error[0] ? "; last error: " : "", last_error);
            if (dead)
                snprintf(w->fatal, sizeof w->fatal, "the node gave up delivering to [destination %s]: %s", dest,
                         last_error[0] ? last_error : "no reason recorded");
        }
    }
    if (verbose && strcmp(stage, w->stage) != 0) fprintf(stderr, "selftest: %s\n", stage);
    snprintf(w->stage, sizeof w->stage, "%s", stage);
    cJSON_Delete(jobs);
    cJSON_Delete(rows);
}

/* ---- the command ---- */

static void usage(FILE *f) {
    fprintf(f,
            "usage: osteoscout selftest [--dest NAME] [--host HOST] [--timeout S] [--calling-ae AE]\n"
            "         [--pixel MM] [--spacing MM] [--keep DIR] [--verbose] [--json]\n"
            "  Sends a synthetic CT with a known L1 fracture to the running node ([node] ae_title\n"
            "  and port, at HOST, default 127.0.0.1) and receives its results as [destination NAME]\n"
            "  (default: selftest) would: it listens on that destination's port with its AE title,\n"
            "  so run it on the destination's host. Checks the SR and Secondary Capture pages and the\n"
            "  SR's numbers against the phantom's truth (L1 fracture: Genant >= 2 or heights within\n"
            "  2 mm; L1 trabecular HU within 15; L3 muscle area within 10 %%).\n"
            "  --timeout S     give up after S seconds (default 300)\n"
            "  --calling-ae AE the AE title it sends as (default OSSELFTEST; must be an allowed caller)\n"
            "  --pixel MM      phantom pixel size (default 1.5)\n"
            "  --spacing MM    phantom slice spacing and thickness (default 2)\n"
            "  --keep DIR      keep the phantom and what was received in DIR\n"
            "  --verbose       say what the node is doing while waiting\n"
            "exit status: 0 PASS, 1 FAIL, 2 usage\n");
}

static int parse_args(int argc, char **argv, selftest_args *a) {
    static const struct option opts[] = {
        {"dest", required_argument, 0, 'd'},   {"host", required_argument, 0, 'H'},
        {"timeout", required_argument, 0, 't'}, {"calling-ae", required_argument, 0, 'a'},
        {"pixel", required_argument, 0, 'p'},   {"spacing", required_argument, 0, 's'},
        {"keep", required_argument, 0, 'k'},    {"verbose", no_argument, 0, 'v'},
        {"json", no_argument, 0, 'j'},          {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    *a = (selftest_args){.dest = "selftest", .host = "127.0.0.1", .calling_ae = "OSSELFTEST", .timeout_s = 300,
                         .pixel_mm = 1.5, .spacing_mm = 2.0};
    optind = 1;
    opterr = 0;
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': a->dest = optarg; break;
        case 'H': a->host = optarg; break;
        case 'a':
            if (!*optarg || strlen(optarg) > 16) return cli_bad_usage(CMD, "--calling-ae needs 1 to 16 characters");
            a->calling_ae = optarg;
            break;
        case 't': {
            long v = strtol(optarg, &end, 10);
            if (end == optarg || *end || v < 1 || v > 86400)
                return cli_bad_usage(CMD, "--timeout needs seconds from 1 to 86400, not '%s'", optarg);
            a->timeout_s = (int)v;
            break;
        }
        case 'p':
        case 's': {
            double v = strtod(optarg, &end);
            if (end == optarg || *end || !(v >= 0.3 && v <= 5))
                return cli_bad_usage(CMD, "--%s needs millimetres from 0.3 to 5, not '%s'", c == 'p' ? "pixel" : "spacing",
                                     optarg);
            if (c == 'p') a->pixel_mm = v;
            else a->spacing_mm = v;
            break;
        }
        case 'k': a->keep = optarg; break;
        case 'v': a->verbose = 1; break;
        case 'j': a->json = 1; break;
        case 'h': usage(stdout); return 0;
        case ':': return cli_bad_usage(CMD, "%s needs a value", argv[optind - 1]);
        default: return cli_bad_usage(CMD, "unknown option %s", argv[optind - 1]);
        }
    }
    if (optind < argc) return cli_bad_usage(CMD, "takes no arguments ('%s')", argv[optind]);
    return -1;
}

static int print_verdict(const selftest_args *a, verdict *v, const char *pass_line, const char *stage,
                         const char *study_uid, double seconds, const receiver *r) {
    char line[4096];
    if (v->failed) snprintf(line, sizeof line, "FAIL: %s because %s", stage, v->because);
    else snprintf(line, sizeof line, "PASS: %s", pass_line);
    if (a->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "verdict", v->failed ? "fail" : "pass");
        cJSON_AddStringToObject(j, "message", line);
        cJSON_AddStringToObject(j, "study_uid", study_uid);
        cJSON_AddNumberToObject(j, "seconds", round(seconds * 10) / 10);
        cJSON *rx = cJSON_AddObjectToObject(j, "received");
        cJSON_AddNumberToObject(rx, "sr", r ? r->n_sr : 0);
        cJSON_AddNumberToObject(rx, "sc", r ? r->n_sc : 0);
        cJSON_AddNumberToObject(rx, "other_studies", r ? r->n_foreign : 0);
        cJSON_AddItemReferenceToObject(j, "checks", v->checks);
        cli_print_json(j);
        cJSON_Delete(j);
    } else {
        puts(line);
    }
    return v->failed ? 1 : 0;
}

int cmd_selftest(int argc, char **argv, const os_config *cfg) {
    selftest_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) return rc;
    os_log_init(a.verbose ? OS_LOG_NOTICE : OS_LOG_WARNING, 0);

    verdict v = {.checks = cJSON_CreateArray()};
    receiver *r = calloc(1, sizeof *r);
    watch w = {0};
    char work[4096] = "", phantom_dir[4200], incoming[4200], study_uid[OS_UID_MAX] = "";
    char stage[256] = "the selftest could not start", pass_line[1024] = "";
    double t0 = now_s();
    cJSON *truth = NULL;
    char **paths = NULL;
    size_t n_paths = 0;
    os_error err;
    os_error_clear(&err);
    if (!r || !v.checks) return cli_fail("out of memory");
    pthread_mutex_init(&r->mu, NULL);

    /* 1. The destination the node will send to, which this process is about to play. */
    const os_destination *dst = os_config_destination(cfg, a.dest);
    if (!dst) {
        check(&v, 0, "destination",
              "there is no [destination %s] in %s (enable the commented [destination selftest] of the shipped "
              "configuration, restart osteoscoutd, and run the selftest again)",
              a.dest, cfg->path[0] ? cfg->path : "the configuration");
        goto done;
    }
    if (!is_loopback(dst->host))
        fprintf(stderr, "osteoscout: note: [destination %s] sends to %s; this selftest listens on port %d of this "
                        "machine, so run it there\n", a.dest, dst->host, dst->port);
    if (dst->tls) {
        check(&v, 0, "destination", "[destination %s] uses TLS, which the selftest's receiver does not speak", a.dest);
        goto done;
    }
    for (int i = 0; i < cfg->n_destinations; i++)
        if (strcmp(cfg->destinations[i].name, a.dest) != 0)
            fprintf(stderr, "osteoscout: note: the node also sends this synthetic study's results to [destination %s]\n",
                    cfg->destinations[i].name);
    if (is_loopback(a.host) && !os_config_caller_allowed(cfg, a.calling_ae, "127.0.0.1")) {
        check(&v, 0, "caller", "the node does not accept calling AE %s from 127.0.0.1 (add it to [node] allowed_callers "
                               "or pass --calling-ae)", a.calling_ae);
        goto done;
    }

    /* 2. A synthetic CT with a known fracture, in a folder of its own. */
    if (a.keep) {
        snprintf(work, sizeof work, "%s", a.keep);
        if (os_fs_mkdirs(work, 0700, &err) != 0) {
            check(&v, 0, "workdir", "%s", err.msg);
            goto done;
        }
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(work, sizeof work, "%s/osteoscout-selftest.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(work)) {
            check(&v, 0, "workdir", "cannot make a temporary folder %s: %s", work, strerror(errno));
            work[0] = '\0';
            goto done;
        }
    }
    snprintf(phantom_dir, sizeof phantom_dir, "%s/phantom", work);
    snprintf(incoming, sizeof incoming, "%s/incoming", work);
    snprintf(r->dir, sizeof r->dir, "%s/received", work);
    if (os_fs_mkdirs(incoming, 0700, &err) != 0 || os_fs_mkdirs(r->dir, 0700, &err) != 0) {
        check(&v, 0, "workdir", "%s", err.msg);
        goto done;
    }
    snprintf(stage, sizeof stage, "the synthetic CT could not be made");
    os_phantom_opts po;
    os_phantom_defaults(&po);
    po.seed = SELFTEST_SEED;
    po.pixel_mm = a.pixel_mm;
    po.rows = po.cols = (int)lround(384.0 / a.pixel_mm); /* the default 384 mm field of view */
    po.slice_spacing_mm = po.slice_thickness_mm = a.spacing_mm;
    int l1 = os_phantom_level_parse(FRACTURE_LEVEL);
    po.deformity[l1] = FRACTURE_KIND;
    po.height_loss[l1] = FRACTURE_LOSS;
    po.trab_hu[l1] = TRAB_HU;
    os_dicom_new_uid(study_uid);
    po.study_uid = study_uid;
    snprintf(r->study_uid, sizeof r->study_uid, "%s", study_uid);
    snprintf(r->node_ae, sizeof r->node_ae, "%s", cfg->node_ae_title);
    if (os_phantom_write_series(&po, phantom_dir, &err) != 0) {
        check(&v, 0, "phantom", "%s", err.msg);
        goto done;
    }
    char truth_path[4300];
    snprintf(truth_path, sizeof truth_path, "%s/truth.json", phantom_dir);
    char *text = NULL;
    size_t len = 0;
    if (os_fs_read_all(truth_path, &text, &len, &err) != 0 || !(truth = cJSON_Parse(text))) {
        free(text);
        check(&v, 0, "phantom", "cannot read %s", truth_path);
        goto done;
    }
    free(text);
    const cJSON *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(truth, "files")) n_paths++;
    paths = calloc(n_paths ? n_paths : 1, sizeof *paths);
    size_t k = 0;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(truth, "files")) {
        char p[4400];
        snprintf(p, sizeof p, "%s/%s", phantom_dir, cli_str(f, "file"));
        paths[k++] = strdup(p);
    }

    /* 3. Listen as the destination, then send the CT to the node. */
    snprintf(stage, sizeof stage, "the selftest could not receive as [destination %s]", a.dest);
    if (rx_start(r, dst, incoming, &err) != 0) {
        check(&v, 0, "listen", "%s (is another selftest or a PACS using it?)", err.msg);
        goto done;
    }
    snprintf(stage, sizeof stage, "the node at %s:%d (AE %s) did not take the synthetic CT", a.host, cfg->node_port,
             cfg->node_ae_title);
    os_dicom_scu_global_init();
    os_scu_peer peer = {.calling_ae = a.calling_ae,
                        .called_ae = cfg->node_ae_title,
                        .host = a.host,
                        .port = cfg->node_port,
                        .acse_timeout_s = 30,
                        .dimse_timeout_s = 60};
    os_scu_result *res = calloc(n_paths ? n_paths : 1, sizeof *res);
    os_send_class overall = OS_SEND_PERMANENT;
    rc = res ? os_dicom_send_files(&peer, (const char *const *)paths, n_paths, NULL, res, &overall, &err) : -ENOMEM;
    if (rc != 0 || overall != OS_SEND_OK) {
        const char *why = rc != 0 ? err.msg : "";
        for (size_t i = 0; rc == 0 && i < n_paths && !why[0]; i++)
            if (res[i].cls != OS_SEND_OK) why = res[i].reason;
        check(&v, 0, "send", "%s", why[0] ? why : "the send failed");
        free(res);
        goto done;
    }
    free(res);
    check(&v, 1, "send", "%zu CT slices stored by the node", n_paths);
    if (!a.json)
        fprintf(stderr, "osteoscout: selftest: sent %zu synthetic CT slices to %s@%s:%d; waiting up to %d s for the "
                        "results on port %d\n", n_paths, cfg->node_ae_title, a.host, cfg->node_port, a.timeout_s,
                dst->port);

    /* 4. Wait for the results, watching the node's queue when possible. */
    watch_open(&w, cfg);
    if (!w.st && a.verbose) fprintf(stderr, "selftest: not watching the node's queue: %s\n", w.why_not);
    int want_sr = (dst->outputs & OS_OUTPUT_SR) != 0, want_sc = (dst->outputs & OS_OUTPUT_SC) != 0;
    double last_poll = 0;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        int complete = (!want_sr || r->n_sr > 0) && (!want_sc || r->n_sc > 0) && r->settled && r->n_open == 0;
        pthread_mutex_unlock(&r->mu);
        if (complete) break;
        double t = now_s();
        if (atomic_load(&r->finished)) {
            snprintf(stage, sizeof stage, "the selftest's receiver stopped");
            check(&v, 0, "listen", "%s", r->err.msg[0] ? r->err.msg : "unexpectedly");
            goto done;
        }
        if (t - last_poll >= 1.0) {
            last_poll = t;
            watch_poll(&w, study_uid, a.dest, a.verbose);
            if (w.fatal[0]) {
                snprintf(stage, sizeof stage, "no results came back");
                check(&v, 0, "node", "%s", w.fatal);
                goto done;
            }
        }
        if (t - t0 > a.timeout_s) {
            snprintf(stage, sizeof stage, "no complete results within %d s", a.timeout_s);
            check(&v, 0, "timeout", "%d SR and %d SC received; %s", r->n_sr, r->n_sc,
                  w.stage[0] ? w.stage : w.st ? "the node shows no job for the study" : w.why_not);
            goto done;
        }
        usleep(200 * 1000);
    }

    /* 5. What arrived. */
    snprintf(stage, sizeof stage, "the results that came back are wrong");
    check_received(&v, r, dst, truth);
    {
        /* The pass line: what was proven, with the key figures. */
        char figures[1024] = "";
        const cJSON *c;
        cJSON_ArrayForEach(c, v.checks) {
            const char *what = cli_str(c, "what");
            if (strcmp(what, "fracture") && strcmp(what, "trabecular_hu") && strcmp(what, "muscle_area")) continue;
            size_t n = strlen(figures);
            snprintf(figures + n, sizeof figures - n, "%s%s", n ? "; " : "", cli_str(c, "detail"));
        }
        snprintf(pass_line, sizeof pass_line,
                 "node %s at %s:%d analysed a synthetic CT (%zu slices) and delivered %d SR and %d Secondary Capture "
                 "page%s to [destination %s] in %.0f s; %s",
                 cfg->node_ae_title, a.host, cfg->node_port, n_paths, r->n_sr, r->n_sc, r->n_sc == 1 ? "" : "s", a.dest,
                 now_s() - t0, figures);
    }

done:;
    double seconds = now_s() - t0;
    if (r->scp) rx_stop(r);
    if (w.st) os_store_close(w.st);
    rc = print_verdict(&a, &v, pass_line, stage, study_uid, seconds, r);
    if (rc == 0 && r->n_foreign && !a.json)
        fprintf(stderr, "osteoscout: note: results of %d object%s of other studies also arrived and were dropped\n",
                r->n_foreign, r->n_foreign == 1 ? "" : "s");
    if (work[0] && !a.keep) nftw(work, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    else if (work[0] && !a.json) fprintf(stderr, "osteoscout: selftest files kept in %s\n", work);
    for (size_t i = 0; i < n_paths; i++) free(paths[i]);
    free(paths);
    cJSON_Delete(truth);
    cJSON_Delete(v.checks);
    pthread_mutex_destroy(&r->mu);
    free(r);
    return rc;
}
