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

#ifdef __cplusplus
}
#endif
#endif
