/* The risk model's input, built once for training and serving alike (docs/model-inputs.md):
 * per level T12–L4 a 12 × 160 × 160 patch on a 3 × 1 × 1 mm grid aligned with the volume,
 * centred 35 mm behind the vertebral body's centroid, CT clipped to [0, 1000] HU and scaled
 * to [0, 1], masked by the body (bone image) or by the psoas and erector spinae within the
 * vertebra's slices (muscle image). */
#include "osteoscout/modelinput.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "osteoscout/fs.h"

static const int mi_levels[OS_MI_LEVELS] = {OS_T12, OS_L1, OS_L2, OS_L3, OS_L4};

static double dot3(const double a[3], const double b[3]) {
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

/* Trilinear HU at voxel coordinates (x, y, z), clamped to the volume's edge. Only called for
 * points whose nearest voxel is inside, so the clamp moves a point by half a voxel at most. */
static double trilinear(const os_volume *vol, double x, double y, double z) {
    double c[3] = {x, y, z};
    int n[3] = {vol->nx, vol->ny, vol->nz};
    int i0[3], i1[3];
    double f[3];
    for (int k = 0; k < 3; k++) {
        double v = c[k] < 0 ? 0 : c[k] > n[k] - 1 ? n[k] - 1 : c[k];
        i0[k] = (int)v;
        if (i0[k] > n[k] - 1) i0[k] = n[k] - 1;
        i1[k] = i0[k] + 1 < n[k] ? i0[k] + 1 : i0[k];
        f[k] = v - i0[k];
    }
    size_t sx = 1, sy = (size_t)vol->nx, sz = (size_t)vol->nx * (size_t)vol->ny;
    const int16_t *hu = vol->hu;
#define V(a, b, d) ((double)hu[(size_t)(a) * sx + (size_t)(b) * sy + (size_t)(d) * sz])
    double c00 = V(i0[0], i0[1], i0[2]) * (1 - f[0]) + V(i1[0], i0[1], i0[2]) * f[0];
    double c10 = V(i0[0], i1[1], i0[2]) * (1 - f[0]) + V(i1[0], i1[1], i0[2]) * f[0];
    double c01 = V(i0[0], i0[1], i1[2]) * (1 - f[0]) + V(i1[0], i0[1], i1[2]) * f[0];
    double c11 = V(i0[0], i1[1], i1[2]) * (1 - f[0]) + V(i1[0], i1[1], i1[2]) * f[0];
#undef V
    double c0 = c00 * (1 - f[1]) + c10 * f[1];
    double c1 = c01 * (1 - f[1]) + c11 * f[1];
    return c0 * (1 - f[2]) + c1 * f[2];
}

static float scaled(double hu) {
    if (hu < 0) hu = 0;
    if (hu > 1000) hu = 1000;
    return (float)(hu / 1000.0);
}

/* Where the patch of vertebra v is centred, in voxel coordinates: the centroid moved 35 mm
 * posteriorly within the slice plane (the body's -ap projected on it), same z. */
static void patch_centre(const os_volume *vol, const os_vertebra *v, double c[3]) {
    double post[3] = {-v->ap_lps[0], -v->ap_lps[1], -v->ap_lps[2]};
    double px = dot3(post, vol->row_dir), py = dot3(post, vol->col_dir);
    double norm = hypot(px, py);
    if (norm < 0.1) { /* ap (nearly) along the normal: not an axial scan; use patient posterior */
        const double lps_p[3] = {0, 1, 0};
        px = dot3(lps_p, vol->row_dir);
        py = dot3(lps_p, vol->col_dir);
        norm = hypot(px, py);
    }
    c[0] = v->center_vox[0];
    c[1] = v->center_vox[1];
    c[2] = v->center_vox[2];
    if (norm >= 0.1) {
        c[0] += OS_MI_POSTERIOR_SHIFT_MM * px / norm / vol->spacing[0];
        c[1] += OS_MI_POSTERIOR_SHIFT_MM * py / norm / vol->spacing[1];
    }
}

static void build_level(const os_volume *vol, const os_anatomy *a, int vi, const double c[3], float *bone,
                        float *muscle) {
    const os_vertebra *v = &a->vertebrae[vi];
    const uint8_t label = (uint8_t)(vi + 1);
    double xs[OS_MI_W], ys[OS_MI_H], zs[OS_MI_D];
    for (int w = 0; w < OS_MI_W; w++)
        xs[w] = c[0] + (w - (OS_MI_W - 1) / 2.0) * OS_MI_SPACING_HW_MM / vol->spacing[0];
    for (int h = 0; h < OS_MI_H; h++)
        ys[h] = c[1] + (h - (OS_MI_H - 1) / 2.0) * OS_MI_SPACING_HW_MM / vol->spacing[1];
    for (int d = 0; d < OS_MI_D; d++)
        zs[d] = c[2] + (d - (OS_MI_D - 1) / 2.0) * OS_MI_SPACING_D_MM / vol->spacing[2];
    size_t plane = (size_t)vol->nx * (size_t)vol->ny;
    for (int d = 0; d < OS_MI_D; d++) {
        long nz = lround(zs[d]);
        if (nz < 0 || nz >= vol->nz) continue;
        int muscle_z = a->muscle_mask && nz >= v->z_first && nz <= v->z_last;
        for (int h = 0; h < OS_MI_H; h++) {
            long ny = lround(ys[h]);
            if (ny < 0 || ny >= vol->ny) continue;
            size_t row = (size_t)nz * plane + (size_t)ny * (size_t)vol->nx;
            size_t out = ((size_t)d * OS_MI_H + (size_t)h) * OS_MI_W;
            for (int w = 0; w < OS_MI_W; w++) {
                long nx = lround(xs[w]);
                if (nx < 0 || nx >= vol->nx) continue;
                size_t p = row + (size_t)nx;
                int in_bone = a->body_mask[p] == label;
                int in_muscle = muscle_z && (a->muscle_mask[p] == OS_TISSUE_PSOAS ||
                                             a->muscle_mask[p] == OS_TISSUE_ERECTOR);
                if (!in_bone && !in_muscle) continue;
                float value = scaled(trilinear(vol, xs[w], ys[h], zs[d]));
                if (in_bone) bone[out + (size_t)w] = value;
                if (in_muscle) muscle[out + (size_t)w] = value;
            }
        }
    }
}

int os_model_inputs_build(const os_volume *vol, const os_anatomy *a, os_model_inputs *out, os_error *err) {
    memset(out, 0, sizeof *out);
    for (int l = 0; l < OS_MI_LEVELS; l++) out->levels[l] = mi_levels[l];
    if (!vol || !vol->hu || vol->nx < 1 || vol->ny < 1 || vol->nz < 1)
        return os_error_set(err, -EINVAL, "cannot build model inputs: the volume is empty");
    if (!a) return os_error_set(err, -EINVAL, "cannot build model inputs: no anatomy");
    if (a->n_vertebrae > 0 && (a->nx != vol->nx || a->ny != vol->ny || a->nz != vol->nz || !a->body_mask))
        return os_error_set(err, -EINVAL,
                            "cannot build model inputs: the anatomy (%d×%d×%d) does not belong to this volume "
                            "(%d×%d×%d)",
                            a->nx, a->ny, a->nz, vol->nx, vol->ny, vol->nz);
    for (int k = 0; k < 3; k++)
        if (!(vol->spacing[k] > 0))
            return os_error_set(err, -EINVAL, "cannot build model inputs: voxel spacing %d is %g mm", k,
                                vol->spacing[k]);
    out->bone = calloc(OS_MI_VOXELS, sizeof *out->bone);
    out->muscle = calloc(OS_MI_VOXELS, sizeof *out->muscle);
    if (!out->bone || !out->muscle) {
        os_model_inputs_free(out);
        return os_error_set(err, -ENOMEM, "cannot build model inputs: out of memory");
    }
    for (int l = 0; l < OS_MI_LEVELS; l++) {
        int vi = os_anatomy_vertebra_of(a, mi_levels[l]);
        if (vi < 0 || a->vertebrae[vi].cut_by_fov) continue;
        double c[3];
        patch_centre(vol, &a->vertebrae[vi], c);
        os_volume_voxel_to_lps(vol, c[0], c[1], c[2], out->center_lps[l]);
        build_level(vol, a, vi, c, out->bone + (size_t)l * OS_MI_LEVEL_VOXELS,
                    out->muscle + (size_t)l * OS_MI_LEVEL_VOXELS);
        out->present[l] = 1;
    }
    return 0;
}

void os_model_inputs_free(os_model_inputs *in) {
    if (!in) return;
    free(in->bone);
    free(in->muscle);
    in->bone = in->muscle = NULL;
}

int os_model_inputs_n_present(const os_model_inputs *in) {
    int n = 0;
    for (int l = 0; l < OS_MI_LEVELS; l++) n += in->present[l] != 0;
    return n;
}

/* ---- files ---- */

static int host_is_little_endian(void) {
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* Writes path via path.tmp + fsync + rename. */
static int write_atomic(const char *path, const void *data, size_t len, int swap32, os_error *err) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return os_error_set(err, -errno, "cannot create %s: %s", tmp, strerror(errno));
    int ok = 1;
    if (swap32) { /* a big-endian host: the format is little-endian */
        const unsigned char *p = data;
        unsigned char buf[4096];
        for (size_t off = 0; ok && off < len; off += sizeof buf) {
            size_t n = len - off < sizeof buf ? len - off : sizeof buf;
            for (size_t i = 0; i + 3 < n; i += 4) {
                buf[i] = p[off + i + 3];
                buf[i + 1] = p[off + i + 2];
                buf[i + 2] = p[off + i + 1];
                buf[i + 3] = p[off + i];
            }
            ok = fwrite(buf, 1, n, f) == n;
        }
    } else {
        ok = fwrite(data, 1, len, f) == len;
    }
    int e = errno;
    if (ok && fflush(f) != 0) ok = 0, e = errno;
    if (ok && fsync(fileno(f)) != 0) ok = 0, e = errno;
    if (fclose(f) != 0 && ok) ok = 0, e = errno;
    if (ok && rename(tmp, path) != 0) ok = 0, e = errno;
    if (!ok) {
        unlink(tmp);
        return os_error_set(err, -(e ? e : EIO), "cannot write %s: %s", path, strerror(e ? e : EIO));
    }
    return 0;
}

int os_model_inputs_write(const os_model_inputs *in, const char *dir, const os_model_inputs_meta *meta,
                          os_error *err) {
    if (!in || !in->bone || !in->muscle) return os_error_set(err, -EINVAL, "no model inputs to write");
    int rc = os_fs_mkdirs(dir, 0755, err);
    if (rc) return rc;
    char path[4200];
    int swap = !host_is_little_endian();
    snprintf(path, sizeof path, "%s/bone.f32", dir);
    rc = write_atomic(path, in->bone, OS_MI_VOXELS * sizeof(float), swap, err);
    if (rc) return rc;
    snprintf(path, sizeof path, "%s/muscle.f32", dir);
    rc = write_atomic(path, in->muscle, OS_MI_VOXELS * sizeof(float), swap, err);
    if (rc) return rc;

    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "format", "osteoscout-model-inputs");
    cJSON_AddNumberToObject(j, "version", OS_MODEL_INPUTS_VERSION);
    cJSON *levels = cJSON_AddArrayToObject(j, "levels");
    cJSON *present = cJSON_AddArrayToObject(j, "present");
    cJSON *centres = cJSON_AddArrayToObject(j, "centers_lps_mm");
    for (int l = 0; l < OS_MI_LEVELS; l++) {
        cJSON_AddItemToArray(levels, cJSON_CreateString(os_level_name(in->levels[l])));
        cJSON_AddItemToArray(present, cJSON_CreateNumber(in->present[l] ? 1 : 0));
        cJSON_AddItemToArray(centres, in->present[l] ? cJSON_CreateDoubleArray(in->center_lps[l], 3)
                                                     : cJSON_CreateNull());
    }
    const int shape[4] = {OS_MI_LEVELS, OS_MI_D, OS_MI_H, OS_MI_W};
    cJSON_AddItemToObject(j, "shape", cJSON_CreateIntArray(shape, 4));
    const double spacing[3] = {OS_MI_SPACING_D_MM, OS_MI_SPACING_HW_MM, OS_MI_SPACING_HW_MM};
    cJSON_AddItemToObject(j, "spacing_mm", cJSON_CreateDoubleArray(spacing, 3));
    cJSON_AddStringToObject(j, "dtype", "float32");
    cJSON_AddStringToObject(j, "byte_order", "little");
    cJSON_AddStringToObject(j, "files", "bone.f32 muscle.f32");
    if (meta && meta->study_instance_uid) cJSON_AddStringToObject(j, "study_instance_uid", meta->study_instance_uid);
    else cJSON_AddNullToObject(j, "study_instance_uid");
    if (meta && meta->series_instance_uid) cJSON_AddStringToObject(j, "series_instance_uid", meta->series_instance_uid);
    else cJSON_AddNullToObject(j, "series_instance_uid");
    cJSON_AddBoolToObject(j, "synthetic", meta && meta->synthetic);
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    if (!text) return os_error_set(err, -ENOMEM, "cannot write model inputs: out of memory");
    snprintf(path, sizeof path, "%s/inputs.json", dir);
    size_t len = strlen(text);
    text[len] = '\n'; /* cJSON_Print leaves no newline; the NUL is not written */
    rc = write_atomic(path, text, len + 1, 0, err);
    free(text);
    return rc;
}

