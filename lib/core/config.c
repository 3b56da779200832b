/* Configuration: defaults, the INI file (inih) and `--set section.key=value` overrides.
 * One table names every key, so the parser, the overrides and the error messages agree. */
#include "osteoscout/config.h"

#include <ctype.h>
#include <stddef.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

typedef enum { K_INT, K_DOUBLE, K_BOOL, K_STRING, K_AE, K_CALLERS, K_OTHER, K_LOGLEVEL, K_OUTPUTS } key_kind;

typedef struct key_def {
    const char *section, *name;
    key_kind kind;
    size_t offset, size; /* size: buffer size for strings */
    double min, max;     /* numeric range */
} key_def;

#define F(field) offsetof(os_config, field), sizeof(((os_config *)0)->field)

static const key_def keys[] = {
    {"node", "ae_title", K_AE, F(node_ae_title), 0, 0},
    {"node", "port", K_INT, F(node_port), 1, 65535},
    {"node", "data_dir", K_STRING, F(node_data_dir), 0, 0},
    {"node", "allowed_callers", K_CALLERS, F(node_allowed_callers), 0, 0},
    {"node", "max_associations", K_INT, F(node_max_associations), 1, 1000},
    {"node", "other_objects", K_OTHER, F(node_other_objects), 0, 0},
    {"node", "acse_timeout", K_INT, F(node_acse_timeout_s), 1, 3600},
    {"node", "dimse_timeout", K_INT, F(node_dimse_timeout_s), 1, 3600},
    {"node", "min_free_mb", K_INT, F(node_min_free_mb), 0, 10000000},
    {"node", "name", K_STRING, F(node_name), 0, 0},
    {"node", "plugin_dir", K_STRING, F(node_plugin_dir), 0, 0},
    {"series", "quiet_seconds", K_INT, F(series_quiet_seconds), 1, 86400},
    {"series", "min_slices", K_INT, F(series_min_slices), 2, 100000},
    {"series", "max_thickness_mm", K_DOUBLE, F(series_max_thickness_mm), 0.1, 100},
    {"series", "min_z_coverage_mm", K_DOUBLE, F(series_min_z_coverage_mm), 0, 2000},
    {"series", "max_tilt_deg", K_DOUBLE, F(series_max_tilt_deg), 0, 90},
    {"workers", "count", K_INT, F(workers_count), 1, 64},
    {"workers", "max_attempts", K_INT, F(workers_max_attempts), 1, 100},
    {"workers", "lease_seconds", K_INT, F(workers_lease_seconds), 5, 86400},
    {"workers", "retry_delay_seconds", K_INT, F(workers_retry_delay_s), 0, 86400},
    {"measure", "bmd_osteoporosis_hu", K_DOUBLE, F(measure_bmd_osteoporosis_hu), -500, 1500},
    {"measure", "bmd_low_hu", K_DOUBLE, F(measure_bmd_low_hu), -500, 1500},
    {"measure", "phase_offset_noncontrast_hu", K_DOUBLE, F(measure_phase_offset_noncontrast_hu), -500, 500},
    {"measure", "phase_offset_arterial_hu", K_DOUBLE, F(measure_phase_offset_arterial_hu), -500, 500},
    {"measure", "phase_offset_portal_hu", K_DOUBLE, F(measure_phase_offset_portal_hu), -500, 500},
    {"measure", "smi_cutoff_male", K_DOUBLE, F(measure_smi_cutoff_male), 0, 200},
    {"measure", "smi_cutoff_female", K_DOUBLE, F(measure_smi_cutoff_female), 0, 200},
    {"measure", "trabecular_erosion_mm", K_DOUBLE, F(measure_trabecular_erosion_mm), 0, 20},
    {"database", "path", K_STRING, F(database_path), 0, 0},
    {"database", "busy_timeout_ms", K_INT, F(database_busy_timeout_ms), 0, 600000},
    {"log", "level", K_LOGLEVEL, F(log_level), 0, 0},
    {"log", "phi", K_BOOL, F(log_phi), 0, 0},
    {"sender", "backoff_first_seconds", K_INT, F(sender_backoff_first_s), 1, 86400},
    {"sender", "backoff_max_seconds", K_INT, F(sender_backoff_max_s), 1, 7 * 86400},
    {"sender", "acse_timeout", K_INT, F(sender_acse_timeout_s), 1, 3600},
    {"sender", "dimse_timeout", K_INT, F(sender_dimse_timeout_s), 1, 3600},
};

