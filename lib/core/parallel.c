/* lib/core: independent iterations on a few threads. Threads are started per call: the loops
 * this serves run for tens of milliseconds or more, so a pool would save nothing measurable. */
#include "osteoscout/parallel.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

typedef struct shared {
    void (*fn)(void *ctx, int i);
    void *ctx;
    int n;
    atomic_int next;
} shared;

static void *run(void *arg) {
    shared *s = arg;
    for (int i; (i = atomic_fetch_add(&s->next, 1)) < s->n;) s->fn(s->ctx, i);
    return NULL;
}

int os_cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 1024 ? 1024 : (int)n;
}

void os_parallel_for(int n, int threads, void (*fn)(void *ctx, int i), void *ctx) {
    if (threads <= 0) threads = os_cpu_count();
    if (threads > OS_PARALLEL_MAX_THREADS) threads = OS_PARALLEL_MAX_THREADS;
    if (threads > n) threads = n;
    shared s = {.fn = fn, .ctx = ctx, .n = n};
    atomic_init(&s.next, 0);
    pthread_t th[OS_PARALLEL_MAX_THREADS];
    int started[OS_PARALLEL_MAX_THREADS] = {0};
    for (int t = 1; t < threads; t++) started[t] = pthread_create(&th[t], NULL, run, &s) == 0;
    run(&s);
    for (int t = 1; t < threads; t++)
        if (started[t]) pthread_join(th[t], NULL);
}
