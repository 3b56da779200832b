/* A loop whose iterations are independent, shared among a few threads. */
#ifndef OSTEOSCOUT_PARALLEL_H
#define OSTEOSCOUT_PARALLEL_H

#ifdef __cplusplus
extern "C" {
#endif

#define OS_PARALLEL_MAX_THREADS 8

/* Calls fn(ctx, i) once for every i in [0, n), on up to `threads` threads (the caller's among
 * them); threads <= 0 means one per online CPU. Iterations are handed out one at a time, so
 * uneven ones balance. Falls back to the calling thread alone when a thread cannot start. */
void os_parallel_for(int n, int threads, void (*fn)(void *ctx, int i), void *ctx);

/* The number of online CPUs, at least 1. */
int os_cpu_count(void);

#ifdef __cplusplus
}
#endif

#endif