/* Keys of a [destination NAME] section; offsets are into os_destination. */
#define FD(field) offsetof(os_destination, field), sizeof(((os_destination *)0)->field)
static const key_def dest_keys[] = {
    {"destination", "ae_title", K_AE, FD(ae_title), 0, 0},
    {"destination", "host", K_STRING, FD(host), 0, 0},
    {"destination", "port", K_INT, FD(port), 1, 65535},
    {"destination", "outputs", K_OUTPUTS, FD(outputs), 0, 0},
    {"destination", "max_age_hours", K_INT, FD(max_age_hours), 1, 24 * 365},
    {"destination", "tls", K_BOOL, FD(tls), 0, 0},
    {"destination", "tls_ca_file", K_STRING, FD(tls_ca_file), 0, 0},
    {"destination", "tls_cert_file", K_STRING, FD(tls_cert_file), 0, 0},
    {"destination", "tls_key_file", K_STRING, FD(tls_key_file), 0, 0},
};

/* Keys of a [model NAME] section that the host itself reads; offsets are into os_model_config.
 * Any other key is kept as a parameter for the plugin. */
#define FM(field) offsetof(os_model_config, field), sizeof(((os_model_config *)0)->field)
static const key_def model_keys[] = {
    {"model", "plugin", K_STRING, FM(plugin), 0, 0},
    {"model", "weights", K_STRING, FM(weights), 0, 0},
    {"model", "threads", K_INT, FM(threads), 0, 256},
};

#ifndef OS_PLUGIN_DIR
#define OS_PLUGIN_DIR "/usr/lib/osteoscout/plugins"
#endif

void os_config_defaults(os_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->node_ae_title, sizeof cfg->node_ae_title, "OSTEOSCOUT");
    cfg->node_port = 11112;
    snprintf(cfg->node_data_dir, sizeof cfg->node_data_dir, "/var/lib/osteoscout");
    snprintf(cfg->node_allowed_callers[0].ae_title, OS_AE_MAX, "*");
    cfg->node_n_allowed_callers = 1;
    cfg->node_max_associations = 8;
    cfg->node_other_objects = OS_OTHER_DISCARD;
    cfg->node_acse_timeout_s = 30;
    cfg->node_dimse_timeout_s = 60;
    cfg->node_min_free_mb = 1024;
    if (gethostname(cfg->node_name, sizeof cfg->node_name - 1) != 0 || !cfg->node_name[0])
        snprintf(cfg->node_name, sizeof cfg->node_name, "osteoscout");
    snprintf(cfg->node_plugin_dir, sizeof cfg->node_plugin_dir, "%s", OS_PLUGIN_DIR);
    cfg->series_quiet_seconds = 20;
    cfg->series_min_slices = 30;
    cfg->series_max_thickness_mm = 5.0;
    cfg->series_min_z_coverage_mm = 80.0;
    cfg->series_max_tilt_deg = 10.0;
    cfg->workers_count = 2;
    cfg->workers_max_attempts = 3;
    cfg->workers_lease_seconds = 300;
    cfg->workers_retry_delay_s = 60;
    cfg->measure_bmd_osteoporosis_hu = 110;
    cfg->measure_bmd_low_hu = 160;
    cfg->measure_smi_cutoff_male = 52.4;
    cfg->measure_smi_cutoff_female = 38.5;
    cfg->measure_trabecular_erosion_mm = 4;
    cfg->database_busy_timeout_ms = 10000;
    snprintf(cfg->log_level, sizeof cfg->log_level, "info");
    cfg->log_phi = 0;
    cfg->sender_backoff_first_s = 30;
    cfg->sender_backoff_max_s = 3600;
    cfg->sender_acse_timeout_s = 30;
    cfg->sender_dimse_timeout_s = 60;
}

int os_config_output_bit(const char *kind) {
    if (kind && !strcmp(kind, "sr")) return OS_OUTPUT_SR;
    if (kind && !strcmp(kind, "sc")) return OS_OUTPUT_SC;
    return 0;
}

