/* Whole-volume HU statistics. A histogram over the full int16 range gives exact
 * percentiles in two passes without sorting (or copying) hundreds of millions of voxels. */
#include "osteoscout/volume.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#define NBINS 65536

/* Nearest-rank percentile: the smallest value with at least p % of voxels at or below it. */
static int16_t percentile(const uint64_t *hist, uint64_t total, unsigned p) {
    uint64_t rank = (p * total + 99) / 100; /* ceil(p % of total), in integers */
    if (rank < 1) rank = 1;
    if (rank > total) rank = total;
    uint64_t seen = 0;
    for (int b = 0; b < NBINS; b++) {
        seen += hist[b];
        if (seen >= rank) return (int16_t)(b - 32768);
    }
    return INT16_MAX;
}

int os_volume_stats_compute(const os_volume *vol, os_volume_stats *out, os_error *err) {
    if (!vol->hu || vol->nx <= 0 || vol->ny <= 0 || vol->nz <= 0)
        return os_error_set(err, -EINVAL, "no voxels to compute statistics of");
    uint64_t *hist = calloc(NBINS, sizeof *hist);
    if (!hist) return os_error_set(err, -ENOMEM, "out of memory for the HU histogram");
    size_t n = (size_t)vol->nx * (size_t)vol->ny * (size_t)vol->nz;
    int64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        hist[(uint16_t)((int32_t)vol->hu[i] + 32768)]++;
        sum += vol->hu[i];
    }
    int lo = 0, hi = NBINS - 1;
    while (hist[lo] == 0) lo++;
    while (hist[hi] == 0) hi--;
    out->min = (int16_t)(lo - 32768);
    out->max = (int16_t)(hi - 32768);
    out->mean = (double)sum / (double)n;
    out->p1 = percentile(hist, n, 1);
    out->p5 = percentile(hist, n, 5);
    out->p50 = percentile(hist, n, 50);
    out->p95 = percentile(hist, n, 95);
    out->p99 = percentile(hist, n, 99);
    free(hist);
    return 0;
}
