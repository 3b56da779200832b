/* The node's configuration: conf/osteoscout.conf (INI, parsed with inih) plus
 * command-line overrides `--set section.key=value`. Unknown keys and bad values are
 * errors naming the file, the line and the reason. */
#ifndef OSTEOSCOUT_CONFIG_H
#define OSTEOSCOUT_CONFIG_H

#include <stddef.h>
#include "osteoscout/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OS_AE_MAX 17 /* 16 characters + NUL */
#define OS_MAX_CALLERS 64

typedef enum os_other_objects { OS_OTHER_DISCARD = 0, OS_OTHER_REJECT = 1 } os_other_objects;

typedef struct os_caller {
    char ae_title[OS_AE_MAX]; /* "*" matches any AE title */
    char host[256];           /* empty: any host */
} os_caller;

/* [destination NAME]: a PACS the sender delivers results to. */
#define OS_MAX_DESTINATIONS 16
#define OS_DEST_NAME_MAX 33 /* 32 characters + NUL: letters, digits, '-' and '_' */
#define OS_OUTPUT_SR 1      /* bits of os_destination.outputs */
#define OS_OUTPUT_SC 2

typedef struct os_destination {
    char name[OS_DEST_NAME_MAX];
    char ae_title[OS_AE_MAX]; /* called AE title */
    char host[256];
    int port;
    int outputs;       /* OS_OUTPUT_* bits; default SR and SC */
    int max_age_hours; /* give up (dead) this long after a file was queued */
    int tls;           /* 1: DICOM over TLS (BCP 195 profile) */
    char tls_ca_file[1024];   /* trusted CA certificates (PEM); verifies the peer when set */
    char tls_cert_file[1024]; /* our certificate (PEM), for peers that require client auth */
    char tls_key_file[1024];  /* its private key (PEM) */
} os_destination;

/* [model NAME]: a risk model run on every study, served by a plugin (plugin.h). */
#define OS_MAX_MODELS 8
#define OS_MODEL_NAME_MAX 33   /* 32 characters + NUL: letters, digits, '-' and '_' */
#define OS_MODEL_MAX_PARAMS 8  /* keys other than plugin, weights and threads */

typedef struct os_model_param {
    char key[64];
    char value[512];
} os_model_param;

typedef struct os_model_config {
    char name[OS_MODEL_NAME_MAX];
    char plugin[1024];  /* a plugin name, looked up in node.plugin_dir, or a path with a '/' */
    char weights[1024]; /* the model file the plugin loads ("" when it needs none) */
    int threads;        /* compute threads per worker; 0: online CPUs / workers.count */
    /* Any other key of the section, handed to the plugin, which refuses those it does not know. */
    os_model_param params[OS_MODEL_MAX_PARAMS];
    int n_params;
} os_model_config;

typedef struct os_config {
    char path[4096]; /* the file it was read from, or "" for defaults only */

    /* [node] */
    char node_ae_title[OS_AE_MAX];
    int node_port;
    char node_data_dir[4096];
    os_caller node_allowed_callers[OS_MAX_CALLERS];
    int node_n_allowed_callers;
    int node_max_associations;
    os_other_objects node_other_objects;
    int node_acse_timeout_s;
    int node_dimse_timeout_s;
    int node_min_free_mb;
    char node_name[256]; /* lease owner name; default: host name */
    char node_plugin_dir[4096]; /* where [model] plugins given by name are found */

    /* [series] */
    int series_quiet_seconds;
    int series_min_slices;
    double series_max_thickness_mm;
    double series_min_z_coverage_mm;
    double series_max_tilt_deg;

    /* [workers] */
    int workers_count;
    int workers_max_attempts;
    int workers_lease_seconds;
    int workers_retry_delay_s;

    /* [measure] */
    double measure_bmd_osteoporosis_hu;
    double measure_bmd_low_hu;
    double measure_phase_offset_noncontrast_hu;
    double measure_phase_offset_arterial_hu;
    double measure_phase_offset_portal_hu;
    double measure_smi_cutoff_male;
    double measure_smi_cutoff_female;
    double measure_trabecular_erosion_mm;

    /* [sender] */
    int sender_backoff_first_s; /* first retry delay; doubles per failed attempt */
    int sender_backoff_max_s;   /* cap of the delay */
    int sender_acse_timeout_s;  /* connect and association negotiation */
    int sender_dimse_timeout_s; /* each C-STORE response */

    /* [destination NAME] sections, in file order */
    os_destination destinations[OS_MAX_DESTINATIONS];
    int n_destinations;

    /* [model NAME] sections, in file order */
    os_model_config models[OS_MAX_MODELS];
    int n_models;

    /* [database] */
    char database_path[4096]; /* default: <data_dir>/osteoscout.db */
    int database_busy_timeout_ms;

    /* [log] */
    char log_level[16];
    int log_phi;
} os_config;

void os_config_defaults(os_config *cfg);
/* path may be NULL (defaults only). overrides are "section.key=value" strings. */
int os_config_load(const char *path, const char *const *overrides, size_t n_overrides, os_config *cfg,
                   os_error *err);
/* Derived paths. */
void os_config_spool_dir(const os_config *cfg, char *out, size_t outlen);
void os_config_db_path(const os_config *cfg, char *out, size_t outlen);
/* Returns 1 when calling_ae (from peer_host) is on the allow-list. */
int os_config_caller_allowed(const os_config *cfg, const char *calling_ae, const char *peer_host);
/* The destination called name, or NULL. */
const os_destination *os_config_destination(const os_config *cfg, const char *name);
/* The model section called name, or NULL. */
const os_model_config *os_config_model(const os_config *cfg, const char *name);
/* OS_OUTPUT_SR for "sr", OS_OUTPUT_SC for "sc", 0 for anything else. */
int os_config_output_bit(const char *kind);

#ifdef __cplusplus
}
#endif
#endif
