/* Deterministic random numbers for the phantom: the same seed must give the same pixels on
 * every machine and libc, so neither rand() nor random() will do. Internal to lib/phantom. */
#ifndef OSTEOSCOUT_PHANTOM_RNG_H
#define OSTEOSCOUT_PHANTOM_RNG_H

#include <stdint.h>

typedef struct os_rng {
    uint64_t s[4];
    int has_spare;
    double spare;
} os_rng;

/* Seeds a stream from (seed, stream), so each slice has its own reproducible stream. */
void os_rng_seed(os_rng *r, uint64_t seed, uint64_t stream);
uint64_t os_rng_next(os_rng *r);
/* Uniform in (0, 1): never 0, so log() in Box-Muller is finite. */
double os_rng_uniform(os_rng *r);
/* Standard normal (mean 0, sd 1). */
double os_rng_gauss(os_rng *r);

#endif
