/* lib/dicom: the C-STORE SCU behind os_dicom_send_files (osteoscout/dicom_scu.h).
 *
 * One call is one association: read every file's meta header, propose one presentation
 * context per distinct (SOP class, transfer syntax) — the file's own syntax first, then
 * explicit and implicit VR little endian so a PACS that takes only uncompressed data can
 * still be served — negotiate, C-STORE each file, release. The low-level ASC_/DIMSE_ API
 * (as in DCMTK's storescu) is used rather than DcmSCU because the sender needs the
 * A-ASSOCIATE-RJ result (permanent or transient), which DcmSCU does not hand back.
 *
 * Every failure is classified so the caller can tell "try later" from "give up": see
 * os_dicom_store_status_class and the association-level cases in send_all(). */
#include "osteoscout/dicom_scu.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcmetinf.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmdata/dcxfer.h"
#include "dcmtk/dcmnet/assoc.h"
#include "dcmtk/dcmnet/dimse.h"
#include "dcmtk/dcmnet/dul.h"
#include "dcmtk/dcmtls/tlslayer.h"

#include "dcmtk_log.h"

namespace {

const int DEFAULT_ACSE_TIMEOUT_S = 30;
const int DEFAULT_DIMSE_TIMEOUT_S = 60;
const long MAX_PDU = 65536;
const int MAX_CONTEXTS = 128; /* odd presentation context IDs 1..255 */

/* One line, no control characters: DCMTK's condition texts span lines. */
std::string one_line(const std::string &s) {
    std::string r;
    for (char ch : s) r += (static_cast<unsigned char>(ch) < 0x20) ? ' ' : ch;
    size_t b = r.find_first_not_of(' '), e = r.find_last_not_of(' ');
    return b == std::string::npos ? std::string() : r.substr(b, e - b + 1);
}

void set_result(os_scu_result *r, os_send_class cls, int status, const std::string &reason) {
    r->cls = cls;
    r->status = status;
    std::snprintf(r->reason, sizeof r->reason, "%s", one_line(reason).c_str());
}

void set_all(os_scu_result *results, size_t n, os_send_class cls, const std::string &reason) {
    for (size_t i = 0; i < n; i++)
        if (results[i].cls == OS_SEND_ABANDONED) set_result(&results[i], cls, -1, reason);
}

const char *reject_reason(const T_ASC_RejectParameters &rej) {
    switch (rej.reason) {
    case ASC_REASON_SU_NOREASON: return "no reason given";
    case ASC_REASON_SU_APPCONTEXTNAMENOTSUPPORTED: return "application context name not supported";
    case ASC_REASON_SU_CALLINGAETITLENOTRECOGNIZED: return "calling AE title not recognized";
    case ASC_REASON_SU_CALLEDAETITLENOTRECOGNIZED: return "called AE title not recognized";
    case ASC_REASON_SP_ACSE_NOREASON: return "no reason given (ACSE)";
    case ASC_REASON_SP_ACSE_PROTOCOLVERSIONNOTSUPPORTED: return "protocol version not supported";
    case ASC_REASON_SP_PRES_TEMPORARYCONGESTION: return "temporary congestion";
    case ASC_REASON_SP_PRES_LOCALLIMITEXCEEDED: return "local limit exceeded";
    default: return "unknown reason";
    }
}

struct file_info {
    std::string path, sop_class, sop_instance, xfer;
    bool ok = false;
};

/* Meta header only: cheap, and enough to negotiate. */
bool read_meta(file_info &f, std::string &why) {
    DcmFileFormat ff;
    OFCondition c = ff.loadFile(f.path.c_str(), EXS_Unknown, EGL_noChange, DCM_MaxReadLength, ERM_metaOnly);
    if (c.bad()) {
        why = std::string("cannot read the file: ") + c.text();
        return false;
    }
    DcmMetaInfo *meta = ff.getMetaInfo();
    OFString cls, inst, ts;
    if (meta) {
        meta->findAndGetOFString(DCM_MediaStorageSOPClassUID, cls);
        meta->findAndGetOFString(DCM_MediaStorageSOPInstanceUID, inst);
        meta->findAndGetOFString(DCM_TransferSyntaxUID, ts);
    }
    if (cls.empty() || inst.empty() || ts.empty()) {
        why = "the file has no meta header with SOP class, instance and transfer syntax";
        return false;
    }
    f.sop_class = cls.c_str();
    f.sop_instance = inst.c_str();
    f.xfer = ts.c_str();
    return true;
}

/* TLS for one association. Owned by the caller; must outlive the network. */
OFCondition make_tls(const os_scu_peer *p, std::unique_ptr<DcmTLSTransportLayer> &out, std::string &why) {
    out.reset(new DcmTLSTransportLayer(NET_REQUESTOR, NULL, OFTrue));
    DcmTLSTransportLayer &tls = *out;
    OFCondition c = tls.setTLSProfile(TSP_Profile_BCP195);
    if (c.bad()) {
        why = std::string("cannot select the BCP 195 TLS profile: ") + c.text();
        return c;
    }
    if (p->tls_ca_file && *p->tls_ca_file) {
        c = tls.addTrustedCertificateFile(p->tls_ca_file, DCF_Filetype_PEM);
        if (c.bad()) {
            why = std::string("cannot load TLS CA file ") + p->tls_ca_file + ": " + c.text();
            return c;
        }
        tls.setCertificateVerification(DCV_requireCertificate);
    } else {
        tls.setCertificateVerification(DCV_ignoreCertificate);
    }
    if (p->tls_cert_file && *p->tls_cert_file) {
        c = tls.setPrivateKeyFile(p->tls_key_file, DCF_Filetype_PEM);
        if (c.bad()) {
            why = std::string("cannot load TLS key file ") + (p->tls_key_file ? p->tls_key_file : "") + ": " + c.text();
            return c;
        }
        c = tls.setCertificateFile(p->tls_cert_file, DCF_Filetype_PEM);
        if (c.bad()) {
            why = std::string("cannot load TLS certificate file ") + p->tls_cert_file + ": " + c.text();
            return c;
        }
        if (!tls.checkPrivateKeyMatchesCertificate()) {
            why = std::string("TLS key ") + p->tls_key_file + " does not match certificate " + p->tls_cert_file;
            return EC_IllegalCall;
        }
    }
    c = tls.activateCipherSuites();
    if (c.bad()) why = std::string("cannot activate the TLS cipher suites: ") + c.text();
    return c;
}

/* Everything of one send that needs undoing, undone in the right order. */
struct session {
    T_ASC_Network *net = NULL;
    T_ASC_Parameters *params = NULL; /* owned by assoc once requested */
    T_ASC_Association *assoc = NULL;
    std::unique_ptr<DcmTLSTransportLayer> tls;
    bool established = false;

