/* lib/dicom internal: DCMTK logs through its own oflog to stderr; lib/ code must speak
 * through os_log only, so DCMTK is kept to warnings and errors unless someone debugging
 * asks for more with OS_DCMTK_DEBUG=1 (or =trace). */
#ifndef OS_DICOM_DCMTK_LOG_H
#define OS_DICOM_DCMTK_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

/* Configures DCMTK's logging once per process; later calls return at once. */
void os_dicom_internal_quiet_dcmtk_log(void);

#ifdef __cplusplus
}
#endif
#endif