static int read_f32(const char *path, float *out, os_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return os_error_set(err, -errno, "cannot open %s: %s", path, strerror(errno));
    size_t want = OS_MI_VOXELS * sizeof(float);
    size_t got = fread(out, 1, want, f);
    int extra = fgetc(f) != EOF;
    fclose(f);
    if (got != want || extra)
        return os_error_set(err, -EINVAL, "%s: expected %zu bytes of float32, found %s", path, want,
                            extra ? "more" : "fewer");
    if (!host_is_little_endian()) {
        unsigned char *p = (unsigned char *)out;
        for (size_t i = 0; i < want; i += 4) {
            unsigned char t = p[i];
            p[i] = p[i + 3];
            p[i + 3] = t;
            t = p[i + 1];
            p[i + 1] = p[i + 2];
            p[i + 2] = t;
        }
    }
    return 0;
}

int os_model_inputs_read(const char *dir, os_model_inputs *out, os_error *err) {
    memset(out, 0, sizeof *out);
    char path[4200];
    snprintf(path, sizeof path, "%s/inputs.json", dir);
    char *text = NULL;
    size_t len = 0;
    int rc = os_fs_read_all(path, &text, &len, err);
    if (rc) return rc;
    cJSON *j = cJSON_Parse(text);
    free(text);
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(j, "format");
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(j, "version");
    const cJSON *levels = cJSON_GetObjectItemCaseSensitive(j, "levels");
    const cJSON *present = cJSON_GetObjectItemCaseSensitive(j, "present");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(j, "shape");
    const int want_shape[4] = {OS_MI_LEVELS, OS_MI_D, OS_MI_H, OS_MI_W};
    int ok = j && cJSON_IsString(fmt) && !strcmp(fmt->valuestring, "osteoscout-model-inputs") &&
             cJSON_IsNumber(ver) && ver->valueint == OS_MODEL_INPUTS_VERSION &&
             cJSON_GetArraySize(levels) == OS_MI_LEVELS &&
             cJSON_GetArraySize(present) == OS_MI_LEVELS && cJSON_GetArraySize(shape) == 4;
    for (int k = 0; ok && k < 4; k++) ok = cJSON_GetArrayItem(shape, k)->valueint == want_shape[k];
    for (int l = 0; ok && l < OS_MI_LEVELS; l++) {
        const cJSON *name = cJSON_GetArrayItem(levels, l);
        out->levels[l] = cJSON_IsString(name) ? os_level_parse(name->valuestring) : -1;
        out->present[l] = cJSON_GetArrayItem(present, l)->valueint != 0;
        ok = out->levels[l] == mi_levels[l];
    }
    cJSON_Delete(j);
    if (!ok)
        return os_error_set(err, -EINVAL, "%s is not osteoscout-model-inputs version %d with shape [5,12,160,160]",
                            path, OS_MODEL_INPUTS_VERSION);
    out->bone = malloc(OS_MI_VOXELS * sizeof *out->bone);
    out->muscle = malloc(OS_MI_VOXELS * sizeof *out->muscle);
    if (!out->bone || !out->muscle) rc = os_error_set(err, -ENOMEM, "out of memory reading model inputs");
    if (!rc) {
        snprintf(path, sizeof path, "%s/bone.f32", dir);
        rc = read_f32(path, out->bone, err);
    }
    if (!rc) {
        snprintf(path, sizeof path, "%s/muscle.f32", dir);
        rc = read_f32(path, out->muscle, err);
    }
    if (rc) os_model_inputs_free(out);
    return rc;
}

