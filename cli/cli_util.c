/* The shared plumbing of the admin commands (see cli.h): errors, option parsing, opening
 * the database and formatting for humans. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int cli_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("osteoscout: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

void cli_print_usage(FILE *f, const char *cmd) {
    for (size_t i = 0; i < os_cli_n_commands; i++)
        if (!strcmp(os_cli_commands[i].name, cmd))
            fprintf(f, "usage: osteoscout %s %s\n  %s\n", cmd, os_cli_commands[i].usage, os_cli_commands[i].summary);
}

int cli_bad_usage(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "osteoscout: %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    cli_print_usage(stderr, cmd);
    return 2;
}

int cli_open_store(const os_config *cfg, os_store **st) {
    char path[4096];
    os_config_db_path(cfg, path, sizeof path);
    /* os_store_open would create an empty database; for an operator a missing file means
     * they are looking in the wrong place. */
    if (access(path, F_OK) != 0) {
        if (errno == ENOENT) return cli_fail("no database at %s: is the daemon configured with this --config?", path);
        return cli_fail("cannot reach the database at %s: %s", path, strerror(errno));
    }
    if (access(path, R_OK | W_OK) != 0)
        return cli_fail("cannot open the database at %s: %s (run as the daemon's user)", path, strerror(errno));
    os_error err;
    os_error_clear(&err);
    if (os_store_open(path, cfg->database_busy_timeout_ms, st, &err) != 0) return cli_fail("%s", err.msg);
    return 0;
}

static int parse_int(const char *s, long long min, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min) return -1;
    *out = v;
    return 0;
}

int cli_parse_job_id(const char *cmd, const char *s, long long *id) {
    if (parse_int(s, 1, id) != 0) return cli_bad_usage(cmd, "'%s' is not a job id (a positive number)", s);
    return 0;
}

int cli_parse(int argc, char **argv, int flags, int min_pos, int max_pos, cli_opts *o) {
    static const struct option all[] = {
        {"json", no_argument, 0, 'j'},        {"help", no_argument, 0, 'h'},
        {"state", required_argument, 0, 's'}, {"limit", required_argument, 0, 'l'},
        {0, 0, 0, 0},
    };
    static const struct option plain[] = {
        {"json", no_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *cmd = argv[0];
    memset(o, 0, sizeof *o);
    o->limit = 50;
    optind = 0; /* main() ran getopt over the global options already */
    opterr = 0; /* our own messages name the command */
    int opt;
    while ((opt = getopt_long(argc, argv, ":", (flags & CLI_OPT_STATE) ? all : plain, NULL)) != -1) {
        long long v;
        switch (opt) {
        case 'j': o->json = 1; break;
        case 'h': cli_print_usage(stdout, cmd); return 0;
        case 's': o->state = optarg; break;
        case 'l':
            if (parse_int(optarg, 0, &v) != 0 || v > 1000000)
                return cli_bad_usage(cmd, "--limit needs a whole number (0 for all), not '%s'", optarg);
            o->limit = (int)v;
            break;
        case ':': return cli_bad_usage(cmd, "%s needs a value", argv[optind - 1]);
        default: return cli_bad_usage(cmd, "unknown option %s", argv[optind - 1]);
        }
    }
    for (int i = optind; i < argc; i++) {
        if (o->n_pos >= max_pos) return cli_bad_usage(cmd, "unexpected argument '%s'", argv[i]);
        o->pos[o->n_pos++] = argv[i];
    }
    if (o->n_pos < min_pos) return cli_bad_usage(cmd, "missing argument");
    return -1;
}

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cli_format_age(double seconds, char *out, size_t outlen) {
    const char *sign = seconds < 0 ? "-" : "";
    long long s = llround(fabs(seconds));
    if (s < 60) snprintf(out, outlen, "%s%llds", sign, s);
    else if (s < 3600) snprintf(out, outlen, "%s%lldm%02llds", sign, s / 60, s % 60);
    else if (s < 86400) snprintf(out, outlen, "%s%lldh%02lldm", sign, s / 3600, s % 3600 / 60);
    else snprintf(out, outlen, "%s%lldd%02lldh", sign, s / 86400, s % 86400 / 3600);
}

void cli_format_time(double t, char *out, size_t outlen) {
    if (!(t > 0)) {
        snprintf(out, outlen, "-");
        return;
    }
    time_t tt = (time_t)t;
    struct tm tm;
    if (!localtime_r(&tt, &tm) || !strftime(out, outlen, "%Y-%m-%d %H:%M:%S", &tm)) snprintf(out, outlen, "%.0f", t);
}

void cli_format_bytes(double bytes, char *out, size_t outlen) {
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    int u = 0;
    while (bytes >= 1024 && u < 5) bytes /= 1024, u++;
    if (u == 0) snprintf(out, outlen, "%.0f B", bytes);
    else snprintf(out, outlen, "%.1f %s", bytes, units[u]);
}

void cli_shorten(const char *s, size_t width, char *out, size_t outlen) {
    size_t n = strlen(s);
    if (n <= width || width < 5) {
        snprintf(out, outlen, "%s", s);
        return;
    }
    /* UIDs are ASCII; the tail is the part that differs between series of one study. */
    size_t head = (width - 1) / 3, tail = width - 1 - head;
    snprintf(out, outlen, "%.*s\u2026%s", (int)head, s, s + n - tail);
}

int cli_print_json(const cJSON *v) {
    char *text = cJSON_Print(v);
    if (!text) return cli_fail("out of memory printing JSON");
    puts(text);
    free(text);
    return 0;
}

const char *cli_str(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

double cli_num(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

int cli_has_num(const cJSON *o, const char *key) {
    return cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, key));
}
