/* lib/dicom: the C-STORE SCP behind os_dicom_scp_* (osteoscout/dicom.h).
 *
 * run() accepts every TCP connection on the port at once and keeps it on its poll until the
 * A-ASSOCIATE-RQ has come whole (or the ACSE timeout has passed: closed), so a peer that
 * connects and says nothing holds up nobody else; then the connection gets a thread of its
 * own. At most max_associations associations run at once; one more is refused with
 * A-ASSOCIATE-RJ "local limit exceeded". Each thread runs a StoreSCP (a DcmThreadSCP) that
 * checks the AE titles, answers C-ECHO, streams each C-STORE dataset into incoming_dir
 * (scp_receive.cc) and lets the caller's on_store decide the status.
 *
 * Thread model: check_caller, on_store and on_association run on the association threads,
 * up to max_associations of them at the same time; run() blocks its own thread and returns
 * only after every association thread has finished.
 *
 * The listener is ours rather than DCMTK's DcmBaseSCPPool because in DCMTK 3.6.7 the pool
 * deletes a worker from the worker's own thread while the listener may still be writing
 * the new thread's id into it (OFThread::start after pthread_create): a short association,
 * such as a refused one, corrupts the heap. The pool also never joins the threads it
 * deletes, so every association would keep its thread's stack for the life of the node.
 * The socket is ours too (listen_socket.c): DCMTK's ASC_receiveAssociation accepts and then
 * reads the first PDU in one call, on the listener's thread. Each connection is handed to
 * DCMTK through dcmExternalSocketHandle, a process-wide setting, under one lock. */
#include "osteoscout/dicom.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmnet/dul.h"
#include "dcmtk/dcmnet/scpthrd.h"

#include "dcmtk_log.h"
#include "listen_socket.h"
#include "osteoscout/log.h"
#include "scp_receive.h"

