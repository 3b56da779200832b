/* The listener: DCMTK's SCP pool (lib/dicom) on its own thread, and the decision for each
 * received instance. Success is answered only after the file is fsync'd into the spool and
 * its row is committed; every refusal names its reason in the C-STORE Error Comment. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "osteoscout/fs.h"
#include "osteoscout/log.h"

static int is_ct_class(const char *sop_class) {
    return !strcmp(sop_class, OS_SOP_CT) || !strcmp(sop_class, OS_SOP_ENHANCED_CT);
}

/* The SCP logs each refusal with its status and reason; here it is only counted. */
static uint16_t refuse(os_daemon *d, const os_dicom_incoming *in, uint16_t status, char *reason,
                       size_t len, const char *fmt, const char *detail) {
    snprintf(reason, len, fmt, detail);
    unlink(in->tmp_path);
    atomic_fetch_add(&d->n_refused, 1);
    return status;
}

/* Parse errors start with the temporary file's path, which means nothing to the sender and
 * would eat the 64 characters an Error Comment has. */
static const char *without_path(const char *msg, const char *path) {
    size_t n = strlen(path);
    if (msg && strncmp(msg, path, n) == 0 && msg[n] == ':') return msg + n + (msg[n + 1] == ' ' ? 2 : 1);
    return msg;
}

static void record_from_header(const os_dicom_incoming *in, const char *path, int64_t bytes,
                               os_instance_rec *rec) {
    const os_dicom_header *h = in->header;
    memset(rec, 0, sizeof *rec);
    rec->sop_uid = h->sop_instance_uid;
    rec->sop_class_uid = h->sop_class_uid;
    rec->series_uid = h->series_uid;
    rec->study_uid = h->study_uid;
    rec->path = path;
    rec->bytes = bytes;
    rec->transfer_syntax = h->transfer_syntax_uid;
    rec->calling_ae = in->calling_ae;
    rec->modality = h->modality;
    rec->series_description = h->series_description;
    rec->convolution_kernel = h->convolution_kernel;
    rec->image_type = h->image_type;
    rec->series_number = h->series_number;
    rec->instance_number = h->instance_number;
    rec->has_orientation = h->has_orientation;
    memcpy(rec->orientation, h->orientation, sizeof rec->orientation);
    rec->has_position = h->has_position;
    memcpy(rec->position, h->position, sizeof rec->position);
    memcpy(rec->position_last, h->position_last, sizeof rec->position_last);
    rec->slice_thickness = h->slice_thickness;
    rec->rows = h->rows;
    rec->cols = h->cols;
    rec->frames = h->frames;
    rec->received_at = os_now();
}

static uint16_t on_store(void *ud, const os_dicom_incoming *in, char *reason, size_t len) {
    os_daemon *d = ud;
    const os_dicom_header *h = in->header;
    if (!h) return refuse(d, in, OS_STATUS_CANNOT_UNDERSTAND, reason, len, "unreadable dataset: %s",
                          in->parse_error ? without_path(in->parse_error, in->tmp_path) : "parse failed");
    if (!h->sop_instance_uid[0] || !h->study_uid[0] || !h->series_uid[0])
        return refuse(d, in, OS_STATUS_CANNOT_UNDERSTAND, reason, len, "%s",
                      !h->sop_instance_uid[0] ? "empty SOP Instance UID"
                      : !h->study_uid[0]      ? "empty Study Instance UID"
                                              : "empty Series Instance UID");
    if (strcmp(h->sop_class_uid, in->sop_class_uid) != 0)
        return refuse(d, in, OS_STATUS_DATASET_MISMATCH, reason, len,
                      "dataset SOP Class %s differs from the C-STORE request", h->sop_class_uid);
    if (strcmp(h->sop_instance_uid, in->sop_instance_uid) != 0)
        return refuse(d, in, OS_STATUS_DATASET_MISMATCH, reason, len, "%s",
                      "dataset SOP Instance UID differs from the C-STORE request");

    if (!is_ct_class(h->sop_class_uid)) {
        if (d->cfg.node_other_objects == OS_OTHER_REJECT)
            return refuse(d, in, OS_STATUS_SOP_CLASS_NOT_SUPPORTED, reason, len,
                          "SOP Class %s refused: this node keeps CT images only", h->sop_class_uid);
        unlink(in->tmp_path);
        atomic_fetch_add(&d->n_discarded, 1);
        os_log(OS_LOG_DEBUG, "listener", "discarded non-CT object sop_class=%s", h->sop_class_uid);
        return OS_STATUS_SUCCESS;
    }
    if (!h->pixel_data_ok)
        return refuse(d, in, OS_STATUS_CANNOT_UNDERSTAND, reason, len, "%s",
                      "Pixel Data missing or incomplete");

    os_error err = {0};
    int exists = 0;
    int rc = os_store_instance_exists(d->listener_store, h->sop_instance_uid, &exists, &err);
    if (rc != 0)
        return refuse(d, in, OS_STATUS_OUT_OF_RESOURCES, reason, len, "database unavailable: %s", err.msg);
    if (exists) {
        /* A re-send of what we already hold: the stored copy stays, the answer is the same. */
        unlink(in->tmp_path);
        atomic_fetch_add(&d->n_duplicates, 1);
        return OS_STATUS_SUCCESS;
    }

    uint64_t free_bytes = 0;
    if (os_fs_free_bytes(d->spool_dir, &free_bytes, NULL) == 0 &&
        free_bytes < (uint64_t)d->cfg.node_min_free_mb * 1024 * 1024) {
        char detail[64];
        snprintf(detail, sizeof detail, "%llu", (unsigned long long)(free_bytes >> 20));
        return refuse(d, in, OS_STATUS_OUT_OF_RESOURCES, reason, len,
                      "disk nearly full: %s MB free, below node.min_free_mb", detail);
    }

    char final_path[OS_PATH_MAX];
    struct stat st;
    int64_t bytes = stat(in->tmp_path, &st) == 0 ? (int64_t)st.st_size : 0;
    rc = os_spool_instance_path(d->spool_dir, h->study_uid, h->series_uid, h->sop_instance_uid,
                                final_path, sizeof final_path, &err);
    if (rc == 0) rc = os_spool_commit(in->tmp_path, final_path, &err);
    if (rc != 0)
        return refuse(d, in, OS_STATUS_OUT_OF_RESOURCES, reason, len, "cannot store: %s", err.msg);

    os_instance_rec rec;
    record_from_header(in, final_path, bytes, &rec);
    int was_new = 0;
    rc = os_store_add_instance(d->listener_store, &rec, &was_new, &err);
    if (rc != 0) {
        /* Not recorded means not acknowledged: the file must not outlive the refusal. */
        if (unlink(final_path) == 0) os_fs_fsync_parent(final_path, NULL);
        return refuse(d, in, OS_STATUS_OUT_OF_RESOURCES, reason, len,
                      rc == OS_STORE_BUSY ? "database busy: %s" : "cannot record: %s", err.msg);
    }
    atomic_fetch_add(&d->n_stored, 1);
    char uid[OS_LOG_UID_MAX];
    os_log(OS_LOG_DEBUG, "listener", "stored sop=%s bytes=%lld", os_log_uid(h->sop_instance_uid, uid),
           (long long)bytes);
    return OS_STATUS_SUCCESS;
}

