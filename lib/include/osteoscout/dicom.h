/* lib/dicom: the only code that includes DCMTK (C++ inside, C outside).
 * Reading headers and pixels of CT files, writing CT files (phantoms), UIDs,
 * and the C-STORE SCP that the daemon's listener drives through callbacks. */
#ifndef OSTEOSCOUT_DICOM_H
#define OSTEOSCOUT_DICOM_H

#include <stddef.h>
#include <stdint.h>
#include "osteoscout/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OS_UID_MAX 65

/* Transfer syntax UIDs the node accepts and stores as received. */
#define OS_TS_IMPLICIT_LE "1.2.840.10008.1.2"
#define OS_TS_EXPLICIT_LE "1.2.840.10008.1.2.1"
#define OS_TS_JPEG_LOSSLESS_SV1 "1.2.840.10008.1.2.4.70"
#define OS_TS_JPEG_LS_LOSSLESS "1.2.840.10008.1.2.4.80"
#define OS_TS_RLE "1.2.840.10008.1.2.5"
#define OS_TS_J2K_LOSSLESS "1.2.840.10008.1.2.4.90"

#define OS_SOP_CT "1.2.840.10008.5.1.4.1.1.2"
#define OS_SOP_ENHANCED_CT "1.2.840.10008.5.1.4.1.1.2.1"

/* DIMSE statuses the SCP answers with. */
#define OS_STATUS_SUCCESS 0x0000
#define OS_STATUS_OUT_OF_RESOURCES 0xA700         /* disk full, database busy */
#define OS_STATUS_DATASET_MISMATCH 0xA900         /* dataset does not match SOP class / command */
#define OS_STATUS_CANNOT_UNDERSTAND 0xC000        /* unreadable, truncated, missing UIDs */
#define OS_STATUS_SOP_CLASS_NOT_SUPPORTED 0x0122  /* other_objects = reject */

/* What the node needs to know about one stored file, read from its header. */
typedef struct os_dicom_header {
    char sop_class_uid[OS_UID_MAX];
    char sop_instance_uid[OS_UID_MAX];
    char study_uid[OS_UID_MAX];
    char series_uid[OS_UID_MAX];
    char transfer_syntax_uid[OS_UID_MAX]; /* from the file meta header */
    char modality[17];
    char series_description[65];
    char convolution_kernel[65]; /* multi-valued joined with '\' */
    char image_type[129];        /* e.g. "ORIGINAL\PRIMARY\AXIAL" */
    int series_number;           /* 0 when absent */
    int instance_number;         /* 0 when absent */
    int has_orientation;
    double orientation[6]; /* ImageOrientationPatient (first frame for enhanced CT) */
    int has_position;
    double position[3];     /* ImagePositionPatient (first frame for enhanced CT) */
    double position_last[3];/* of the last frame (= position for single-frame files) */
    double slice_thickness; /* mm, 0 when absent */
    double pixel_spacing[2];/* row spacing, column spacing (mm); 0 when absent */
    int rows, cols, frames;
    double patient_size_m;  /* PatientSize, 0 when absent */
    char patient_sex[17];
    int pixel_data_ok;      /* 1 when Pixel Data is present and complete for rows×cols×frames */
} os_dicom_header;

/* Parses the whole file (so a truncated or garbled file is an error). */
int os_dicom_read_header(const char *path, os_dicom_header *out, os_error *err);

/* Geometry of one frame (a plain CT file has one; an Enhanced CT file one per frame).
 * `source` is left 0 for the caller to fill. */
typedef struct os_slice_geom {
    size_t source;
    int frame;
    double position[3];
    double orientation[6];
    double pixel_spacing[2]; /* row spacing (between rows), column spacing (between columns) */
    double thickness;
    int rows, cols;
    double rescale_slope, rescale_intercept;
    /* Of the file the frame is in: what a report points back at. */
    char sop_class_uid[OS_UID_MAX];
    char sop_instance_uid[OS_UID_MAX];
} os_slice_geom;

/* Per-frame geometry of a CT or Enhanced CT file; *frames is malloc'd (caller frees). */
int os_dicom_read_geometry(const char *path, os_slice_geom **frames, size_t *n, os_error *err);