namespace {

const char *const COMPONENT = "scp";

/* Defaults for timeouts left at 0: a DIMSE wait without a limit would let one idle SCU
 * keep os_dicom_scp_stop from ever completing. */
const int DEFAULT_ACSE_TIMEOUT_S = 30;
const int DEFAULT_DIMSE_TIMEOUT_S = 60;
/* How long the listener waits for a connection or a first PDU before it looks at the stop
 * flag and the deadlines. */
const int POLL_MS = 1000;
const int PARTIAL_POLL_MS = 20;
/* Connections still waiting for their A-ASSOCIATE-RQ; more are closed at once. Each is one
 * descriptor on the listener's poll, no thread. */
const unsigned MAX_WAITING = 256;
/* An A-ASSOCIATE-RQ is a few hundred bytes: one this large is handed to DCMTK as it comes. */
const size_t RQ_ENOUGH = 65536;
const Uint32 MAX_PDU = 65536; /* fewer, larger PDUs per slice than DCMTK's 16 KB */
const size_t LO_MAX = 64;     /* Error Comment is LO */

std::string trim(const char *s) {
    std::string r = s ? s : "";
    size_t b = r.find_first_not_of(' ');
    size_t e = r.find_last_not_of(' ');
    return b == std::string::npos ? std::string() : r.substr(b, e - b + 1);
}

/* An Error Comment the SCU can display: LO allows no backslash or control characters. */
std::string lo_value(const char *s) {
    std::string r = s ? s : "";
    for (char &ch : r)
        if (ch == '\\' || static_cast<unsigned char>(ch) < 0x20) ch = ' ';
    if (r.size() > LO_MAX) r.resize(LO_MAX);
    return trim(r.c_str());
}

/* Transfer syntaxes in our order of preference: uncompressed explicit first (no decoding
 * cost, keeps VRs), then the lossless compressions DCMTK decodes quickly, JPEG 2000 last
 * (OpenJPEG is the slowest decoder), implicit VR last of all (it loses the VRs). */
OFList<OFString> ct_syntaxes() {
    OFList<OFString> ts;
    ts.push_back(UID_LittleEndianExplicitTransferSyntax);
    ts.push_back(UID_JPEGLSLosslessTransferSyntax);
    ts.push_back(UID_JPEGProcess14SV1TransferSyntax);
    ts.push_back(UID_RLELosslessTransferSyntax);
    ts.push_back(UID_JPEG2000LosslessOnlyTransferSyntax);
    ts.push_back(UID_LittleEndianImplicitTransferSyntax);
    return ts;
}

/* Objects that travel with a study (secondary captures, dose reports) may be lossy JPEG;
 * they are only acknowledged and discarded, so any common syntax will do. */
const char *const OTHER_SYNTAXES[] = {
    UID_LittleEndianExplicitTransferSyntax,  UID_JPEGLSLosslessTransferSyntax,
    UID_JPEGProcess14SV1TransferSyntax,      UID_RLELosslessTransferSyntax,
    UID_JPEG2000LosslessOnlyTransferSyntax,  UID_LittleEndianImplicitTransferSyntax,
    UID_JPEGProcess1TransferSyntax,          UID_JPEGProcess2_4TransferSyntax,
};

/* With accept_all_storage, every other storage SOP class the SCU proposes is accepted
 * here, after DCMTK has negotiated Verification and CT from the configuration. Not in
 * the configuration itself: DCMTK caps a profile at 128 presentation contexts (the limit
 * of one association request), and there are more storage SOP classes than that. */
OFCondition accept_other_storage(T_ASC_Parameters *params) {
    int n = ASC_countPresentationContexts(params);
    for (int i = 0; i < n; i++) {
        T_ASC_PresentationContext pc;
        OFCondition c = ASC_getPresentationContext(params, i, &pc);
        if (c.bad()) return c;
        if (strcmp(pc.abstractSyntax, UID_CTImageStorage) == 0 ||
            strcmp(pc.abstractSyntax, UID_EnhancedCTImageStorage) == 0 ||
            !dcmIsaStorageSOPClassUID(pc.abstractSyntax, ESSC_All))
            continue;
        for (const char *ts : OTHER_SYNTAXES) {
            bool proposed = false;
            for (int k = 0; k < pc.transferSyntaxCount && !proposed; k++)
                proposed = strcmp(pc.proposedTransferSyntaxes[k], ts) == 0;
            if (!proposed) continue;
            c = ASC_acceptPresentationContext(params, pc.presentationContextID, ts);
            if (c.bad()) return c;
            break;
        }
    }
    return EC_Normal;
}

/* One association, on its own thread. */
class StoreSCP : public DcmThreadSCP {
public:
    explicit StoreSCP(os_dicom_scp *ctx) : ctx_(ctx) {}
    OFCondition serve(T_ASC_Association *assoc);

protected:
    OFBool checkCalledAETitleAccepted(const OFString &called) override;
    OFBool checkCallingAETitleAccepted(const OFString &calling) override;
    OFCondition negotiateAssociation() override;
    void refuseAssociation(const DcmRefuseReasonType reason) override;
    void notifyAssociationAcknowledge() override;
    void notifyReleaseRequest() override { ended_ = "released"; }
    void notifyAbortRequest() override { ended_ = "aborted by peer"; }
    void notifyDIMSEError(const OFCondition &cond) override;
    void notifyAssociationTermination() override;
    OFCondition handleIncomingCommand(T_DIMSE_Message *msg, const DcmPresentationContextInfo &pres) override;

private:
    OFCondition handle_store(T_DIMSE_C_StoreRQ &req, const DcmPresentationContextInfo &pres);
    uint16_t decide(const T_DIMSE_C_StoreRQ &req, const std::string &path, char *reason, size_t len);

    os_dicom_scp *ctx_;
    T_ASC_Association *assoc_ = NULL;
    std::string calling_, called_, peer_;
    std::string refusal_; /* why we refuse, for the log line */
    std::string ended_;
    bool opened_ = false;
    unsigned stored_ = 0, failed_ = 0;
};

} // namespace

struct os_dicom_scp {
    std::string ae_title;
    std::string incoming_dir;
    int port = 0;
    int acse_timeout_s = 0;
    int dimse_timeout_s = 0;
    bool accept_all_storage = false;
    unsigned max_associations = 0;
    os_dicom_scp_callbacks cb{};
    DcmSCPConfig cfg;

