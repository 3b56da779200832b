/* lib/dicom internal: streams one C-STORE dataset into a file in the incoming folder;
 * see scp_receive.h.
 *
 * Why not DcmSCP::receiveSTORERequest(req, presID, filename): in DCMTK 3.6.7 that path
 * writes through a stdio-buffered DcmOutputFileStream. Its last buffer is flushed when the
 * stream is deleted and that result is not checked, so a disk that fills during the last
 * few kilobytes gives a truncated file reported as received. And when a write fails,
 * DIMSE_receiveDataSetInFile drains the rest with DIMSE_ignoreDataSet, which, if the
 * failing PDV was the dataset's last one, waits for PDVs that never come (the SCU is
 * waiting for our response) until the DIMSE timeout aborts the association.
 *
 * Here the stream's consumer is a plain file descriptor: every write(2) is checked; after
 * the first failure the consumer keeps accepting (and dropping) bytes, so DCMTK reads the
 * dataset to its end as usual, the association stays in step, and the caller answers
 * Out of Resources with the reason. */
#include "scp_receive.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcmetinf.h"
#include "dcmtk/dcmdata/dcostrma.h"
#include "dcmtk/dcmdata/dcuid.h"

namespace {

/* A DcmConsumer over a file descriptor that remembers the first error instead of
 * reporting it, so the network side keeps reading. */
class FdConsumer : public DcmConsumer {
public:
    FdConsumer(int fd, int err) : fd_(fd), errno_(err) {}
    OFBool good() const override { return OFTrue; }
    OFCondition status() const override { return EC_Normal; }
    OFBool isFlushed() const override { return OFTrue; }
    offile_off_t avail() const override { return 1 << 30; }
    void flush() override {}

    offile_off_t write(const void *buf, offile_off_t len) override {
        const char *p = static_cast<const char *>(buf);
        offile_off_t left = len;
        while (errno_ == 0 && left > 0) {
            ssize_t n = ::write(fd_, p, static_cast<size_t>(left));
            if (n < 0) {
                if (errno == EINTR) continue;
                errno_ = errno;
            } else if (n == 0) {
                errno_ = ENOSPC; // a regular file that accepts nothing is full
            } else {
                p += n;
                left -= n;
            }
        }
        return len;
    }

    int error() const { return errno_; }

private:
    int fd_;
    int errno_;
};

class FdStream : public DcmOutputStream {
public:
    explicit FdStream(FdConsumer *c) : DcmOutputStream(c) {}
};

/* The meta header DCMTK's own bit-preserving receiver writes (DIMSE_createFilestream),
 * with the transfer syntax of the presentation context the dataset arrives on. */
OFCondition write_meta_header(const os_scp_receive_request &rq, DcmOutputStream &out) {
    DcmMetaInfo meta;
    const Uint8 version[2] = {0, 1};
    OFCondition c = meta.putAndInsertUint32(DCM_FileMetaInformationGroupLength, 0);
    if (c.good()) c = meta.putAndInsertUint8Array(DCM_FileMetaInformationVersion, version, 2);
    if (c.good()) c = meta.putAndInsertString(DCM_MediaStorageSOPClassUID, rq.req->AffectedSOPClassUID);
    if (c.good())
        c = meta.putAndInsertString(DCM_MediaStorageSOPInstanceUID, rq.req->AffectedSOPInstanceUID);
    if (c.good()) c = meta.putAndInsertString(DCM_TransferSyntaxUID, rq.transfer_syntax_uid);
    if (c.good()) c = meta.putAndInsertString(DCM_ImplementationClassUID, OFFIS_IMPLEMENTATION_CLASS_UID);
    if (c.good())
        c = meta.putAndInsertString(DCM_ImplementationVersionName, OFFIS_DTK_IMPLEMENTATION_VERSION_NAME);
    if (c.good() && rq.calling_ae && *rq.calling_ae)
        c = meta.putAndInsertString(DCM_SourceApplicationEntityTitle, rq.calling_ae);
    if (c.good())
        c = meta.computeGroupLengthAndPadding(EGL_withGL, EPD_noChange, META_HEADER_DEFAULT_TRANSFERSYNTAX,
                                              EET_UndefinedLength);
    if (c.bad()) return c;
    meta.transferInit();
    c = meta.write(out, META_HEADER_DEFAULT_TRANSFERSYNTAX, EET_ExplicitLength, NULL);
    meta.transferEnd();
    return c;
}

} // namespace

OFCondition os_scp_receive_file(const os_scp_receive_request &rq, os_scp_receive_result *res) {
    res->path.clear();
    res->io_errno = 0;
    res->io_step = NULL;

    std::string tmpl = std::string(rq.dir) + "/in-XXXXXX.part";
    int fd = mkostemps(&tmpl[0], 5, O_CLOEXEC);
    int create_errno = fd < 0 ? errno : 0;
    if (fd < 0) res->io_step = "create";

    FdConsumer sink(fd, create_errno);
    FdStream stream(&sink);
    if (fd >= 0 && write_meta_header(rq, stream).bad() && sink.error() == 0) {
        // Not an I/O error but a header DCMTK refused to build (a malformed UID in the
        // request): the dataset is still drained below so the SCU gets a status.
        res->io_errno = EINVAL;
        res->io_step = "write";
    }

    T_ASC_PresentationContextID pid = rq.pres_id;
    T_DIMSE_BlockingMode mode = rq.timeout_s > 0 ? DIMSE_NONBLOCKING : DIMSE_BLOCKING;
    OFCondition cond = DIMSE_receiveDataSetInFile(rq.assoc, mode, rq.timeout_s, &pid, &stream, NULL, NULL);
    if (cond.good() && pid != rq.pres_id)
        cond = makeDcmnetCondition(DIMSEC_INVALIDPRESENTATIONCONTEXTID, OF_error,
                                   "DIMSE: presentation contexts of command and data set differ");

    if (fd >= 0) {
        if (res->io_errno == 0 && sink.error() != 0) {
            res->io_errno = sink.error();
            res->io_step = "write";
        }
        if (close(fd) != 0 && res->io_errno == 0 && cond.good()) {
            res->io_errno = errno;
            res->io_step = "close";
        }
        if (cond.bad() || res->io_errno != 0)
            unlink(tmpl.c_str());
        else
            res->path = tmpl;
    } else {
        res->io_errno = create_errno;
    }
    return cond;
}