const os_destination *os_config_destination(const os_config *cfg, const char *name) {
    for (int i = 0; i < cfg->n_destinations; i++)
        if (!strcmp(cfg->destinations[i].name, name)) return &cfg->destinations[i];
    return NULL;
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    char *end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1])) *--end = '\0';
    return s;
}

/* DICOM AE titles: 1–16 characters of the default repertoire, no backslash or controls. */
static int valid_ae(const char *ae, char *why, size_t whylen) {
    size_t n = strlen(ae);
    if (n == 0 || n > 16) {
        snprintf(why, whylen, "an AE title has 1 to 16 characters, \"%s\" has %zu", ae, n);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)ae[i];
        if (c < 0x20 || c > 0x7e || c == '\\') {
            snprintf(why, whylen, "AE title \"%s\" contains a character DICOM does not allow", ae);
            return 0;
        }
    }
    return 1;
}

static int parse_callers(os_config *cfg, const char *value, char *why, size_t whylen) {
    char buf[8192];
    snprintf(buf, sizeof buf, "%s", value);
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        tok = trim(tok);
        if (!*tok) continue;
        if (n >= OS_MAX_CALLERS) {
            snprintf(why, whylen, "more than %d allowed callers", OS_MAX_CALLERS);
            return -1;
        }
        os_caller *c = &cfg->node_allowed_callers[n];
        memset(c, 0, sizeof *c);
        char *at = strchr(tok, '@');
        if (at) {
            *at = '\0';
            snprintf(c->host, sizeof c->host, "%s", trim(at + 1));
            if (!c->host[0]) {
                snprintf(why, whylen, "\"%s@\" names no host", tok);
                return -1;
            }
        }
        char *ae = trim(tok);
        if (strcmp(ae, "*") != 0 && !valid_ae(ae, why, whylen)) return -1;
        snprintf(c->ae_title, sizeof c->ae_title, "%s", ae);
        n++;
    }
    if (n == 0) {
        snprintf(why, whylen, "the list is empty: use * to allow any caller");
        return -1;
    }
    cfg->node_n_allowed_callers = n;
    return 0;
}

static int parse_number(const char *value, key_kind kind, double *out) {
    char *end = NULL;
    errno = 0;
    double v = kind == K_INT ? (double)strtol(value, &end, 10) : strtod(value, &end);
    if (errno || end == value || *trim(end) != '\0') return -1;
    *out = v;
    return 0;
}

static int parse_outputs(const char *value, int *out, char *why, size_t whylen) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", value);
    int bits = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        tok = trim(tok);
        int bit = os_config_output_bit(tok);
        if (!bit) {
            snprintf(why, whylen, "\"%s\" is not an output (sr, sc)", tok);
            return -1;
        }
        bits |= bit;
    }
    if (!bits) {
        snprintf(why, whylen, "outputs is empty: list sr, sc or both");
        return -1;
    }
    *out = bits;
    return 0;
}

/* "destination NAME" → the destination called NAME, created (with its defaults) on first
 * sight. NULL with a reason when the name is bad or there are too many. */
static os_destination *destination_for(os_config *cfg, const char *section, char *why, size_t whylen) {
    char name[256];
    snprintf(name, sizeof name, "%s", section + strlen("destination"));
    char *n = trim(name);
    size_t len = strlen(n);
    if (len == 0 || len >= OS_DEST_NAME_MAX) {
        snprintf(why, whylen, "[%s]: a destination needs a name of 1 to %d characters: [destination PACS]",
                 section, OS_DEST_NAME_MAX - 1);
        return NULL;
    }
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)n[i]) && n[i] != '-' && n[i] != '_') {
            snprintf(why, whylen, "[%s]: a destination name has only letters, digits, - and _", section);
            return NULL;
        }
    for (int i = 0; i < cfg->n_destinations; i++)
        if (!strcmp(cfg->destinations[i].name, n)) return &cfg->destinations[i];
    if (cfg->n_destinations >= OS_MAX_DESTINATIONS) {
        snprintf(why, whylen, "[%s]: more than %d destinations", section, OS_MAX_DESTINATIONS);
        return NULL;
    }
    os_destination *d = &cfg->destinations[cfg->n_destinations++];
    memset(d, 0, sizeof *d);
    snprintf(d->name, sizeof d->name, "%s", n);
    d->outputs = OS_OUTPUT_SR | OS_OUTPUT_SC;
    d->max_age_hours = 72;
    return d;
}

