/* lib/infer: the only code that includes libtorch. Loads TorchScript files and runs them;
 * every failure comes back as a sentence, never an exception. */
#ifndef OSTEOSCOUT_INFER_H
#define OSTEOSCOUT_INFER_H

#include <stddef.h>
#include "osteoscout/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct os_infer_model os_infer_model;

int os_infer_load(const char *path, int threads, os_infer_model **out, os_error *err);
void os_infer_free(os_infer_model *m);
/* Names of the module's methods ("forward", ...): malloc'd array of malloc'd strings. */
int os_infer_methods(os_infer_model *m, char ***names, size_t *n, os_error *err);
void os_infer_free_names(char **names, size_t n);
/* The libtorch version the shim was built against. */
const char *os_infer_backend_version(void);

#ifdef __cplusplus
}
#endif
#endif
