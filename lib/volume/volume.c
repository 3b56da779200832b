/* The volume itself: one int16 HU array in x-fastest order plus the geometry that maps a
 * voxel index to patient coordinates (LPS, mm). */
#include "osteoscout/volume.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int os_volume_alloc(const os_volume_plan *plan, os_volume *vol, os_error *err) {
    memset(vol, 0, sizeof *vol);
    if (plan->nx <= 0 || plan->ny <= 0 || plan->nz <= 0)
        return os_error_set(err, -EINVAL, "cannot allocate an empty volume (%d×%d×%d)", plan->nx,
                            plan->ny, plan->nz);
    size_t n = (size_t)plan->nx * (size_t)plan->ny;
    if (n > SIZE_MAX / sizeof(int16_t) / (size_t)plan->nz)
        return os_error_set(err, -EOVERFLOW, "volume of %d×%d×%d voxels is too large", plan->nx,
                            plan->ny, plan->nz);
    n *= (size_t)plan->nz;
    /* calloc: untouched pages cost nothing, and a partly filled volume reads as 0 HU
     * rather than as garbage. */
    vol->hu = calloc(n, sizeof *vol->hu);
    if (!vol->hu)
        return os_error_set(err, -ENOMEM, "out of memory for a %d×%d×%d volume (%zu MiB)",
                            plan->nx, plan->ny, plan->nz, n * sizeof *vol->hu >> 20);
    vol->nx = plan->nx;
    vol->ny = plan->ny;
    vol->nz = plan->nz;
    memcpy(vol->spacing, plan->spacing, sizeof vol->spacing);
    memcpy(vol->origin, plan->origin, sizeof vol->origin);
    memcpy(vol->row_dir, plan->row_dir, sizeof vol->row_dir);
    memcpy(vol->col_dir, plan->col_dir, sizeof vol->col_dir);
    memcpy(vol->normal, plan->normal, sizeof vol->normal);
    return 0;
}

void os_volume_free(os_volume *vol) {
    if (!vol) return;
    free(vol->hu);
    vol->hu = NULL;
}

void os_volume_voxel_to_lps(const os_volume *vol, double x, double y, double z, double out[3]) {
    for (int i = 0; i < 3; i++)
        out[i] = vol->origin[i] + x * vol->spacing[0] * vol->row_dir[i] +
                 y * vol->spacing[1] * vol->col_dir[i] + z * vol->spacing[2] * vol->normal[i];
}