static int is_destination_section(const char *section) {
    return !strncmp(section, "destination", 11) && (section[11] == '\0' || isspace((unsigned char)section[11]));
}

const os_model_config *os_config_model(const os_config *cfg, const char *name) {
    for (int i = 0; i < cfg->n_models; i++)
        if (!strcmp(cfg->models[i].name, name)) return &cfg->models[i];
    return NULL;
}

static int is_model_section(const char *section) {
    return !strncmp(section, "model", 5) && (section[5] == '\0' || isspace((unsigned char)section[5]));
}

/* "model NAME" → the model called NAME, created on first sight; NULL with a reason. */
static os_model_config *model_for(os_config *cfg, const char *section, char *why, size_t whylen) {
    char name[256];
    snprintf(name, sizeof name, "%s", section + strlen("model"));
    char *n = trim(name);
    size_t len = strlen(n);
    if (len == 0 || len >= OS_MODEL_NAME_MAX) {
        snprintf(why, whylen, "[%s]: a model needs a name of 1 to %d characters: [model multitask]", section,
                 OS_MODEL_NAME_MAX - 1);
        return NULL;
    }
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)n[i]) && n[i] != '-' && n[i] != '_') {
            snprintf(why, whylen, "[%s]: a model name has only letters, digits, - and _", section);
            return NULL;
        }
    for (int i = 0; i < cfg->n_models; i++)
        if (!strcmp(cfg->models[i].name, n)) return &cfg->models[i];
    if (cfg->n_models >= OS_MAX_MODELS) {
        snprintf(why, whylen, "[%s]: more than %d models", section, OS_MAX_MODELS);
        return NULL;
    }
    os_model_config *m = &cfg->models[cfg->n_models++];
    memset(m, 0, sizeof *m);
    snprintf(m->name, sizeof m->name, "%s", n);
    return m;
}

/* A key of a model section that the host does not read: kept for the plugin. */
static int model_param(os_model_config *m, const char *section, const char *name, const char *raw, char *why,
                       size_t whylen) {
    size_t klen = strlen(name);
    int ok = klen > 0 && klen < sizeof m->params[0].key;
    for (size_t i = 0; ok && i < klen; i++)
        ok = islower((unsigned char)name[i]) || isdigit((unsigned char)name[i]) || name[i] == '_';
    if (!ok) {
        snprintf(why, whylen, "[%s]: \"%s\" is not a valid key (lower-case letters, digits and _)", section, name);
        return -1;
    }
    char value_buf[8192];
    snprintf(value_buf, sizeof value_buf, "%s", raw);
    char *value = trim(value_buf);
    if (strlen(value) >= sizeof m->params[0].value) {
        snprintf(why, whylen, "%s.%s: value too long", section, name);
        return -1;
    }
    os_model_param *p = NULL;
    for (int i = 0; i < m->n_params; i++)
        if (!strcmp(m->params[i].key, name)) p = &m->params[i];
    if (!p) {
        if (m->n_params >= OS_MODEL_MAX_PARAMS) {
            snprintf(why, whylen, "[%s]: more than %d plugin parameters", section, OS_MODEL_MAX_PARAMS);
            return -1;
        }
        p = &m->params[m->n_params++];
        snprintf(p->key, sizeof p->key, "%s", name);
    }
    snprintf(p->value, sizeof p->value, "%s", value);
    return 0;
}

