/* os_error: the sentence that travels with a failed status. */
#include "osteoscout/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void os_error_clear(os_error *err) {
    if (!err) return;
    err->code = 0;
    err->msg[0] = '\0';
}

int os_error_set(os_error *err, int code, const char *fmt, ...) {
    if (!err) return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->code = code;
    return code;
}

int os_error_wrap(os_error *err, const char *fmt, ...) {
    if (!err) return -1;
    char prefix[OS_ERROR_MSG_MAX];
    char old[OS_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, old);
    return err->code;
}
