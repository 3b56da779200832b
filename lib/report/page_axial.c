/* lib/report: page 2, the axial slice at mid-L3 (mid-L1 when L3 is not in the scan) in a
 * soft-tissue window, muscle groups and fat overlaid in colour, with a legend of areas and mean
 * attenuation and the skeletal muscle index when the patient's height is known. */
#include "draw_util.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_W 1024
#define PAGE_H 1024
#define PANEL_X 16
#define PANEL_Y (RP_BANNER_H + 62)
#define PANEL_W (PAGE_W - 2 * PANEL_X)
#define PANEL_H 660
#define LEGEND_Y (PANEL_Y + PANEL_H + 34)
#define MARGIN_MM 10.0

typedef struct tissue_style {
    const char *name;
    int rgb[3];
    double alpha;
} tissue_style;

static const tissue_style STYLE[OS_TISSUE_COUNT] = {
    [OS_TISSUE_NONE] = {"", {0, 0, 0}, 0},
    [OS_TISSUE_PSOAS] = {"Psoas", {235, 60, 60}, 0.45},
    [OS_TISSUE_ERECTOR] = {"Erector spinae", {60, 130, 255}, 0.45},
    [OS_TISSUE_QL] = {"Quadratus lumborum", {255, 170, 0}, 0.50},
    [OS_TISSUE_WALL] = {"Abdominal wall", {200, 90, 235}, 0.45},
    [OS_TISSUE_SAT] = {"Subcutaneous fat (SAT)", {255, 236, 150}, 0.28},
    [OS_TISSUE_VAT] = {"Visceral fat (VAT)", {120, 235, 205}, 0.28},
    [OS_TISSUE_IMAT] = {"Intermuscular fat (IMAT)", {255, 140, 210}, 0.35},
};

typedef struct ax_map {
    double x0, y0, w_mm, h_mm; /* shown region, mm from voxel (0,0) */
    double scale;
    int iw, ih, ix, iy;
    int right_left, ant_top;   /* x grows to the patient's left (shown right); y grows posterior (down) */
} ax_map;

static void map_to_vox(const os_volume *vol, const ax_map *s, double u, double v, double *x, double *y) {
    double a = s->right_left ? u / s->scale : s->w_mm - u / s->scale;
    double b = s->ant_top ? v / s->scale : s->h_mm - v / s->scale;
    *x = (s->x0 + a) / vol->spacing[0];
    *y = (s->y0 + b) / vol->spacing[1];
}

/* The region shown: the body outline's bounding box with a margin, else the whole slice. */
static void region(const os_volume *vol, const os_level_slice *ls, int use_maps, ax_map *s) {
    double sx = vol->spacing[0], sy = vol->spacing[1];
    double wx = (vol->nx - 1) * sx, wy = (vol->ny - 1) * sy;
    s->x0 = 0;
    s->y0 = 0;
    s->w_mm = wx > 0 ? wx : sx;
    s->h_mm = wy > 0 ? wy : sy;
    if (!use_maps || !ls->body) return;
    int x_lo = vol->nx, x_hi = -1, y_lo = vol->ny, y_hi = -1;
    for (int y = 0; y < vol->ny; y++)
        for (int x = 0; x < vol->nx; x++)
            if (ls->body[(size_t)y * (size_t)vol->nx + (size_t)x]) {
                if (x < x_lo) x_lo = x;
                if (x > x_hi) x_hi = x;
                if (y < y_lo) y_lo = y;
                if (y > y_hi) y_hi = y;
            }
    if (x_hi < x_lo || y_hi < y_lo) return;
    double a0 = fmax(0, x_lo * sx - MARGIN_MM), a1 = fmin(wx, x_hi * sx + MARGIN_MM);
    double b0 = fmax(0, y_lo * sy - MARGIN_MM), b1 = fmin(wy, y_hi * sy + MARGIN_MM);
    if (a1 - a0 < 20 || b1 - b0 < 20) return;
    s->x0 = a0;
    s->y0 = b0;
    s->w_mm = a1 - a0;
    s->h_mm = b1 - b0;
}