/* Applies one key; on failure writes the reason into why and returns -1. */
static int apply(os_config *cfg, const char *section, const char *name, const char *raw, char *why,
                 size_t whylen) {
    const key_def *table = keys;
    size_t n_table = sizeof keys / sizeof keys[0];
    char *base = (char *)cfg;
    const char *match_section = section;
    if (is_destination_section(section)) {
        os_destination *d = destination_for(cfg, section, why, whylen);
        if (!d) return -1;
        table = dest_keys;
        n_table = sizeof dest_keys / sizeof dest_keys[0];
        base = (char *)d;
        match_section = "destination";
    } else if (is_model_section(section)) {
        os_model_config *m = model_for(cfg, section, why, whylen);
        if (!m) return -1;
        table = model_keys;
        n_table = sizeof model_keys / sizeof model_keys[0];
        base = (char *)m;
        match_section = "model";
        int known = 0;
        for (size_t i = 0; i < n_table; i++) known |= !strcmp(table[i].name, name);
        if (!known) return model_param(m, section, name, raw, why, whylen);
    }
    const key_def *k = NULL;
    for (size_t i = 0; i < n_table; i++)
        if (strcmp(table[i].section, match_section) == 0 && strcmp(table[i].name, name) == 0) k = &table[i];
    if (!k) {
        snprintf(why, whylen, "unknown key \"%s\" in section [%s]", name, section);
        return -1;
    }
    char value_buf[8192];
    snprintf(value_buf, sizeof value_buf, "%s", raw);
    char *value = trim(value_buf);
    void *field = base + k->offset;
    double num;
    switch (k->kind) {
    case K_INT:
    case K_DOUBLE:
        if (parse_number(value, k->kind, &num) != 0) {
            snprintf(why, whylen, "%s.%s: \"%s\" is not a%s number", section, name, value,
                     k->kind == K_INT ? " whole" : "");
            return -1;
        }
        if (num < k->min || num > k->max) {
            snprintf(why, whylen, "%s.%s: %s is outside %g…%g", section, name, value, k->min, k->max);
            return -1;
        }
        if (k->kind == K_INT) *(int *)field = (int)num;
        else *(double *)field = num;
        return 0;
    case K_BOOL:
        if (!strcasecmp(value, "true") || !strcasecmp(value, "yes") || !strcmp(value, "1"))
            *(int *)field = 1;
        else if (!strcasecmp(value, "false") || !strcasecmp(value, "no") || !strcmp(value, "0"))
            *(int *)field = 0;
        else {
            snprintf(why, whylen, "%s.%s: \"%s\" is not true or false", section, name, value);
            return -1;
        }
        return 0;
    case K_STRING:
        if (!*value || strlen(value) >= k->size) {
            snprintf(why, whylen, "%s.%s: %s", section, name, *value ? "value too long" : "value is empty");
            return -1;
        }
        snprintf((char *)field, k->size, "%s", value);
        return 0;
    case K_AE:
        if (!valid_ae(value, why, whylen)) return -1;
        snprintf((char *)field, k->size, "%s", value);
        return 0;
    case K_CALLERS:
        return parse_callers(cfg, value, why, whylen);
    case K_OUTPUTS:
        if (parse_outputs(value, (int *)field, why, whylen) == 0) return 0;
        {
            char reason[300];
            snprintf(reason, sizeof reason, "%s", why);
            snprintf(why, whylen, "%s.%s: %s", section, name, reason);
        }
        return -1;
    case K_OTHER:
        if (!strcmp(value, "discard")) cfg->node_other_objects = OS_OTHER_DISCARD;
        else if (!strcmp(value, "reject")) cfg->node_other_objects = OS_OTHER_REJECT;
        else {
            snprintf(why, whylen, "node.other_objects: \"%s\" is neither discard nor reject", value);
            return -1;
        }
        return 0;
    case K_LOGLEVEL:
        if (strcmp(value, "error") && strcmp(value, "warning") && strcmp(value, "notice") &&
            strcmp(value, "info") && strcmp(value, "debug")) {
            snprintf(why, whylen, "log.level: \"%s\" is not one of error, warning, notice, info, debug",
                     value);
            return -1;
        }
        snprintf((char *)field, k->size, "%s", value);
        return 0;
    }
    return -1;
}

typedef struct parse_ctx {
    os_config *cfg;
    char why[600];
} parse_ctx;

static int on_ini_entry(void *user, const char *section, const char *name, const char *value) {
    parse_ctx *ctx = user;
    if (!name) return 1; /* a section header alone */
    return apply(ctx->cfg, section, name, value, ctx->why, sizeof ctx->why) == 0;
}

