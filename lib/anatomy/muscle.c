/* os_anatomy_find_muscles: skeletal muscle and fat on the mid-vertebral slice of every level
 * in the scan (the tissue maps measure reads), and the 3D psoas and erector spinae mask over
 * the bodies of T12–L4 (the muscle image of the published model). One slice at a time, in
 * slice-sized scratch, and only over those z ranges. The steps are in their own files:
 * muscle_frame.c (where the spine is), body_outline.c, muscle_paraspinal.c, fat_wall.c,
 * muscle_slice.c. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "muscle_internal.h"

static int cancelled(const ms_ctx *c) {
    return c->opts && c->opts->cancel && *c->opts->cancel;
}

static void ctx_free(ms_ctx *c) {
    free(c->sm);
    free(c->body);
    free(c->fascia);
    free(c->comp);
    free(c->t1);
    free(c->t2);
    free(c->t3);
    free(c->vbody);
    free(c->d2);
    free(c->ftmp);
    free(c->itmp);
    free(c->queue);
    free(c->ray_buf);
}

static int ctx_alloc(ms_ctx *c, const os_volume *vol, os_anatomy *a, const os_anatomy_opts *opts,
                     os_error *err) {
    memset(c, 0, sizeof *c);
    c->vol = vol;
    c->a = a;
    c->opts = opts;
    c->nx = vol->nx;
    c->ny = vol->ny;
    c->nz = vol->nz;
    c->plane = (size_t)vol->nx * (size_t)vol->ny;
    c->sx = vol->spacing[0];
    c->sy = vol->spacing[1];
    int nmax = c->nx > c->ny ? c->nx : c->ny;
    c->sm = malloc(c->plane * sizeof *c->sm);
    c->body = calloc(c->plane, 1);
    c->fascia = calloc(c->plane, 1);
    c->comp = calloc(c->plane, 1);
    c->t1 = calloc(c->plane, 1);
    c->t2 = calloc(c->plane, 1);
    c->t3 = calloc(c->plane, 1);
    c->vbody = calloc(c->plane, 1);
    c->d2 = malloc(c->plane * sizeof *c->d2);
    c->ftmp = malloc((size_t)(3 * nmax + 4) * sizeof *c->ftmp);
    c->itmp = malloc((size_t)(nmax + 2) * sizeof *c->itmp);
    c->queue = malloc(c->plane * sizeof *c->queue);
    c->ray_buf = malloc(4 * 720 * sizeof *c->ray_buf);
    if (!c->sm || !c->body || !c->fascia || !c->comp || !c->t1 || !c->t2 || !c->t3 || !c->vbody || !c->d2 ||
        !c->ftmp || !c->itmp || !c->queue || !c->ray_buf)
        return os_error_set(err, -ENOMEM, "out of memory for the muscle search (%d×%d)", c->nx, c->ny);
    return 0;
}

/* Compartments of slice z; with_fat adds the fascia and the abdominal wall (only the level
 * slices need them). 0 when done, -1 when the slice gave nothing to stand on (why in *why). */
static int work_slice(ms_ctx *c, int z, int with_fat, const char **why) {
    c->z = z;
    c->hu = c->vol->hu + c->plane * (size_t)z;
    memset(c->comp, 0, c->plane);
    memset(c->fascia, 0, c->plane);
    memset(c->body, 0, c->plane);
    if (ms_frame_at(c, z, &c->fr)) {
        *why = "no vertebral body near the slice to place the muscles by";
        return -1;
    }
    if (with_fat) {
        if (ms_body_outline(c)) {
            *why = "the outline of the trunk was not found around the spine";
            return -1;
        }
    } else {
        /* psoas and erector only: the area around the spine, where arms and the table never
         * are, so plain thresholding outlines the body there (the skin rule needs no more) */
        ms_paraspinal_rect(c, &c->roi);
        const ms_rect *r = &c->roi;
        for (int y = r->y0; y < r->y1; y++)
            for (int x = r->x0; x < r->x1; x++) {
                size_t p = (size_t)y * c->nx + x;
                c->body[p] = c->hu[p] > -500;
            }
    }
    ms_smooth(c, &c->roi);
    ms_paraspinal(c);
    if (with_fat && ms_fat_wall(c)) {
        *why = "the subcutaneous fat boundary was not found on most rays (no fat, or the trunk cut by "
               "the field of view)";
        return -1;
    }
    return 0;
}

static double slice_mm(const os_volume *vol, int z) {
    double p[3];
    os_volume_voxel_to_lps(vol, 0, 0, z, p);
    return p[0] * vol->normal[0] + p[1] * vol->normal[1] + p[2] * vol->normal[2];
}