static int draw_slice(cairo_t *cr, const os_volume *vol, const os_level_slice *ls, int use_maps, ax_map *s,
                      os_error *err) {
    region(vol, ls, use_maps, s);
    s->right_left = !(vol->row_dir[0] < 0);
    s->ant_top = !(vol->col_dir[1] < 0);
    s->scale = fmin(PANEL_W / s->w_mm, PANEL_H / s->h_mm);
    s->iw = (int)(s->w_mm * s->scale);
    s->ih = (int)(s->h_mm * s->scale);
    if (s->iw < 1) s->iw = 1;
    if (s->ih < 1) s->ih = 1;
    s->ix = PANEL_X + (PANEL_W - s->iw) / 2;
    s->iy = PANEL_Y + (PANEL_H - s->ih) / 2;

    cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, s->iw, s->ih);
    if (cairo_surface_status(img) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(img);
        return os_error_set(err, -ENOMEM, "out of memory drawing the axial page");
    }
    cairo_surface_flush(img);
    unsigned char *data = cairo_image_surface_get_data(img);
    int stride = cairo_image_surface_get_stride(img);
    int z = ls->z < 0 ? 0 : ls->z >= vol->nz ? vol->nz - 1 : ls->z;
    for (int v = 0; v < s->ih; v++) {
        uint32_t *row = (uint32_t *)(void *)(data + (size_t)v * (size_t)stride);
        for (int u = 0; u < s->iw; u++) {
            double x, y;
            map_to_vox(vol, s, u + 0.5, v + 0.5, &x, &y);
            uint8_t g = rp_window(rp_sample(vol, x, y, z), 400, 40);
            uint32_t px = rp_px(g, g, g);
            if (use_maps && ls->tissue) {
                long xi = lround(x), yi = lround(y);
                if (xi >= 0 && yi >= 0 && xi < vol->nx && yi < vol->ny) {
                    uint8_t t = ls->tissue[(size_t)yi * (size_t)vol->nx + (size_t)xi];
                    if (t > OS_TISSUE_NONE && t < OS_TISSUE_COUNT) px = rp_blend(px, STYLE[t].rgb, STYLE[t].alpha);
                }
            }
            row[u] = px;
        }
    }
    cairo_surface_mark_dirty(img);
    cairo_set_source_surface(cr, img, s->ix, s->iy);
    cairo_paint(cr);
    cairo_surface_destroy(img);

    /* Orientation letters (radiological convention: the patient's right on the left). */
    rp_rgb(cr, 255, 255, 120);
    rp_text(cr, s->ix + 6, s->iy + s->ih / 2.0, 16, 1, s->right_left ? "R" : "L");
    rp_text(cr, s->ix + s->iw - 18, s->iy + s->ih / 2.0, 16, 1, s->right_left ? "L" : "R");
    rp_text(cr, s->ix + s->iw / 2.0 - 5, s->iy + 18, 16, 1, s->ant_top ? "A" : "P");
    double bar = 50 * s->scale;
    if (bar < s->iw - 20) {
        double bx = s->ix + 10, by = s->iy + s->ih - 12;
        rp_rgb(cr, 255, 255, 255);
        cairo_set_line_width(cr, 2);
        cairo_move_to(cr, bx, by);
        cairo_line_to(cr, bx + bar, by);
        cairo_stroke(cr);
        rp_text(cr, bx, by - 5, 12, 0, "50 mm");
    }
    return 0;
}

static void swatch(cairo_t *cr, double x, double y, const tissue_style *st) {
    rp_rgb(cr, st->rgb[0], st->rgb[1], st->rgb[2]);
    cairo_rectangle(cr, x, y - 12, 16, 15);
    cairo_fill(cr);
}

static void legend(cairo_t *cr, const os_muscle_measure *mm, int level) {
    const double row = 22, c1 = PANEL_X, c2 = 560;
    char a[32], h[32], buf[256];
    double y = LEGEND_Y;
    rp_rgb(cr, 200, 200, 200);
    rp_text(cr, c1, y, 14, 1, "Skeletal muscle (\xE2\x88\x92" "29\xE2\x80\xA6" "150 HU)");
    rp_text(cr, c1 + 270, y, 14, 1, "area cm\xC2\xB2");
    rp_text(cr, c1 + 380, y, 14, 1, "mean HU");
    rp_text(cr, c2, y, 14, 1, "Fat (\xE2\x88\x92" "190\xE2\x80\xA6\xE2\x88\x92" "30 HU)");
    rp_text(cr, c2 + 250, y, 14, 1, "area cm\xC2\xB2");
    for (int t = OS_TISSUE_PSOAS; t <= OS_TISSUE_WALL; t++) {
        y += row;
        swatch(cr, c1, y, &STYLE[t]);
        rp_rgb(cr, 235, 235, 235);
        rp_text(cr, c1 + 26, y, 15, 0, STYLE[t].name);
        rp_num(a, sizeof a, "%.1f", mm ? mm->group_area_cm2[t] : NAN);
        rp_num(h, sizeof h, "%.0f", mm ? mm->group_mean_hu[t] : NAN);
        rp_text(cr, c1 + 270, y, 15, 0, a);
        rp_text(cr, c1 + 380, y, 15, 0, h);
    }
    y += row + 2;
    rp_rgb(cr, 255, 255, 255);
    rp_text(cr, c1 + 26, y, 15, 1, "All skeletal muscle");
    rp_num(a, sizeof a, "%.1f", mm ? mm->area_cm2 : NAN);
    rp_num(h, sizeof h, "%.0f", mm ? mm->mean_hu : NAN);
    rp_text(cr, c1 + 270, y, 15, 1, a);
    rp_text(cr, c1 + 380, y, 15, 1, h);

    double fy = LEGEND_Y;
    const double fat[3] = {mm ? mm->sat_cm2 : NAN, mm ? mm->vat_cm2 : NAN, mm ? mm->imat_cm2 : NAN};
    for (int k = 0; k < 3; k++) {
        int t = OS_TISSUE_SAT + k;
        fy += row;
        swatch(cr, c2, fy, &STYLE[t]);
        rp_rgb(cr, 235, 235, 235);
        rp_text(cr, c2 + 26, fy, 15, 0, STYLE[t].name);
        rp_num(a, sizeof a, "%.1f", fat[k]);
        rp_text(cr, c2 + 250, fy, 15, 0, a);
    }

    /* Skeletal muscle index. */
    fy += row * 1.6;
    double smi = mm ? mm->index_cm2_m2 : NAN;
    if (isfinite(smi)) {
        snprintf(buf, sizeof buf, "Skeletal muscle index (%s) %.1f cm\xC2\xB2/m\xC2\xB2", rp_level_name(level), smi);
        rp_rgb(cr, 255, 255, 255);
        fy = rp_text_wrap(cr, c2, fy, PAGE_W - c2 - 16, 16, 1, buf, 2) - row;
        const char *sarc = NULL;
        if (mm->sarcopenia == 1) sarc = "below the sex-specific cut-off (Prado 2008): low muscle mass";
        else if (mm->sarcopenia == 0) sarc = "above the sex-specific cut-off (Prado 2008)";
        if (sarc) {
            fy += row;
            if (mm->sarcopenia == 1) rp_rgb(cr, 255, 150, 60);
            else rp_rgb(cr, 200, 200, 200);
            fy = rp_text_wrap(cr, c2, fy, PAGE_W - c2 - 16, 14, 0, sarc, 2) - row;
        }
    } else {
        rp_rgb(cr, 200, 200, 200);
        fy = rp_text_wrap(cr, c2, fy, PAGE_W - c2 - 16, 15, 0,
                          "Skeletal muscle index: not computed (patient height unknown)", 2) - row;
    }
    if (mm && mm->note[0]) {
        fy += row;
        rp_rgb(cr, 170, 170, 170);
        rp_text_wrap(cr, c2, fy, PAGE_W - c2 - 16, 13, 0, mm->note, 2);
    }
}

