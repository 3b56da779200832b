/* lib/dicom's C-STORE SCU: sends a list of files to one PACS in one association and says,
 * per file and overall, whether it worked, whether trying again later may help
 * (transient) or not (permanent). It knows no queue: the daemon's sender decides what a
 * classification means for the outbound rows. */
#ifndef OSTEOSCOUT_DICOM_SCU_H
#define OSTEOSCOUT_DICOM_SCU_H

#include <stddef.h>
#include "osteoscout/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum os_send_class {
    OS_SEND_OK = 0,        /* stored (success, or a warning status) */
    OS_SEND_TRANSIENT = 1, /* no connection, timeout, abort, transient reject, 0xA7xx, 0x0110, ... */
    OS_SEND_PERMANENT = 2, /* permanent reject, SOP class refused, 0xA9xx, 0xCxxx, 0x0122, bad file */
    OS_SEND_ABANDONED = 3  /* not tried: the caller asked to stop */
} os_send_class;

typedef struct os_scu_peer {
    const char *calling_ae; /* the node's AE title */
    const char *called_ae;
    const char *host;
    int port;
    int acse_timeout_s;  /* connect and association negotiation; 0: 30 */
    int dimse_timeout_s; /* each C-STORE response; 0: 60 */
    int tls;             /* 1: TLS with the BCP 195 profile */
    const char *tls_ca_file;   /* PEM; when set the peer's certificate must chain to it */
    const char *tls_cert_file; /* PEM; our certificate (with tls_key_file) */
    const char *tls_key_file;
} os_scu_peer;

#define OS_SCU_REASON_MAX 256

typedef struct os_scu_result {
    os_send_class cls;
    int status; /* DIMSE status of the C-STORE response, or -1 when none came */
    char reason[OS_SCU_REASON_MAX];
} os_scu_result;

/* The class of a C-STORE response status: success and warnings (0x0000, 0x0001,
 * 0xBxxx) are OK; 0xA7xx, 0x0110, 0x0210, 0x0213 and unknown failures transient;
 * 0xA9xx, 0xCxxx and the other 0x01xx/0x02xx failures (0x0122, 0x0124, ...) permanent. */
os_send_class os_dicom_store_status_class(int status);

/* Sends paths[0..n) to the peer in one association: one presentation context per
 * distinct (SOP class, transfer syntax) of the files, proposing the file's own transfer
 * syntax plus explicit and implicit VR little endian. results[i] gets file i's outcome.
 * *cancel (may be NULL) is read between files: once set, the association is released
 * and the files not yet sent are OS_SEND_ABANDONED. *overall gets OK when every file is
 * OK, else the class of the first file that is not. Returns 0 when the outcome is in
 * results (even when nothing could be sent); negative only for bad arguments or out of
 * memory. Thread-safe: each call has its own network and association. */
int os_dicom_send_files(const os_scu_peer *peer, const char *const *paths, size_t n, const volatile int *cancel,
                        os_scu_result *results, os_send_class *overall, os_error *err);

/* Process-wide settings the SCU needs (TCP_NODELAY=1 unless set, no reverse DNS); call
 * once from the main thread before any send, as setenv is not thread-safe. */
void os_dicom_scu_global_init(void);

/* Checks a TLS setup (files readable, key matches certificate) so a bad one stops
 * start-up instead of failing every send. 0 when fine or tls is off. */
int os_dicom_scu_check_tls(const os_scu_peer *peer, os_error *err);

const char *os_send_class_name(os_send_class c); /* "ok", "transient", "permanent", "abandoned" */

#ifdef __cplusplus
}
#endif
#endif