    std::mutex mu;
    std::condition_variable cv; /* an association thread ended */
    bool stop_requested = false;
    unsigned busy = 0;    /* associations running (max_associations) */
    unsigned threads = 0; /* connection threads running */
};

/* ------------------------------------------------------------------------------------ */

OFCondition StoreSCP::serve(T_ASC_Association *assoc) {
    assoc_ = assoc;
    // The listener has already read the A-ASSOCIATE-RQ, so everything the checks below need
    // is here. The peer comes from the calling presentation address (an IP: host lookup
    // is off) because DCMTK 3.6.7 hands checkCallingHostAccepted() the *called* address.
    const T_ASC_Parameters *params = assoc ? assoc->params : NULL;
    calling_ = params ? trim(params->DULparams.callingAPTitle) : "";
    called_ = params ? trim(params->DULparams.calledAPTitle) : "";
    peer_ = params ? trim(params->DULparams.callingPresentationAddress) : "";
    refusal_.clear();
    ended_.clear();
    opened_ = false;
    stored_ = failed_ = 0;
    OFCondition cond = EC_Normal;
    try {
        cond = run(assoc);
    } catch (...) {
        os_log(OS_LOG_ERROR, COMPONENT, "unexpected exception in association calling_ae=%s peer=%s",
               calling_.c_str(), peer_.c_str());
        cond = EC_IllegalCall;
    }
    notifyAssociationTermination();
    assoc_ = NULL;
    return cond;
}

OFBool StoreSCP::checkCalledAETitleAccepted(const OFString &called) {
    if (trim(called.c_str()) == ctx_->ae_title) return OFTrue;
    refusal_ = "called AE title is not " + ctx_->ae_title;
    return OFFalse;
}

OFBool StoreSCP::checkCallingAETitleAccepted(const OFString &calling) {
    if (!ctx_->cb.check_caller) return OFTrue;
    char reason[256] = "";
    std::string ae = trim(calling.c_str());
    if (ctx_->cb.check_caller(ctx_->cb.ud, ae.c_str(), peer_.c_str(), reason, sizeof reason) == 0)
        return OFTrue;
    refusal_ = reason[0] ? reason : "calling AE title not accepted";
    return OFFalse;
}

OFCondition StoreSCP::negotiateAssociation() {
    OFCondition c = DcmThreadSCP::negotiateAssociation();
    if (c.good() && ctx_->accept_all_storage) c = accept_other_storage(assoc_->params);
    return c;
}

void StoreSCP::refuseAssociation(const DcmRefuseReasonType reason) {
    if (refusal_.empty())
        refusal_ = reason == DCMSCP_NO_PRESENTATION_CONTEXTS ? "no acceptable presentation context"
                   : reason == DCMSCP_BAD_APPLICATION_CONTEXT_NAME ? "unknown application context"
                                                                    : "refused";
    os_log(OS_LOG_NOTICE, COMPONENT, "association rejected calling_ae=%s called_ae=%s peer=%s reason=\"%s\"",
           calling_.c_str(), called_.c_str(), peer_.c_str(), refusal_.c_str());
    DcmThreadSCP::refuseAssociation(reason);
}

void StoreSCP::notifyAssociationAcknowledge() {
    opened_ = true;
    os_log(OS_LOG_INFO, COMPONENT, "association accepted calling_ae=%s called_ae=%s peer=%s",
           calling_.c_str(), called_.c_str(), peer_.c_str());
    if (ctx_->cb.on_association) ctx_->cb.on_association(ctx_->cb.ud, 1, calling_.c_str(), peer_.c_str());
}

void StoreSCP::notifyDIMSEError(const OFCondition &cond) {
    ended_ = std::string("aborted: ") + cond.text();
}

void StoreSCP::notifyAssociationTermination() {
    // DCMTK may call this more than once per association; report each one once.
    if (!opened_) return;
    opened_ = false;
    os_log(OS_LOG_INFO, COMPONENT, "association ended calling_ae=%s peer=%s stored=%u failed=%u how=\"%s\"",
           calling_.c_str(), peer_.c_str(), stored_, failed_, ended_.empty() ? "closed" : ended_.c_str());
    if (ctx_->cb.on_association) ctx_->cb.on_association(ctx_->cb.ud, 0, calling_.c_str(), peer_.c_str());
}

