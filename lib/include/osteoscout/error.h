/* Error reporting for every lib/ function: an int status plus a human sentence.
 * Functions return 0 on success and a negative errno-style code on failure, and
 * fill the caller's os_error (which may be NULL) with a sentence an operator can act on. */
#ifndef OSTEOSCOUT_ERROR_H
#define OSTEOSCOUT_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define OS_ERROR_MSG_MAX 512

typedef struct os_error {
    int code;                   /* negative errno-style, 0 when clear */
    char msg[OS_ERROR_MSG_MAX]; /* one sentence, no trailing newline */
} os_error;

void os_error_clear(os_error *err);

/* Sets err (if not NULL) and returns code, so callers can write `return os_error_set(...)`. */
int os_error_set(os_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes the existing message: "context: previous message". Returns err->code. */
int os_error_wrap(os_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#ifdef __cplusplus
}
#endif
#endif