/* Decodes one frame (any accepted transfer syntax; J2K with OpenJPEG), applies the
 * rescale and writes rows×cols Hounsfield units, rounded and clamped to int16. */
int os_dicom_read_frame_hu(const char *path, int frame, int16_t *dst, int rows, int cols,
                           os_error *err);

/* A new globally unique UID under the 2.25 (UUID) root. */
void os_dicom_new_uid(char out[OS_UID_MAX]);

/* Writing a single-frame CT Image Storage file (phantoms, tests). Stored values are
 * written as signed 16-bit with the given rescale. */
typedef struct os_ct_write {
    const char *transfer_syntax_uid; /* any OS_TS_* (J2K through OpenJPEG) */
    const char *patient_name, *patient_id, *patient_sex; /* sex "M"/"F"/"O" or NULL */
    double patient_size_m; /* 0: omitted */
    const char *patient_age; /* e.g. "065Y" or NULL */
    const char *study_uid, *series_uid, *sop_uid;
    const char *study_date, *study_time; /* YYYYMMDD, HHMMSS */
    const char *accession_number;
    const char *study_description, *series_description;
    const char *manufacturer, *convolution_kernel;
    const char *image_type; /* default "ORIGINAL\PRIMARY\AXIAL" */
    int series_number, instance_number;
    double position[3], orientation[6];
    double pixel_spacing[2];
    double slice_thickness;
    double kvp;
    int rows, cols;
    double rescale_slope, rescale_intercept;
} os_ct_write;

int os_dicom_write_ct(const os_ct_write *w, const int16_t *stored, const char *path, os_error *err);

/* ---------------------------------------------------------------------------------
 * The C-STORE SCP. DCMTK's SCP pool runs the associations on its own threads and
 * calls back into C. */

typedef struct os_dicom_incoming {
    const char *calling_ae;
    const char *called_ae;
    const char *peer_host;
    const char *sop_class_uid;    /* from the C-STORE request */
    const char *sop_instance_uid; /* from the C-STORE request */
    const char *tmp_path;         /* the dataset as received, with a file meta header */
    const os_dicom_header *header;/* parsed from tmp_path; NULL when it could not be parsed */
    const char *parse_error;      /* why header is NULL */
} os_dicom_incoming;

typedef struct os_dicom_scp_callbacks {
    /* 0: accept the association; otherwise reject it (A-ASSOCIATE-RJ, calling AE not
     * recognized) after logging `reason`. */
    int (*check_caller)(void *ud, const char *calling_ae, const char *peer_host, char *reason,
                        size_t reason_len);
    /* Decides the DIMSE status of one C-STORE. Must leave nothing at in->tmp_path
     * (rename it into place or unlink it). `reason` becomes the Error Comment. */
    uint16_t (*on_store)(void *ud, const os_dicom_incoming *in, char *reason, size_t reason_len);
    /* Association opened/closed, for counters and logs; may be NULL. */
    void (*on_association)(void *ud, int opened, const char *calling_ae, const char *peer_host);
    void *ud;
} os_dicom_scp_callbacks;

typedef struct os_dicom_scp_config {
    const char *ae_title;
    int port;
    int max_associations;
    int acse_timeout_s;
    int dimse_timeout_s;
    const char *incoming_dir; /* where datasets are streamed before on_store */
    /* Accept every storage SOP class at negotiation, so on_store can discard or refuse
     * others with a status instead of failing the association. */
    int accept_all_storage;
    os_dicom_scp_callbacks cb;
} os_dicom_scp_config;

typedef struct os_dicom_scp os_dicom_scp;

int os_dicom_scp_create(const os_dicom_scp_config *cfg, os_dicom_scp **out, os_error *err);
/* Binds the port and serves until os_dicom_scp_stop; blocks (run it on its own thread).
 * Returns 0 after a requested stop. */
int os_dicom_scp_run(os_dicom_scp *scp, os_error *err);
/* Thread-safe: stop accepting, let associations in flight finish, make run() return. */
void os_dicom_scp_stop(os_dicom_scp *scp);
void os_dicom_scp_destroy(os_dicom_scp *scp);

#ifdef __cplusplus
}
#endif
#endif