    ~session() {
        if (assoc) {
            if (established) ASC_abortAssociation(assoc); /* only when not released yet */
            ASC_destroyAssociation(&assoc);
        } else if (params) {
            ASC_destroyAssociationParameters(&params);
        }
        if (net) ASC_dropNetwork(&net);
    }
};

/* Sends one file on an established association. Returns false when the association is
 * no longer usable (the remaining files are then transient). */
bool store_one(session &s, const file_info &f, int dimse_timeout, os_scu_result *r) {
    T_ASC_PresentationContextID pc =
        ASC_findAcceptedPresentationContextID(s.assoc, f.sop_class.c_str(), f.xfer.c_str());
    if (pc == 0) {
        set_result(r, OS_SEND_PERMANENT, -1,
                   "the PACS accepted no presentation context for SOP class " + f.sop_class);
        return true;
    }
    DcmFileFormat ff;
    OFCondition c = ff.loadFile(f.path.c_str());
    if (c.bad()) {
        set_result(r, OS_SEND_PERMANENT, -1, std::string("cannot read the file: ") + c.text());
        return true;
    }
    T_DIMSE_C_StoreRQ req;
    std::memset(&req, 0, sizeof req);
    req.MessageID = s.assoc->nextMsgID++;
    OFStandard::strlcpy(req.AffectedSOPClassUID, f.sop_class.c_str(), sizeof req.AffectedSOPClassUID);
    OFStandard::strlcpy(req.AffectedSOPInstanceUID, f.sop_instance.c_str(), sizeof req.AffectedSOPInstanceUID);
    req.DataSetType = DIMSE_DATASET_PRESENT;
    req.Priority = DIMSE_PRIORITY_MEDIUM;
    T_DIMSE_C_StoreRSP rsp;
    std::memset(&rsp, 0, sizeof rsp);
    DcmDataset *detail = NULL;
    c = DIMSE_storeUser(s.assoc, pc, &req, NULL, ff.getDataset(), NULL, NULL, DIMSE_NONBLOCKING, dimse_timeout, &rsp,
                        &detail);
    if (c.bad()) {
        delete detail;
        set_result(r, OS_SEND_TRANSIENT, -1, std::string("C-STORE failed: ") + c.text());
        return false;
    }
    OFString comment;
    if (detail) detail->findAndGetOFString(DCM_ErrorComment, comment);
    delete detail;
    int status = rsp.DimseStatus;
    os_send_class cls = os_dicom_store_status_class(status);
    char text[OS_SCU_REASON_MAX];
    if (status == STATUS_Success) text[0] = '\0';
    else
        std::snprintf(text, sizeof text, "C-STORE status 0x%04X%s%s", status, comment.empty() ? "" : ": ",
                      comment.c_str());
    set_result(r, cls, status, text);
    return true;
}

void send_all(const os_scu_peer *p, const std::vector<file_info> &files, const volatile int *cancel,
              os_scu_result *results) {
    size_t n = files.size();
    int acse = p->acse_timeout_s > 0 ? p->acse_timeout_s : DEFAULT_ACSE_TIMEOUT_S;
    int dimse = p->dimse_timeout_s > 0 ? p->dimse_timeout_s : DEFAULT_DIMSE_TIMEOUT_S;

    /* Contexts: one per (SOP class, transfer syntax) of the readable files. */
    std::map<std::pair<std::string, std::string>, int> contexts;
    for (const file_info &f : files)
        if (f.ok) contexts.emplace(std::make_pair(f.sop_class, f.xfer), 0);
    if (contexts.empty()) return; /* every file already has its (permanent) reason */
    if ((int)contexts.size() > MAX_CONTEXTS) {
        set_all(results, n, OS_SEND_PERMANENT, "more than 128 distinct SOP classes and transfer syntaxes in one batch");
        return;
    }

    session s;
    std::string why;
    // The connect timeout is a DCMTK global; every send sets the same configured value.
    dcmConnectionTimeout.set(acse);
    OFCondition c = ASC_initializeNetwork(NET_REQUESTOR, 0, acse, &s.net);
    if (c.bad()) {
        set_all(results, n, OS_SEND_TRANSIENT, std::string("cannot initialise the network: ") + c.text());
        return;
    }
    if (p->tls) {
        if (make_tls(p, s.tls, why).bad()) {
            set_all(results, n, OS_SEND_PERMANENT, why);
            return;
        }
        c = ASC_setTransportLayer(s.net, s.tls.get(), 0);
        if (c.bad()) {
            set_all(results, n, OS_SEND_PERMANENT, std::string("cannot use TLS: ") + c.text());
            return;
        }
    }
    c = ASC_createAssociationParameters(&s.params, MAX_PDU);
    if (c.good()) c = ASC_setAPTitles(s.params, p->calling_ae, p->called_ae, NULL);
    if (c.good()) c = ASC_setTransportLayerType(s.params, p->tls ? OFTrue : OFFalse);
    char peer[300];
    std::snprintf(peer, sizeof peer, "%s:%d", p->host, p->port);
    if (c.good()) c = ASC_setPresentationAddresses(s.params, OFStandard::getHostName().c_str(), peer);
    int id = 1;
    for (auto &ctx : contexts) {
        if (c.bad()) break;
        std::vector<const char *> ts;
        ts.push_back(ctx.first.second.c_str());
        if (ctx.first.second != UID_LittleEndianExplicitTransferSyntax) ts.push_back(UID_LittleEndianExplicitTransferSyntax);
        if (ctx.first.second != UID_LittleEndianImplicitTransferSyntax) ts.push_back(UID_LittleEndianImplicitTransferSyntax);
        c = ASC_addPresentationContext(s.params, (T_ASC_PresentationContextID)id, ctx.first.first.c_str(), ts.data(),
                                       (int)ts.size());
        ctx.second = id;
        id += 2;
    }
    if (c.bad()) {
        set_all(results, n, OS_SEND_PERMANENT, std::string("cannot build the association request: ") + c.text());
        return;
    }

    c = ASC_requestAssociation(s.net, s.params, &s.assoc, NULL, NULL, DUL_NOBLOCK, acse);
    if (c.bad()) {
        if (c == DUL_ASSOCIATIONREJECTED) {
            T_ASC_RejectParameters rej;
            ASC_getRejectParameters(s.params, &rej);
            bool permanent = rej.result == ASC_RESULT_REJECTEDPERMANENT;
            set_all(results, n, permanent ? OS_SEND_PERMANENT : OS_SEND_TRANSIENT,
                    std::string("association rejected (") + (permanent ? "permanent" : "transient") +
                        "): " + reject_reason(rej));
        } else {
            set_all(results, n, OS_SEND_TRANSIENT, std::string("cannot open an association to ") + peer + ": " +
                                                       c.text());
        }
        return;
    }
    s.established = true;
    if (ASC_countAcceptedPresentationContexts(s.params) == 0) {
        set_all(results, n, OS_SEND_PERMANENT, "the PACS accepted none of the proposed SOP classes");
        return; /* the session aborts the association */
    }

    bool usable = true;
    for (size_t i = 0; i < n && usable; i++) {
        if (!files[i].ok) continue;
        if (cancel && *cancel) break; /* the rest stay abandoned */
        usable = store_one(s, files[i], dimse, &results[i]);
    }
    if (!usable) {
        set_all(results, n, OS_SEND_TRANSIENT, "the association was lost before this file was sent");
        return; /* aborted by the session */
    }
    if (ASC_releaseAssociation(s.assoc).good()) s.established = false;
}

} // namespace

