/* The logger. Lines go to stderr; under systemd, journald reads the "<N>" priority
 * prefix that sd-daemon(3) defines, so levels survive without a journal library. */
#include "osteoscout/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static os_log_level g_min_level = OS_LOG_INFO;
static int g_phi = 0;
static int g_journal = -1; /* -1 unknown, 0 plain terminal/file, 1 journald */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

void os_log_init(os_log_level min_level, int phi) {
    g_min_level = min_level;
    g_phi = phi;
    g_journal = getenv("JOURNAL_STREAM") != NULL;
}

int os_log_level_parse(const char *name, os_log_level *out) {
    static const struct { const char *name; os_log_level level; } levels[] = {
        {"error", OS_LOG_ERROR}, {"warning", OS_LOG_WARNING}, {"notice", OS_LOG_NOTICE},
        {"info", OS_LOG_INFO},   {"debug", OS_LOG_DEBUG},
    };
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
        if (strcmp(name, levels[i].name) == 0) {
            *out = levels[i].level;
            return 0;
        }
    }
    return -1;
}

static const char *level_name(os_log_level level) {
    switch (level) {
    case OS_LOG_ERROR: return "error";
    case OS_LOG_WARNING: return "warning";
    case OS_LOG_NOTICE: return "notice";
    case OS_LOG_INFO: return "info";
    default: return "debug";
    }
}

void os_log(os_log_level level, const char *component, const char *fmt, ...) {
    if (level > g_min_level) return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    pthread_mutex_lock(&g_lock);
    if (g_journal < 0) g_journal = getenv("JOURNAL_STREAM") != NULL;
    if (g_journal) {
        fprintf(stderr, "<%d>%s %s: %s\n", (int)level, level_name(level), component, msg);
    } else {
        struct timespec ts;
        struct tm tm;
        char when[32];
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
        fprintf(stderr, "%s.%03ldZ %s %s: %s\n", when, ts.tv_nsec / 1000000, level_name(level),
                component, msg);
    }
    fflush(stderr);
    pthread_mutex_unlock(&g_lock);
}

/* FNV-1a, 64 bit: stable across runs and machines, so the same UID always logs the same
 * token and an operator can still follow one study through the log. */
static uint64_t fnv1a(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

const char *os_log_uid(const char *uid, char buf[OS_LOG_UID_MAX]) {
    if (!uid || !*uid) {
        snprintf(buf, OS_LOG_UID_MAX, "(empty)");
    } else if (g_phi) {
        snprintf(buf, OS_LOG_UID_MAX, "%.64s", uid);
    } else {
        snprintf(buf, OS_LOG_UID_MAX, "h:%012llx",
                 (unsigned long long)(fnv1a(uid) & 0xffffffffffffULL));
    }
    return buf;
}
