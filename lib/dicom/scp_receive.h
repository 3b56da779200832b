/* lib/dicom internal (C++ only, never included from C): receives the dataset of one
 * C-STORE request from the network into a new file in the incoming folder, bit for
 * bit, behind a file meta header. Used by the SCP in scp.cc. */
#ifndef OS_DICOM_SCP_RECEIVE_H
#define OS_DICOM_SCP_RECEIVE_H

#ifndef __cplusplus
#error "scp_receive.h is C++ only"
#endif

#include <string>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmnet/assoc.h"
#include "dcmtk/dcmnet/dimse.h"

struct os_scp_receive_request {
    T_ASC_Association *assoc;
    const T_DIMSE_C_StoreRQ *req;
    T_ASC_PresentationContextID pres_id;
    const char *transfer_syntax_uid; /* accepted on pres_id: goes into the meta header */
    const char *calling_ae;          /* Source Application Entity Title */
    int timeout_s;                   /* DIMSE timeout for each PDU */
    const char *dir;                 /* where the file is created */
};

struct os_scp_receive_result {
    std::string path; /* the file, when the dataset was stored (io_errno == 0) */
    int io_errno;     /* first failure creating, writing or closing the file; 0 when none */
    const char *io_step; /* "create", "write" or "close" when io_errno != 0 */
};

/* A bad condition means the network failed (timeout, abort, protocol error): nothing is
 * left on disk and the association is no longer usable. A good condition means the whole
 * dataset was read off the network: either it is in res->path, or (io_errno != 0) it was
 * drained and discarded, no file is left, and the association can still answer with a
 * status. */
OFCondition os_scp_receive_file(const os_scp_receive_request &rq, os_scp_receive_result *res);

#endif
