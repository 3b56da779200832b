/* os_anatomy_find_spine: checks the volume can be read as an axial CT, then runs the steps
 * in order — bone thresholds, spinal canal, per-slice bodies, centre line, top of the sacrum,
 * pedicles, discs, 3D body masks, trabecular ROIs, ribs, sacrum, labels — and frees the
 * scratch. Each step is in its own file; this one only owns the memory and the order. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spine_internal.h"

void sp_dir_to_lps(const sp_ctx *c, const double d[3], double out[3]) {
    const os_volume *v = c->vol;
    double n = 0;
    for (int i = 0; i < 3; i++) {
        out[i] = d[0] * v->row_dir[i] + d[1] * v->col_dir[i] + d[2] * v->normal[i];
        n += out[i] * out[i];
    }
    n = sqrt(n);
    if (n > 0)
        for (int i = 0; i < 3; i++) out[i] /= n;
}

static void free_ctx(sp_ctx *c) {
    free(c->cls);
    free(c->den);
    free(c->canal_x);
    free(c->canal_y);
    free(c->canal_seen);
    free(c->body_x);
    free(c->body_y);
    free(c->body_area);
    free(c->body_halfw);
    free(c->body_halfd);
    free(c->wall_a);
    free(c->cx);
    free(c->cy);
    free(c->tan);
    free(c->s_of_z);
}

static int alloc_ctx(sp_ctx *c, os_error *err) {
    size_t nz = (size_t)c->nz;
    c->cls = calloc(c->plane * nz, 1);
    c->canal_x = calloc(nz, sizeof(double));
    c->canal_y = calloc(nz, sizeof(double));
    c->canal_seen = calloc(nz, 1);
    c->body_x = calloc(nz, sizeof(double));
    c->body_y = calloc(nz, sizeof(double));
    c->body_area = calloc(nz, sizeof(double));
    c->body_halfw = calloc(nz, sizeof(double));
    c->body_halfd = calloc(nz, sizeof(double));
    c->wall_a = calloc(nz, sizeof(double));
    c->cx = calloc(nz, sizeof(double));
    c->cy = calloc(nz, sizeof(double));
    c->tan = calloc(nz, sizeof *c->tan);
    c->s_of_z = calloc(nz, sizeof(double));
    if (!c->cls || !c->canal_x || !c->canal_y || !c->canal_seen || !c->body_x || !c->body_y ||
        !c->body_area || !c->body_halfw || !c->body_halfd || !c->wall_a || !c->cx || !c->cy ||
        !c->tan || !c->s_of_z)
        return os_error_set(err, -ENOMEM, "out of memory for the spine search (%d×%d×%d)", c->nx,
                            c->ny, c->nz);
    return 0;
}

/* Only axial stacks whose columns run front-to-back are handled; that is every abdominal CT
 * seen in practice, and the in-plane reasoning (anterior of the canal, lateral ribs) needs it. */
static int check_geometry(sp_ctx *c, const os_volume *vol, os_error *err) {
    if (!vol || !vol->hu || vol->nx < 16 || vol->ny < 16 || vol->nz < 1)
        return os_error_set(err, -EINVAL, "the volume is empty or too small for a spine search");
    if (fabs(vol->normal[2]) < 0.8)
        return os_error_set(err, -EINVAL,
                            "the slices are not axial (normal %.2f %.2f %.2f): the spine search "
                            "needs an axial CT",
                            vol->normal[0], vol->normal[1], vol->normal[2]);
    if (fabs(vol->col_dir[1]) < 0.7 || fabs(vol->row_dir[0]) < 0.7)
        return os_error_set(err, -EINVAL,
                            "the image rows do not run left-right: the spine search needs an "
                            "axial CT in the usual in-plane orientation");
    c->vol = vol;
    c->nx = vol->nx;
    c->ny = vol->ny;
    c->nz = vol->nz;
    c->plane = (size_t)vol->nx * (size_t)vol->ny;
    c->sx = vol->spacing[0];
    c->sy = vol->spacing[1];
    c->sz = vol->spacing[2] > 0 ? vol->spacing[2] : 1.0;
    c->ypost = vol->col_dir[1] > 0 ? 1 : -1;
    c->zcran = vol->normal[2] > 0 ? 1 : -1;
    if (!(c->sx > 0.1 && c->sy > 0.1 && c->sx < 10 && c->sy < 10))
        return os_error_set(err, -EINVAL, "implausible pixel spacing %.3f × %.3f mm", c->sx, c->sy);
    return 0;
}

static int allocate_result(sp_ctx *c, os_error *err) {
    os_anatomy *a = c->a;
    size_t n = c->plane * (size_t)c->nz;
    a->body_mask = calloc(n, 1);
    a->trab_mask = calloc(n, 1);
    if (!a->body_mask || !a->trab_mask)
        return os_error_set(err, -ENOMEM, "out of memory for the vertebral body masks");
    return 0;
}

int os_anatomy_find_spine(const os_volume *vol, const os_anatomy_opts *opts, os_anatomy *out,
                          os_error *err) {
    if (!out) return os_error_set(err, -EINVAL, "no anatomy result to fill");
    memset(out, 0, sizeof *out);
    out->t12_by_ribs = out->l5_by_sacrum = -1;
    sp_ctx c;
    memset(&c, 0, sizeof c);
    c.opts = opts;
    c.a = out;
    int rc = check_geometry(&c, vol, err);
    if (rc) return rc;
    out->nx = c.nx;
    out->ny = c.ny;
    out->nz = c.nz;

    rc = alloc_ctx(&c, err);
    if (!rc) rc = allocate_result(&c, err);
    if (!rc) rc = sp_bone_setup(&c, err);
    if (!rc) rc = sp_canal_track(&c, err);
    if (rc == 1) { /* no spine in view: an honest empty result, not an error */
        snprintf(out->labelling, sizeof out->labelling,
                 "No spinal canal was found in the scan, so no vertebra was reported.");
        os_anatomy_warn(out, "no spine found in the scan");
        free_ctx(&c);
        return 0;
    }
    if (!rc) rc = sp_bodies_segment(&c, err);
    if (!rc) rc = sp_centreline_fit(&c, err);
    if (!rc) sp_sacrum_top(&c);
    if (!rc) sp_pedicles_find(&c);
    if (!rc) rc = sp_discs_find(&c, err);
    if (!rc) rc = sp_masks_build(&c, err);
    if (!rc) rc = sp_trab_build(&c, err);
    if (!rc) rc = sp_sacrum_find(&c, err);
    if (!rc) rc = sp_ribs_find(&c, err);
    if (!rc && sp_cancelled(&c)) rc = os_error_set(err, -ECANCELED, "cancelled");
    if (!rc) sp_labels_assign(&c);
    free_ctx(&c);
    if (rc) os_anatomy_free(out);
    return rc;
}
