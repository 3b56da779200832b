/* lib/dicom internal: one-time registration of DCMTK's compression codecs.
 * The registries are never cleaned up: codecs may be in use on any thread until exit,
 * and DCMTK forbids cleanup while another thread decodes. */
#include "codecs.h"

#include <mutex>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcrledrg.h"
#include "dcmtk/dcmdata/dcrleerg.h"
#include "dcmtk/dcmjpeg/djdecode.h"
#include "dcmtk/dcmjpeg/djencode.h"
#include "dcmtk/dcmjpls/djdecode.h"
#include "dcmtk/dcmjpls/djencode.h"
#include "dcmtk/oflog/oflog.h"

static std::once_flag codecs_once;
static std::once_flag quiet_once;

extern "C" void os_dicom_internal_register_codecs(void) {
    std::call_once(codecs_once, [] {
        DJDecoderRegistration::registerCodecs();
        DJLSDecoderRegistration::registerCodecs();
        DcmRLEDecoderRegistration::registerCodecs();
        DJEncoderRegistration::registerCodecs();
        DJLSEncoderRegistration::registerCodecs();
        DcmRLEEncoderRegistration::registerCodecs();
    });
}

extern "C" void os_dicom_internal_quiet_dcmtk(void) {
    /* Only the file-level modules: dcmnet's logger belongs to whoever runs the SCP. */
    std::call_once(quiet_once, [] {
        static const char *const names[] = {"dcmtk.dcmdata", "dcmtk.dcmjpeg", "dcmtk.dcmjpls",
                                            "dcmtk.dcmimgle", "dcmtk.dcmimage"};
        for (const char *n : names) OFLog::getLogger(n).setLogLevel(OFLogger::OFF_LOG_LEVEL);
    });
}