extern "C" os_send_class os_dicom_store_status_class(int status) {
    if (status == STATUS_Success || status == 0x0001 || (status & 0xF000) == 0xB000) return OS_SEND_OK;
    if ((status & 0xFF00) == 0xA700) return OS_SEND_TRANSIENT; /* out of resources */
    if ((status & 0xFF00) == 0xA900) return OS_SEND_PERMANENT; /* dataset does not match SOP class */
    if ((status & 0xF000) == 0xC000) return OS_SEND_PERMANENT; /* cannot understand */
    switch (status) {
    case 0x0110: /* processing failure: the peer's trouble, maybe passing */
    case 0x0210: /* duplicate invocation */
    case 0x0213: /* resource limitation */
        return OS_SEND_TRANSIENT;
    }
    if ((status & 0xFF00) == 0x0100 || (status & 0xFF00) == 0x0200) return OS_SEND_PERMANENT; /* 0x0122, 0x0124, ... */
    return OS_SEND_TRANSIENT; /* unknown: let max_age decide */
}

extern "C" const char *os_send_class_name(os_send_class c) {
    switch (c) {
    case OS_SEND_OK: return "ok";
    case OS_SEND_TRANSIENT: return "transient";
    case OS_SEND_PERMANENT: return "permanent";
    case OS_SEND_ABANDONED: return "abandoned";
    }
    return "?";
}

