/* The phantom's cross-section: body outline with subcutaneous fat, a vertebra (cortical
 * shell, trabecular core) with neural arch and spinal canal, both psoas muscles and the
 * aorta, laid out roughly as in an axial slice at L3 (LPS: +x patient left, +y posterior). */
#include "body.h"

static double max2(double a, double b) {
    return a > b ? a : b;
}

static ph_ellipse circle(double cx, double cy, double r) {
    return (ph_ellipse){cx, cy, r, r};
}

static int inside(const ph_ellipse *e, double x, double y) {
    double dx = (x - e->cx) / e->ax, dy = (y - e->cy) / e->ay;
    return dx * dx + dy * dy <= 1.0;
}

void ph_body_layout(ph_body *b, double fov_x, double fov_y, double pixel_mm) {
    /* Dimensions below are an adult abdomen in a 360 mm field of view. */
    double s = (fov_x < fov_y ? fov_x : fov_y) / 360.0;
    double thin = 1.5 * pixel_mm;
    b->skin = (ph_ellipse){0, 0, 160 * s, 120 * s};
    double fat = max2(15 * s, thin);
    b->fat_inner = (ph_ellipse){0, 0, b->skin.ax - fat, b->skin.ay - fat};

    double vr = 20 * s, vy = 45 * s;
    b->vertebra = circle(0, vy, vr);
    b->trabecular_r = vr - max2(2 * s, thin);
    double canal_r = 9 * s, arch_t = max2(4 * s, thin);
    double canal_y = vy + vr + arch_t + canal_r;
    b->canal = circle(0, canal_y, canal_r);
    b->arch = circle(0, canal_y, canal_r + arch_t);
    b->psoas[0] = (ph_ellipse){-(vr + 18 * s), vy - 5 * s, 14 * s, 18 * s};
    b->psoas[1] = (ph_ellipse){+(vr + 18 * s), vy - 5 * s, 14 * s, 18 * s};
    b->aorta = circle(15 * s, vy - vr - 14 * s, 12 * s);
}

static int16_t tissue_at(const ph_body *b, double x, double y) {
    if (!inside(&b->skin, x, y)) return PH_HU_AIR;
    /* Innermost structures first: the first shape that holds the point wins. */
    if (inside(&b->vertebra, x, y)) {
        double dx = x - b->vertebra.cx, dy = y - b->vertebra.cy;
        return dx * dx + dy * dy <= b->trabecular_r * b->trabecular_r ? PH_HU_TRABECULAR
                                                                       : PH_HU_CORTICAL;
    }
    if (inside(&b->canal, x, y)) return PH_HU_CSF;
    if (inside(&b->arch, x, y)) return PH_HU_CORTICAL;
    if (inside(&b->aorta, x, y)) return PH_HU_AORTA;
    if (inside(&b->psoas[0], x, y) || inside(&b->psoas[1], x, y)) return PH_HU_MUSCLE;
    if (!inside(&b->fat_inner, x, y)) return PH_HU_FAT;
    return PH_HU_SOFT;
}

void ph_body_render(const ph_body *b, int rows, int cols, double pixel_mm, double x0, double y0,
                    int16_t *hu) {
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
            hu[(size_t)r * cols + c] = tissue_at(b, x0 + c * pixel_mm, y0 + r * pixel_mm);
}

static void add_ellipse(cJSON *parent, const char *name, const ph_ellipse *e, int hu) {
    cJSON *o = cJSON_AddObjectToObject(parent, name);
    double c[2] = {e->cx, e->cy}, a[2] = {e->ax, e->ay};
    cJSON_AddItemToObject(o, "center_mm", cJSON_CreateDoubleArray(c, 2));
    cJSON_AddItemToObject(o, "semi_axes_mm", cJSON_CreateDoubleArray(a, 2));
    cJSON_AddNumberToObject(o, "hu", hu);
}

void ph_body_truth(const ph_body *b, cJSON *truth) {
    cJSON *t = cJSON_AddObjectToObject(truth, "tissues_hu");
    cJSON_AddNumberToObject(t, "air", PH_HU_AIR);
    cJSON_AddNumberToObject(t, "subcutaneous_fat", PH_HU_FAT);
    cJSON_AddNumberToObject(t, "soft_tissue", PH_HU_SOFT);
    cJSON_AddNumberToObject(t, "muscle", PH_HU_MUSCLE);
    cJSON_AddNumberToObject(t, "aorta_contrast", PH_HU_AORTA);
    cJSON_AddNumberToObject(t, "csf", PH_HU_CSF);
    cJSON_AddNumberToObject(t, "trabecular_bone", PH_HU_TRABECULAR);
    cJSON_AddNumberToObject(t, "cortical_bone", PH_HU_CORTICAL);

    cJSON *s = cJSON_AddObjectToObject(truth, "structures");
    cJSON_AddStringToObject(s, "coordinates", "LPS mm in every slice plane; constant along z");
    add_ellipse(s, "body", &b->skin, PH_HU_SOFT);
    add_ellipse(s, "fat_inner_boundary", &b->fat_inner, PH_HU_FAT);
    add_ellipse(s, "vertebral_body", &b->vertebra, PH_HU_CORTICAL);
    cJSON_AddNumberToObject(cJSON_GetObjectItem(s, "vertebral_body"), "trabecular_radius_mm",
                            b->trabecular_r);
    add_ellipse(s, "neural_arch", &b->arch, PH_HU_CORTICAL);
    add_ellipse(s, "spinal_canal", &b->canal, PH_HU_CSF);
    add_ellipse(s, "psoas_right", &b->psoas[0], PH_HU_MUSCLE);
    add_ellipse(s, "psoas_left", &b->psoas[1], PH_HU_MUSCLE);
    add_ellipse(s, "aorta", &b->aorta, PH_HU_AORTA);
}