static int do_level(ms_ctx *c, int level, int z) {
    const char *why = NULL;
    if (work_slice(c, z, 1, &why)) {
        os_anatomy_warn(c->a, "%s muscle and fat not segmented: %s", os_level_name(level), why);
        return -1;
    }
    os_level_slice *s = &c->a->slices[level];
    s->tissue = malloc(c->plane);
    s->body = malloc(c->plane);
    if (!s->tissue || !s->body) {
        free(s->tissue);
        free(s->body);
        s->tissue = s->body = NULL;
        return -ENOMEM;
    }
    ms_classify(c, s->tissue);
    memcpy(s->body, c->body, c->plane);
    s->present = 1;
    s->z = z;
    s->z_mm = slice_mm(c->vol, z);
    double px = c->sx * c->sy / 100.0, area[OS_TISSUE_COUNT] = {0};
    for (size_t p = 0; p < c->plane; p++) area[s->tissue[p]] += px;
    if (level >= OS_L1 && level <= OS_L4 && area[OS_TISSUE_PSOAS] < 1.0)
        os_anatomy_warn(c->a, "%s: psoas not found beside the vertebral body", os_level_name(level));
    if (area[OS_TISSUE_ERECTOR] < 2.0)
        os_anatomy_warn(c->a, "%s: erector spinae not found behind the spine", os_level_name(level));
    if (area[OS_TISSUE_WALL] < 2.0)
        os_anatomy_warn(c->a, "%s: abdominal wall muscle not found inside the subcutaneous fat",
                        os_level_name(level));
    return 0;
}

/* The compartments of the slice just worked on into the 3D mask (muscle and the fat inside it,
 * as an anatomical mask is; bone and anything denser is left out). */
static void to_mask(ms_ctx *c, int z) {
    uint8_t *m = c->a->muscle_mask + c->plane * (size_t)z;
    for (size_t p = 0; p < c->plane; p++) {
        int k = c->comp[p];
        if ((k == OS_TISSUE_PSOAS || k == OS_TISSUE_ERECTOR) && c->hu[p] >= OS_FAT_HU_MIN &&
            c->hu[p] <= OS_MUSCLE_HU_MAX)
            m[p] = (uint8_t)k;
    }
}

int os_anatomy_find_muscles(const os_volume *vol, const os_anatomy_opts *opts, os_anatomy *a,
                            os_error *err) {
    if (!a) return os_error_set(err, -EINVAL, "no anatomy result to fill");
    if (!vol || !vol->hu || vol->nx < 16 || vol->ny < 16 || vol->nz < 1)
        return os_error_set(err, -EINVAL, "the volume is empty or too small for a muscle search");
    if (a->nx != vol->nx || a->ny != vol->ny || a->nz != vol->nz)
        return os_error_set(err, -EINVAL, "the anatomy (%d×%d×%d) does not belong to this volume (%d×%d×%d)",
                            a->nx, a->ny, a->nz, vol->nx, vol->ny, vol->nz);
    if (!a->n_vertebrae || !a->body_mask) {
        os_anatomy_warn(a, "muscle and fat not segmented: no vertebra to place them by");
        return 0;
    }
    ms_ctx c;
    int rc = ctx_alloc(&c, vol, a, opts, err);
    size_t n = c.plane * (size_t)c.nz;
    uint8_t *done = NULL;
    if (!rc) {
        free(a->muscle_mask);
        a->muscle_mask = calloc(n, 1);
        done = calloc((size_t)c.nz, 1);
        if (!a->muscle_mask || !done)
            rc = os_error_set(err, -ENOMEM, "out of memory for the muscle mask");
    }
    if (rc) {
        ctx_free(&c);
        free(done);
        return rc;
    }
    ms_frame_sizes(&c);

    for (int level = 0; level < OS_LEVEL_COUNT && !rc; level++) {
        int i = os_anatomy_vertebra_of(a, level);
        if (i < 0) continue;
        int z = (int)lround(a->vertebrae[i].center_vox[2]);
        if (z < 0 || z >= c.nz) continue;
        if (cancelled(&c)) rc = os_error_set(err, -ECANCELED, "cancelled");
        else if (do_level(&c, level, z) == -ENOMEM) rc = os_error_set(err, -ENOMEM, "out of memory");
        else if (a->slices[level].present && level >= OS_T12 && level <= OS_L4) {
            to_mask(&c, z);
            done[z] = 1;
        }
    }
    for (int level = OS_T12; level <= OS_L4 && !rc; level++) {
        int i = os_anatomy_vertebra_of(a, level);
        if (i < 0) continue;
        const os_vertebra *v = &a->vertebrae[i];
        int failed = 0;
        const char *why = NULL;
        for (int z = v->z_first < 0 ? 0 : v->z_first; z <= v->z_last && z < c.nz; z++) {
            if (done[z]) continue;
            if (cancelled(&c)) {
                rc = os_error_set(err, -ECANCELED, "cancelled");
                break;
            }
            done[z] = 1;
            if (work_slice(&c, z, 0, &why)) failed++;
            else to_mask(&c, z);
        }
        if (failed)
            os_anatomy_warn(a, "%s: psoas and erector spinae missing on %d slice(s) of the 3D mask: %s",
                            os_level_name(level), failed, why ? why : "");
    }
    free(done);
    ctx_free(&c);
    if (rc) {
        free(a->muscle_mask);
        a->muscle_mask = NULL;
    }
    return rc;
}