extern "C" void os_dicom_scu_global_init(void) {
    os_dicom_internal_quiet_dcmtk_log();
    // dcmnet leaves Nagle's algorithm on unless TCP_NODELAY=1 is in the environment, and
    // each small DIMSE command would then wait for a delayed ACK. As the listener does.
    setenv("TCP_NODELAY", "1", 0);
    dcmDisableGethostbyaddr.set(OFTrue);
}

extern "C" int os_dicom_scu_check_tls(const os_scu_peer *peer, os_error *err) {
    if (!peer->tls) return 0;
    try {
        std::unique_ptr<DcmTLSTransportLayer> tls;
        std::string why;
        if (make_tls(peer, tls, why).bad()) return os_error_set(err, -EINVAL, "%s", why.c_str());
        return 0;
    } catch (...) {
        return os_error_set(err, -ENOMEM, "cannot set up TLS");
    }
}

extern "C" int os_dicom_send_files(const os_scu_peer *peer, const char *const *paths, size_t n,
                                   const volatile int *cancel, os_scu_result *results, os_send_class *overall,
                                   os_error *err) {
    if (!peer || !peer->calling_ae || !peer->called_ae || !peer->host || peer->port < 1 || peer->port > 65535 ||
        (n && (!paths || !results)))
        return os_error_set(err, -EINVAL, "os_dicom_send_files: incomplete peer or no result array");
    try {
        os_dicom_internal_quiet_dcmtk_log();
        std::vector<file_info> files(n);
        for (size_t i = 0; i < n; i++) {
            set_result(&results[i], OS_SEND_ABANDONED, -1, "not sent");
            files[i].path = paths[i] ? paths[i] : "";
            std::string why;
            files[i].ok = read_meta(files[i], why);
            if (!files[i].ok) set_result(&results[i], OS_SEND_PERMANENT, -1, why);
        }
        if (n) send_all(peer, files, cancel, results);
        if (overall) {
            *overall = OS_SEND_OK;
            for (size_t i = 0; i < n; i++)
                if (results[i].cls != OS_SEND_OK) {
                    *overall = results[i].cls;
                    break;
                }
        }
        return 0;
    } catch (const std::exception &e) {
        return os_error_set(err, -ENOMEM, "sending failed: %s", e.what());
    } catch (...) {
        return os_error_set(err, -ENOMEM, "sending failed");
    }
}
