/* lib/dicom internal: process-wide DCMTK set-up. The codec registries and loggers are
 * global and not safe to change from two threads at once, so each is done exactly once. */
#ifndef OS_DICOM_CODECS_H
#define OS_DICOM_CODECS_H

#ifdef __cplusplus
extern "C" {
#endif

/* Registers the JPEG lossless, JPEG-LS and RLE decoders and encoders exactly once,
 * whichever thread gets here first; later calls return at once. */
void os_dicom_internal_register_codecs(void);

/* Silences DCMTK's own loggers for the modules used to read and write files
 * (dcmdata and the codecs), once: lib/ never prints, and every failure they would
 * log is reported through os_error instead. */
void os_dicom_internal_quiet_dcmtk(void);

#ifdef __cplusplus
}
#endif
#endif