OFCondition StoreSCP::handleIncomingCommand(T_DIMSE_Message *msg, const DcmPresentationContextInfo &pres) {
    try {
        if (msg->CommandField == DIMSE_C_STORE_RQ) return handle_store(msg->msg.CStoreRQ, pres);
        return DcmThreadSCP::handleIncomingCommand(msg, pres); // C-ECHO, or "cannot handle"
    } catch (...) {
        // The exchange is in an unknown state; a bad condition makes DCMTK abort it.
        os_log(OS_LOG_ERROR, COMPONENT, "unexpected exception handling a command calling_ae=%s peer=%s",
               calling_.c_str(), peer_.c_str());
        return EC_IllegalCall;
    }
}

OFCondition StoreSCP::handle_store(T_DIMSE_C_StoreRQ &req, const DcmPresentationContextInfo &pres) {
    char uidbuf[OS_LOG_UID_MAX];
    os_scp_receive_request rq;
    rq.assoc = assoc_;
    rq.req = &req;
    rq.pres_id = pres.presentationContextID;
    rq.transfer_syntax_uid = pres.acceptedTransferSyntax.c_str();
    rq.calling_ae = calling_.c_str();
    rq.timeout_s = ctx_->dimse_timeout_s;
    rq.dir = ctx_->incoming_dir.c_str();
    os_scp_receive_result res;
    OFCondition cond = os_scp_receive_file(rq, &res);
    if (cond.bad()) {
        os_log(OS_LOG_WARNING, COMPONENT, "C-STORE not received calling_ae=%s peer=%s sop=%s: %s",
               calling_.c_str(), peer_.c_str(), os_log_uid(req.AffectedSOPInstanceUID, uidbuf), cond.text());
        return cond;
    }

    char reason[256] = "";
    uint16_t status;
    if (res.io_errno != 0) {
        status = OS_STATUS_OUT_OF_RESOURCES;
        snprintf(reason, sizeof reason, "cannot %s incoming file: %s", res.io_step ? res.io_step : "write",
                 strerror(res.io_errno));
        os_log(OS_LOG_ERROR, COMPONENT, "C-STORE refused calling_ae=%s sop=%s dir=%s: %s", calling_.c_str(),
               os_log_uid(req.AffectedSOPInstanceUID, uidbuf), ctx_->incoming_dir.c_str(), reason);
    } else {
        status = decide(req, res.path, reason, sizeof reason);
        // on_store must rename or remove the file; whatever it left is not ours to keep.
        unlink(res.path.c_str());
    }
    if (status == OS_STATUS_SUCCESS)
        stored_++;
    else
        failed_++;

    std::unique_ptr<DcmDataset> detail;
    if (status != OS_STATUS_SUCCESS && reason[0]) {
        detail.reset(new DcmDataset);
        if (detail->putAndInsertString(DCM_ErrorComment, lo_value(reason).c_str()).bad()) detail.reset();
    }
    return sendSTOREResponse(pres.presentationContextID, req.MessageID, req.AffectedSOPClassUID,
                             req.AffectedSOPInstanceUID, status, detail.get());
}

uint16_t StoreSCP::decide(const T_DIMSE_C_StoreRQ &req, const std::string &path, char *reason, size_t len) {
    os_dicom_header header;
    os_error perr;
    os_error_clear(&perr);
    bool parsed = os_dicom_read_header(path.c_str(), &header, &perr) == 0;

    os_dicom_incoming in;
    in.calling_ae = calling_.c_str();
    in.called_ae = called_.c_str();
    in.peer_host = peer_.c_str();
    in.sop_class_uid = req.AffectedSOPClassUID;
    in.sop_instance_uid = req.AffectedSOPInstanceUID;
    in.tmp_path = path.c_str();
    in.header = parsed ? &header : NULL;
    in.parse_error = parsed ? NULL : (perr.msg[0] ? perr.msg : "unreadable DICOM file");
    uint16_t status = ctx_->cb.on_store(ctx_->cb.ud, &in, reason, len);
    reason[len - 1] = '\0';

    char uidbuf[OS_LOG_UID_MAX];
    os_log(status == OS_STATUS_SUCCESS ? OS_LOG_DEBUG : OS_LOG_NOTICE, COMPONENT,
           "C-STORE calling_ae=%s sop=%s status=0x%04X%s%s%s", calling_.c_str(),
           os_log_uid(req.AffectedSOPInstanceUID, uidbuf), status, reason[0] ? " reason=\"" : "", reason,
           reason[0] ? "\"" : "");
    return status;
}