static int check_caller(void *ud, const char *calling_ae, const char *peer_host, char *reason,
                        size_t len) {
    os_daemon *d = ud;
    if (d->draining) {
        snprintf(reason, len, "node is shutting down");
        return -1;
    }
    if (os_config_caller_allowed(&d->cfg, calling_ae, peer_host)) return 0;
    snprintf(reason, len, "calling AE title \"%s\" from %s is not in node.allowed_callers", calling_ae,
             peer_host ? peer_host : "?");
    return -1;
}

static void scp_thread_main(void *arg) {
    os_daemon *d = arg;
    d->scp_rc = os_dicom_scp_run(d->scp, &d->scp_err);
    uv_async_send(&d->scp_finished);
}

static void on_scp_finished(uv_async_t *h) {
    os_daemon *d = h->data;
    uv_thread_join(&d->scp_thread);
    d->scp_started = 0;
    if (d->scp_rc != 0) {
        os_log(OS_LOG_ERROR, "listener", "stopped: %s", d->scp_err.msg);
        d->exit_code = 1;
        if (!d->draining) {
            /* Without a listener the node is useless: stop so systemd restarts it. */
            d->draining = 1;
            os_workers_drain(d);
        }
    } else {
        os_log(OS_LOG_INFO, "listener", "stopped accepting associations");
    }
    uv_close((uv_handle_t *)&d->scp_finished, NULL);
    os_daemon_maybe_finish(d);
}

/* DCMTK binds inside its blocking loop, so a port already in use would only show up on
 * that thread; probing first turns it into a start-up error with a clear sentence. */
static int probe_port(int port, os_error *err) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return os_error_set(err, -errno, "cannot create a socket: %s", strerror(errno));
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_ANY)};
    int rc = bind(fd, (struct sockaddr *)&a, sizeof a);
    int e = errno;
    close(fd);
    if (rc != 0) return os_error_set(err, -e, "cannot listen on port %d: %s", port, strerror(e));
    return 0;
}

int os_listener_start(os_daemon *d, os_error *err) {
    int rc = os_store_open(d->db_path, d->cfg.database_busy_timeout_ms, &d->listener_store, err);
    if (rc != 0) return rc;
    rc = probe_port(d->cfg.node_port, err);
    if (rc != 0) return rc;

    char incoming[OS_PATH_MAX];
    snprintf(incoming, sizeof incoming, "%s/.incoming", d->spool_dir);
    os_dicom_scp_config sc = {
        .ae_title = d->cfg.node_ae_title,
        .port = d->cfg.node_port,
        .max_associations = d->cfg.node_max_associations,
        .acse_timeout_s = d->cfg.node_acse_timeout_s,
        .dimse_timeout_s = d->cfg.node_dimse_timeout_s,
        .incoming_dir = incoming,
        .accept_all_storage = 1,
        .cb = {.check_caller = check_caller, .on_store = on_store, .ud = d},
    };
    rc = os_dicom_scp_create(&sc, &d->scp, err);
    if (rc != 0) return rc;
    uv_async_init(d->loop, &d->scp_finished, on_scp_finished);
    d->scp_finished.data = d;
    if (uv_thread_create(&d->scp_thread, scp_thread_main, d) != 0)
        return os_error_set(err, -EAGAIN, "cannot start the listener thread");
    d->scp_started = 1;
    os_log(OS_LOG_NOTICE, "listener", "listening ae_title=%s port=%d max_associations=%d other_objects=%s",
           d->cfg.node_ae_title, d->cfg.node_port, d->cfg.node_max_associations,
           d->cfg.node_other_objects == OS_OTHER_REJECT ? "reject" : "discard");
    return 0;
}

void os_listener_stop(os_daemon *d) {
    if (d->scp_started) os_dicom_scp_stop(d->scp);
}