int rp_draw_axial(const os_volume *vol, const os_anatomy *a, const os_measurements *m, const rp_info *info,
                  os_report_page *out, os_error *err) {
    rp_page p;
    int rc = rp_page_begin(&p, PAGE_W, PAGE_H, err);
    if (rc) return rc;
    cairo_t *cr = p.cr;

    int level = -1;
    if (a && a->slices[OS_L3].present) level = OS_L3;
    else if (a && a->slices[OS_L1].present) level = OS_L1;
    char title[160], sub[200];
    if (level == OS_L3) snprintf(title, sizeof title, "Axial mid-L3 \xE2\x80\x94 skeletal muscle and fat");
    else if (level == OS_L1)
        snprintf(title, sizeof title, "Axial mid-L1 \xE2\x80\x94 skeletal muscle and fat (L3 not in the scan)");
    else snprintf(title, sizeof title, "Axial muscle and fat \xE2\x80\x94 L3 not in the scan");
    rp_rgb(cr, 255, 255, 255);
    rp_text(cr, PANEL_X, RP_BANNER_H + 28, 20, 1, title);

    if (level < 0) {
        rp_message(cr, PANEL_X, PANEL_Y, PANEL_W, PANEL_H, "L3 not in the scan",
                   "Neither the third nor the first lumbar vertebra lies within the scanned range, so no "
                   "skeletal muscle or fat area is reported.");
    } else if (!rp_volume_ok(vol)) {
        rp_message(cr, PANEL_X, PANEL_Y, PANEL_W, PANEL_H, "No image data", NULL);
    } else {
        const os_level_slice *ls = &a->slices[level];
        int use_maps = rp_anatomy_matches(vol, a);
        ax_map s;
        memset(&s, 0, sizeof s);
        rc = draw_slice(cr, vol, ls, use_maps, &s, err);
        if (rc) {
            rp_page_discard(&p);
            return rc;
        }
        double zmm = isfinite(ls->z_mm) ? ls->z_mm : NAN;
        char zs[32];
        rp_num(zs, sizeof zs, "%.1f mm", zmm);
        snprintf(sub, sizeof sub, "Soft-tissue window W 400 / L 40  \xC2\xB7  slice %d (z %s)  \xC2\xB7  %.2f mm/pixel%s",
                 ls->z, zs, 1.0 / s.scale, use_maps && ls->tissue ? "" : "  \xC2\xB7  no tissue map");
        rp_rgb(cr, 170, 170, 170);
        rp_text(cr, PANEL_X, RP_BANNER_H + 50, 14, 0, sub);
        const os_muscle_measure *mm = m && m->muscle[level].present ? &m->muscle[level] : NULL;
        legend(cr, mm, level);
    }
    rp_page_chrome(&p, info, level == OS_L1 ? "Axial L1" : "Axial L3");
    return rp_page_finish(&p, out, level == OS_L1 ? "Axial L1 muscle and fat" : "Axial L3 muscle and fat", err);
}
