/* lib/core parallel: every index runs exactly once, whatever the thread count. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdatomic.h>
#include <cmocka.h>
#include <pthread.h>
#include <string.h>

#include "osteoscout/parallel.h"

#define N 1000

typedef struct counts {
    atomic_int hits[N];
    pthread_t seen[OS_PARALLEL_MAX_THREADS + 1];
    int n_seen; /* threads that ran an iteration; under lock */
    pthread_mutex_t lock;
} counts;

static void count(void *ctx, int i) {
    counts *c = ctx;
    atomic_fetch_add(&c->hits[i], 1);
    pthread_t me = pthread_self();
    pthread_mutex_lock(&c->lock);
    int known = 0;
    for (int k = 0; k < c->n_seen; k++) known |= pthread_equal(c->seen[k], me);
    if (!known && c->n_seen <= OS_PARALLEL_MAX_THREADS) c->seen[c->n_seen++] = me;
    pthread_mutex_unlock(&c->lock);
    /* a little work, so another thread gets a turn */
    volatile double x = 0;
    for (int k = 0; k < 2000; k++) x += k * 0.5;
}

static void run_with(int n, int threads, int *max_threads_seen) {
    static counts c;
    memset(&c, 0, sizeof c);
    pthread_mutex_init(&c.lock, NULL);
    os_parallel_for(n, threads, count, &c);
    for (int i = 0; i < N; i++) assert_int_equal(atomic_load(&c.hits[i]), i < n ? 1 : 0);
    *max_threads_seen = c.n_seen;
    pthread_mutex_destroy(&c.lock);
}

static void test_every_index_once(void **state) {
    (void)state;
    int seen;
    run_with(N, 1, &seen);
    assert_int_equal(seen, 1);
    run_with(N, 3, &seen);
    assert_in_range(seen, 1, 3);
    run_with(N, 0, &seen);
    assert_in_range(seen, 1, OS_PARALLEL_MAX_THREADS);
    run_with(N, 100, &seen); /* capped, not refused */
    assert_in_range(seen, 1, OS_PARALLEL_MAX_THREADS);
}

static void test_fewer_items_than_threads(void **state) {
    (void)state;
    int seen;
    run_with(2, 8, &seen);
    assert_in_range(seen, 1, 2);
    run_with(0, 4, &seen);
    assert_int_equal(seen, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_index_once),
        cmocka_unit_test(test_fewer_items_than_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
