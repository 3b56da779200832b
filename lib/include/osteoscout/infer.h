/* lib/infer: the only code that includes libtorch. Loads TorchScript files and runs them;
 * every failure comes back as a sentence, never an exception. */
#ifndef OSTEOSCOUT_INFER_H
#define OSTEOSCOUT_INFER_H

#include <stddef.h>
#include <stdint.h>
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
/* A dense float32 tensor in C order. As an input the data is the caller's and is only read
 * during the call; as an output it is malloc'd and freed by os_infer_tensors_free. */
#define OS_INFER_MAX_DIMS 8
typedef struct os_infer_tensor {
    float *data;
    int ndim;
    int64_t shape[OS_INFER_MAX_DIMS];
} os_infer_tensor;

size_t os_infer_tensor_numel(const os_infer_tensor *t);

/* Runs method ("forward" when NULL) on the inputs, without autograd. The module may return
 * one tensor or a tuple/list of tensors (any floating or integer dtype: converted to float32);
 * *outputs receives them in order. The thread count given to os_infer_load is applied to the
 * calling thread first (libtorch keeps it per thread). Every failure is a sentence: wrong
 * input count or shape, a Python-side exception of the module, non-tensor outputs. */
int os_infer_run(os_infer_model *m, const char *method, const os_infer_tensor *inputs, size_t n_inputs,
                 os_infer_tensor **outputs, size_t *n_outputs, os_error *err);
void os_infer_tensors_free(os_infer_tensor *t, size_t n);

/* The libtorch version the shim was built against. */
const char *os_infer_backend_version(void);

#ifdef __cplusplus
}
#endif
#endif