/* What a destination or a model cannot do without; checked once the file and the overrides are in. */
static int validate_destinations(const os_config *cfg, os_error *err) {
    const char *where = cfg->path[0] ? cfg->path : "configuration";
    if (cfg->sender_backoff_max_s < cfg->sender_backoff_first_s)
        return os_error_set(err, -EINVAL, "%s: sender.backoff_max_seconds (%d) is below backoff_first_seconds (%d)",
                            where, cfg->sender_backoff_max_s, cfg->sender_backoff_first_s);
    for (int i = 0; i < cfg->n_models; i++)
        if (!cfg->models[i].plugin[0])
            return os_error_set(err, -EINVAL, "%s: [model %s]: plugin is not set (a name such as multitask, or a path)",
                                where, cfg->models[i].name);
    for (int i = 0; i < cfg->n_destinations; i++) {
        const os_destination *d = &cfg->destinations[i];
        const char *missing = !d->host[0] ? "host" : !d->port ? "port" : !d->ae_title[0] ? "ae_title" : NULL;
        if (missing)
            return os_error_set(err, -EINVAL, "%s: [destination %s]: %s is not set", where, d->name, missing);
        if (!d->tls && (d->tls_ca_file[0] || d->tls_cert_file[0] || d->tls_key_file[0]))
            return os_error_set(err, -EINVAL, "%s: [destination %s]: tls_* files are set but tls = no", where,
                                d->name);
        if (!d->tls_cert_file[0] != !d->tls_key_file[0])
            return os_error_set(err, -EINVAL, "%s: [destination %s]: tls_cert_file and tls_key_file go together",
                                where, d->name);
    }
    return 0;
}

int os_config_load(const char *path, const char *const *overrides, size_t n_overrides, os_config *cfg,
                   os_error *err) {
    os_config_defaults(cfg);
    if (path) {
        snprintf(cfg->path, sizeof cfg->path, "%s", path);
        parse_ctx ctx = {.cfg = cfg, .why = ""};
        int rc = ini_parse(path, on_ini_entry, &ctx);
        if (rc == -1)
            return os_error_set(err, -ENOENT, "%s: cannot open: %s", path, strerror(errno));
        if (rc == -2) return os_error_set(err, -ENOMEM, "%s: out of memory while parsing", path);
        if (rc > 0)
            return os_error_set(err, -EINVAL, "%s:%d: %s", path, rc,
                                ctx.why[0] ? ctx.why : "syntax error (expected [section] or key = value)");
    }
    for (size_t i = 0; i < n_overrides; i++) {
        char buf[8192];
        snprintf(buf, sizeof buf, "%s", overrides[i]);
        char *eq = strchr(buf, '=');
        char *dot = strchr(buf, '.');
        if (!eq || !dot || dot > eq)
            return os_error_set(err, -EINVAL, "--set %s: expected section.key=value", overrides[i]);
        *eq = '\0';
        *dot = '\0';
        char why[600];
        if (apply(cfg, trim(buf), trim(dot + 1), eq + 1, why, sizeof why) != 0)
            return os_error_set(err, -EINVAL, "--set %s: %s", overrides[i], why);
    }
    return validate_destinations(cfg, err);
}

void os_config_spool_dir(const os_config *cfg, char *out, size_t outlen) {
    snprintf(out, outlen, "%s/spool", cfg->node_data_dir);
}

void os_config_db_path(const os_config *cfg, char *out, size_t outlen) {
    if (cfg->database_path[0]) snprintf(out, outlen, "%s", cfg->database_path);
    else snprintf(out, outlen, "%s/osteoscout.db", cfg->node_data_dir);
}

/* An entry's host may be an address or a name; a name matches when any of its
 * addresses is the peer's. */
static int host_matches(const char *host, const char *peer) {
    if (!peer || !*peer) return 0;
    if (strcmp(host, peer) == 0) return 1;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    if (getaddrinfo(host, NULL, &hints, &res) != 0) return 0;
    int found = 0;
    for (struct addrinfo *ai = res; ai && !found; ai = ai->ai_next) {
        char addr[INET6_ADDRSTRLEN];
        if (getnameinfo(ai->ai_addr, ai->ai_addrlen, addr, sizeof addr, NULL, 0, NI_NUMERICHOST) == 0)
            found = strcmp(addr, peer) == 0;
    }
    freeaddrinfo(res);
    return found;
}

int os_config_caller_allowed(const os_config *cfg, const char *calling_ae, const char *peer_host) {
    for (int i = 0; i < cfg->node_n_allowed_callers; i++) {
        const os_caller *c = &cfg->node_allowed_callers[i];
        if (strcmp(c->ae_title, "*") != 0 && strcmp(c->ae_title, calling_ae) != 0) continue;
        if (c->host[0] && !host_matches(c->host, peer_host)) continue;
        return 1;
    }
    return 0;
}
