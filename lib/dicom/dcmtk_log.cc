/* lib/dicom internal: keeps DCMTK's own logger (oflog) quiet; see dcmtk_log.h. */
#include "dcmtk_log.h"

#include <cstdlib>
#include <cstring>
#include <mutex>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/oflog/oflog.h"

void os_dicom_internal_quiet_dcmtk_log(void) {
    static std::once_flag once;
    try {
        std::call_once(once, [] {
            // DCMTK reports association and DIMSE details at INFO, including values
            // from the peer; the node logs what matters itself, without patient data.
            OFLogger::LogLevel level = OFLogger::WARN_LOG_LEVEL;
            const char *debug = getenv("OS_DCMTK_DEBUG");
            if (debug && *debug)
                level = strcmp(debug, "trace") == 0 ? OFLogger::TRACE_LOG_LEVEL
                                                    : OFLogger::DEBUG_LOG_LEVEL;
            OFLog::configure(level);
        });
    } catch (...) {
        // Logging setup is best effort; DCMTK's default is usable.
    }
}