/* ------------------------------------------------------------------------------------ */

namespace {

int configure(os_dicom_scp *scp, os_error *err) {
    DcmSCPConfig &cfg = scp->cfg;
    cfg.setAETitle(scp->ae_title.c_str());
    cfg.setRespondWithCalledAETitle(OFFalse);
    cfg.setPort(static_cast<Uint16>(scp->port));
    cfg.setMaxReceivePDULength(MAX_PDU);
    cfg.setACSETimeout(static_cast<Uint32>(scp->acse_timeout_s));
    cfg.setDIMSEBlockingMode(DIMSE_NONBLOCKING);
    cfg.setDIMSETimeout(static_cast<Uint32>(scp->dimse_timeout_s));
    cfg.setHostLookupEnabled(OFFalse);

    OFList<OFString> echo;
    echo.push_back(UID_LittleEndianExplicitTransferSyntax);
    echo.push_back(UID_LittleEndianImplicitTransferSyntax);
    OFCondition c = cfg.addPresentationContext(UID_VerificationSOPClass, echo);
    if (c.good()) c = cfg.addPresentationContext(UID_CTImageStorage, ct_syntaxes());
    if (c.good()) c = cfg.addPresentationContext(UID_EnhancedCTImageStorage, ct_syntaxes());
    if (c.bad())
        return os_error_set(err, -EINVAL, "cannot configure the DICOM listener's presentation contexts: %s",
                            c.text());
    return 0;
}

int validate(const os_dicom_scp_config *cfg, os_error *err) {
    if (!cfg) return os_error_set(err, -EINVAL, "the DICOM listener needs a configuration");
    std::string ae = trim(cfg->ae_title);
    if (ae.empty() || ae.size() > 16)
        return os_error_set(err, -EINVAL, "the DICOM listener's AE title must have 1 to 16 characters");
    if (cfg->port < 1 || cfg->port > 65535)
        return os_error_set(err, -EINVAL, "the DICOM listener's port %d is not between 1 and 65535", cfg->port);
    if (cfg->max_associations < 1 || cfg->max_associations > 65535)
        return os_error_set(err, -EINVAL, "max_associations must be at least 1 (got %d)", cfg->max_associations);
    if (!cfg->cb.on_store)
        return os_error_set(err, -EINVAL, "the DICOM listener needs an on_store callback");
    struct stat st;
    if (!cfg->incoming_dir || !*cfg->incoming_dir)
        return os_error_set(err, -EINVAL, "the DICOM listener needs an incoming folder");
    if (stat(cfg->incoming_dir, &st) != 0)
        return os_error_set(err, -errno, "cannot use incoming folder %s: %s", cfg->incoming_dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return os_error_set(err, -ENOTDIR, "cannot use incoming folder %s: not a folder", cfg->incoming_dir);
    return 0;
}

/* "TCP Initialization Error: Address already in use" → "Address already in use". */
std::string last_clause(const char *text) {
    std::string s = text ? text : "";
    size_t colon = s.rfind(": ");
    return colon == std::string::npos ? s : s.substr(colon + 2);
}

void drop_association(T_ASC_Association *assoc) {
    if (!assoc) return;
    ASC_dropAssociation(assoc);
    ASC_destroyAssociation(&assoc);
}

/* A-ASSOCIATE-RJ, transient (the node is full or cannot start a thread: try again later). */
void reject_transient(T_ASC_Association *assoc, T_ASC_RejectParametersReason reason) {
    T_ASC_RejectParameters rej;
    rej.result = ASC_RESULT_REJECTEDTRANSIENT;
    rej.source = ASC_SOURCE_SERVICEPROVIDER_PRESENTATION_RELATED;
    rej.reason = reason;
    ASC_rejectAssociation(assoc, &rej);
    drop_association(assoc);
}

/* dcmExternalSocketHandle is read by DCMTK when a network is set up (an acceptor with it set
 * opens no socket of its own) and when an association is received (it takes that socket
 * instead of accepting one): every use sets, uses and clears it under this lock. */
std::mutex g_external_socket_mu;

T_ASC_Network *init_network(os_dicom_scp *scp, int listen_fd, OFCondition &cond) {
    std::lock_guard<std::mutex> lock(g_external_socket_mu);
    T_ASC_Network *net = NULL;
    dcmExternalSocketHandle.set(listen_fd);
    cond = ASC_initializeNetwork(NET_ACCEPTOR, scp->port, static_cast<int>(scp->cfg.getACSETimeout()), &net);
    dcmExternalSocketHandle.set(-1);
    return net;
}

OFCondition receive_on(T_ASC_Network *net, int fd, T_ASC_Association **assoc) {
    std::lock_guard<std::mutex> lock(g_external_socket_mu);
    dcmExternalSocketHandle.set(fd);
    OFCondition cond = ASC_receiveAssociation(net, assoc, static_cast<long>(MAX_PDU), NULL, NULL, OFFalse);
    dcmExternalSocketHandle.set(-1);
    return cond;
}

void run_association(os_dicom_scp *scp, DcmSharedSCPConfig &shared, T_ASC_Association *assoc) {
    try {
        StoreSCP store(scp);
        OFCondition c = store.setSharedConfig(shared);
        if (c.good())
            store.serve(assoc);
        else
            reject_transient(assoc, ASC_REASON_SP_PRES_TEMPORARYCONGESTION);
    } catch (...) {
        os_log(OS_LOG_ERROR, COMPONENT, "unexpected exception around an association");
    }
}

/* One association, its A-ASSOCIATE-RQ already waiting whole on fd, from start to end on its
 * own (detached) thread. The counts go down under the lock, with the notify inside it, so
 * run() cannot return and free scp while this thread touches it. */
void serve_connection(os_dicom_scp *scp, DcmSharedSCPConfig shared, T_ASC_Network *net, int fd) {
    T_ASC_Association *assoc = NULL;
    OFCondition cond = receive_on(net, fd, &assoc);
    bool full = false;
    if (cond.bad()) {
        // A first PDU that is no valid A-ASSOCIATE-RQ: nothing to answer.
        os_log(OS_LOG_INFO, COMPONENT, "connection dropped before an association: %s", cond.text());
        drop_association(assoc);
    } else {
        {
            std::lock_guard<std::mutex> lock(scp->mu);
            full = scp->busy >= scp->max_associations;
            if (!full) scp->busy++;
        }
        if (full) {
            const T_ASC_Parameters *p = assoc->params;
            std::string calling = p ? trim(p->DULparams.callingAPTitle) : "";
            std::string peer = p ? trim(p->DULparams.callingPresentationAddress) : "";
            os_log(OS_LOG_NOTICE, COMPONENT,
                   "association rejected calling_ae=%s peer=%s reason=\"%u associations already open "
                   "(max_associations)\"",
                   calling.c_str(), peer.c_str(), scp->max_associations);
            reject_transient(assoc, ASC_REASON_SP_PRES_LOCALLIMITEXCEEDED);
        } else {
            run_association(scp, shared, assoc);
        }
    }
    std::lock_guard<std::mutex> lock(scp->mu);
    if (cond.good() && !full) scp->busy--;
    scp->threads--;
    scp->cv.notify_all();
}

bool stopping(os_dicom_scp *scp) {
    std::lock_guard<std::mutex> lock(scp->mu);
    return scp->stop_requested;
}

/* A connection accepted and not yet sent its A-ASSOCIATE-RQ whole. */
struct waiting_conn {
    int fd;
    std::chrono::steady_clock::time_point deadline;
    bool partial; /* some of its first PDU is in: looked at every PARTIAL_POLL_MS, not polled */
};

void drop_waiting(waiting_conn &w, const char *why) {
    os_log(OS_LOG_INFO, COMPONENT, "connection dropped before an association: %s", why);
    close(w.fd);
    w.fd = -1;
}

/* Hands a connection whose A-ASSOCIATE-RQ is in to a thread of its own. */
void start_connection(os_dicom_scp *scp, const DcmSharedSCPConfig &shared, T_ASC_Network *net, int fd) {
    {
        std::lock_guard<std::mutex> lock(scp->mu);
        scp->threads++;
    }
    try {
        std::thread(serve_connection, scp, shared, net, fd).detach();
    } catch (const std::exception &e) {
        os_log(OS_LOG_ERROR, COMPONENT, "cannot start a thread for a connection: %s", e.what());
        close(fd);
        std::lock_guard<std::mutex> lock(scp->mu);
        scp->threads--;
    }
}

/* Accepts connections until os_dicom_scp_stop, and keeps each on the listener's poll until
 * its A-ASSOCIATE-RQ has come whole (then it gets a thread) or acse_timeout has passed
 * (then it is closed). The wait is at most POLL_MS, so a stop ends the loop within about a
 * second. */
void listen_loop(os_dicom_scp *scp, T_ASC_Network *net, int listen_fd) {
    DcmSharedSCPConfig shared(scp->cfg);
    std::vector<waiting_conn> waiting;
    std::vector<struct pollfd> pfd;
    const std::string timed_out = "nothing within the ACSE timeout (" + std::to_string(scp->acse_timeout_s) + " s)";
    auto next_shortage_log = std::chrono::steady_clock::now();
    while (!stopping(scp)) {
        // a partly arrived PDU keeps its socket readable: it is looked at on a short period
        // instead, so the poll does not spin until the rest comes
        bool any_partial = false;
        pfd.assign(1, pollfd{listen_fd, POLLIN, 0});
        for (const waiting_conn &w : waiting) {
            pfd.push_back(pollfd{w.partial ? -1 : w.fd, POLLIN, 0});
            any_partial = any_partial || w.partial;
        }
        if (poll(pfd.data(), pfd.size(), any_partial ? PARTIAL_POLL_MS : POLL_MS) < 0 && errno != EINTR)
            throw std::runtime_error(std::string("poll: ") + strerror(errno));
        auto now = std::chrono::steady_clock::now();
        for (size_t k = 0; k < waiting.size(); k++) {
            waiting_conn &w = waiting[k];
            int got = w.partial || pfd[k + 1].revents ? os_pdu_waiting(w.fd, RQ_ENOUGH) : 0;
            if (got == 0 && pfd[k + 1].revents) w.partial = true;
            if (got > 0) {
                start_connection(scp, shared, net, w.fd);
                w.fd = -1;
            } else if (got < 0) {
                drop_waiting(w, "closed by the peer");
            } else if (now >= w.deadline) {
                drop_waiting(w, timed_out.c_str());
            }
        }
        waiting.erase(std::remove_if(waiting.begin(), waiting.end(), [](const waiting_conn &w) { return w.fd < 0; }),
                      waiting.end());
        if (!(pfd[0].revents & POLLIN)) continue;
        int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            // Out of descriptors or memory, the connection stays queued and the socket
            // readable: wait a little rather than spin. (A peer that gave up already: go on.)
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                if (now >= next_shortage_log) {
                    os_log(OS_LOG_WARNING, COMPONENT, "cannot accept a connection: %s", strerror(errno));
                    next_shortage_log = now + std::chrono::seconds(60);
                }
                usleep(100 * 1000);
            }
            continue;
        }
        if (waiting.size() >= MAX_WAITING) {
            os_log(OS_LOG_NOTICE, COMPONENT, "connection closed: %u connections already wait for an association",
                   MAX_WAITING);
            close(fd);
            continue;
        }
        waiting.push_back(waiting_conn{fd, now + std::chrono::seconds(scp->acse_timeout_s), false});
    }
    for (waiting_conn &w : waiting) close(w.fd);
}

} // namespace

