/* The logger: one journald-friendly line per event on stderr,
 * `<level> component: message key=value`, free of patient data unless configured. */
#ifndef OSTEOSCOUT_LOG_H
#define OSTEOSCOUT_LOG_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum os_log_level {
    OS_LOG_ERROR = 3,
    OS_LOG_WARNING = 4,
    OS_LOG_NOTICE = 5,
    OS_LOG_INFO = 6,
    OS_LOG_DEBUG = 7
} os_log_level;

/* phi: when 0 (the default), os_log_uid() returns a short hash instead of the UID. */
void os_log_init(os_log_level min_level, int phi);
int os_log_level_parse(const char *name, os_log_level *out);

void os_log(os_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define OS_LOG_UID_MAX 72
/* Writes into buf either the UID itself (phi logging on) or "h:" + 12 hex digits of a
 * stable hash, and returns buf. Safe from any thread. */
const char *os_log_uid(const char *uid, char buf[OS_LOG_UID_MAX]);

#ifdef __cplusplus
}
#endif
#endif