/* ---- manifest ---- */

static void csv_field(FILE *f, const char *s) {
    if (!s) s = "";
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

int os_model_inputs_manifest_append(const char *manifest_path, const char *study, const char *study_uid,
                                    const char *path, const int present[OS_MI_LEVELS], os_error *err) {
    FILE *f = fopen(manifest_path, "a");
    if (!f) return os_error_set(err, -errno, "cannot open %s: %s", manifest_path, strerror(errno));
    if (fseek(f, 0, SEEK_END) == 0 && ftell(f) == 0) fputs("study,study_instance_uid,path,present_levels\n", f);
    char levels[64] = "";
    for (int l = 0; l < OS_MI_LEVELS; l++) {
        if (!present || !present[l]) continue;
        size_t used = strlen(levels);
        snprintf(levels + used, sizeof levels - used, "%s%s", used ? " " : "", os_level_name(mi_levels[l]));
    }
    csv_field(f, study);
    fputc(',', f);
    csv_field(f, study_uid);
    fputc(',', f);
    csv_field(f, path);
    fputc(',', f);
    csv_field(f, levels);
    fputc('\n', f);
    int bad = ferror(f);
    int e = errno;
    if (fclose(f) != 0 && !bad) bad = 1, e = errno;
    if (bad) return os_error_set(err, -(e ? e : EIO), "cannot write %s: %s", manifest_path, strerror(e ? e : EIO));
    return 0;
}