extern "C" int os_dicom_scp_create(const os_dicom_scp_config *cfg, os_dicom_scp **out, os_error *err) {
    *out = NULL;
    int rc = validate(cfg, err);
    if (rc != 0) return rc;
    try {
        os_dicom_internal_quiet_dcmtk_log();
        // dcmnet switches Nagle's algorithm off for its sockets only when the environment
        // says TCP_NODELAY=1 (read at each connection); without it every slice waits for a
        // delayed ACK. Set here, at start-up, before any thread reads the environment; an
        // operator's explicit TCP_NODELAY=0 is respected.
        setenv("TCP_NODELAY", "1", 0);
        // Reverse DNS on every connection can stall the listener; peers are logged by IP.
        dcmDisableGethostbyaddr.set(OFTrue);

        std::unique_ptr<os_dicom_scp> scp(new os_dicom_scp);
        scp->ae_title = trim(cfg->ae_title);
        scp->incoming_dir = cfg->incoming_dir;
        scp->port = cfg->port;
        scp->acse_timeout_s = cfg->acse_timeout_s > 0 ? cfg->acse_timeout_s : DEFAULT_ACSE_TIMEOUT_S;
        scp->dimse_timeout_s = cfg->dimse_timeout_s > 0 ? cfg->dimse_timeout_s : DEFAULT_DIMSE_TIMEOUT_S;
        scp->cb = cfg->cb;
        scp->accept_all_storage = cfg->accept_all_storage != 0;
        scp->max_associations = static_cast<unsigned>(cfg->max_associations);
        rc = configure(scp.get(), err);
        if (rc != 0) return rc;
        *out = scp.release();
        return 0;
    } catch (const std::exception &e) {
        return os_error_set(err, -ENOMEM, "cannot create the DICOM listener: %s", e.what());
    } catch (...) {
        return os_error_set(err, -ENOMEM, "cannot create the DICOM listener");
    }
}

extern "C" int os_dicom_scp_run(os_dicom_scp *scp, os_error *err) {
    {
        std::lock_guard<std::mutex> lock(scp->mu);
        if (scp->stop_requested) return 0;
    }
    char why[256];
    int listen_fd = os_listen_tcp(scp->port, why, sizeof why);
    if (listen_fd < 0)
        return os_error_set(err, listen_fd == -EADDRINUSE ? -EADDRINUSE : -EIO, "cannot listen on port %d: %s",
                            scp->port, why);
    OFCondition cond;
    T_ASC_Network *net = init_network(scp, listen_fd, cond);
    if (cond.bad()) {
        close(listen_fd);
        return os_error_set(err, -EIO, "cannot listen on port %d: %s", scp->port, last_clause(cond.text()).c_str());
    }
    os_log(OS_LOG_DEBUG, COMPONENT, "listening ae_title=%s port=%d max_associations=%u", scp->ae_title.c_str(),
           scp->port, scp->max_associations);
    int rc = 0;
    try {
        listen_loop(scp, net, listen_fd);
    } catch (const std::exception &e) {
        rc = os_error_set(err, -EIO, "the DICOM listener on port %d failed: %s", scp->port, e.what());
    } catch (...) {
        rc = os_error_set(err, -EIO, "the DICOM listener on port %d failed", scp->port);
    }
    close(listen_fd);
    // Associations in progress finish (each has its DIMSE timeout) before run() returns;
    // connections still waiting for theirs were closed by the loop.
    {
        std::unique_lock<std::mutex> lock(scp->mu);
        scp->cv.wait(lock, [scp] { return scp->threads == 0; });
    }
    ASC_dropNetwork(&net);
    if (rc == 0) os_log(OS_LOG_DEBUG, COMPONENT, "stopped listening port=%d", scp->port);
    return rc;
}

extern "C" void os_dicom_scp_stop(os_dicom_scp *scp) {
    if (!scp) return;
    std::lock_guard<std::mutex> lock(scp->mu);
    scp->stop_requested = true;
}

extern "C" void os_dicom_scp_destroy(os_dicom_scp *scp) {
    try {
        delete scp;
    } catch (...) {
    }
}
