/* lib/report: shared drawing helpers for the Secondary Capture pages. */
#include "draw_util.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifndef OS_VERSION
#define OS_VERSION "unknown"
#endif

/* Defaults of os_measure_opts (lib/measure): Pickhardt 2013, L1 trabecular HU. */
#define RP_DEFAULT_OSTEO_HU 110.0
#define RP_DEFAULT_LOW_HU 160.0

static int json_is_true(const cJSON *o, const char *key) {
    const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
    if (cJSON_IsTrue(v)) return 1;
    if (cJSON_IsNumber(v) && v->valuedouble != 0) return 1;
    return 0;
}

static void read_thresholds(rp_info *info, const cJSON *result) {
    const cJSON *bd = cJSON_GetObjectItemCaseSensitive(result, "bone_density");
    const cJSON *t = bd ? cJSON_GetObjectItemCaseSensitive(bd, "thresholds") : NULL;
    if (!t) return;
    double osteo = NAN, low = NAN;
    if (cJSON_IsArray(t) && cJSON_GetArraySize(t) == 2) {
        const cJSON *a = cJSON_GetArrayItem(t, 0), *b = cJSON_GetArrayItem(t, 1);
        if (cJSON_IsNumber(a) && cJSON_IsNumber(b)) {
            osteo = fmin(a->valuedouble, b->valuedouble);
            low = fmax(a->valuedouble, b->valuedouble);
        }
    } else if (cJSON_IsObject(t)) {
        const cJSON *c;
        cJSON_ArrayForEach(c, t) {
            if (!cJSON_IsNumber(c) || !c->string) continue;
            if (strstr(c->string, "osteo")) osteo = c->valuedouble;
            else if (strstr(c->string, "low")) low = c->valuedouble;
        }
    }
    if (isfinite(osteo)) info->thr_osteo_hu = osteo;
    if (isfinite(low)) info->thr_low_hu = low;
}

void rp_info_from_json(rp_info *info, const cJSON *result) {
    memset(info, 0, sizeof *info);
    snprintf(info->software, sizeof info->software, "OsteoScout");
    snprintf(info->version, sizeof info->version, "%s", OS_VERSION);
    info->thr_osteo_hu = RP_DEFAULT_OSTEO_HU;
    info->thr_low_hu = RP_DEFAULT_LOW_HU;
    if (!result) return;
    const cJSON *sw = cJSON_GetObjectItemCaseSensitive(result, "software");
    const cJSON *name = sw ? cJSON_GetObjectItemCaseSensitive(sw, "name") : NULL;
    const cJSON *ver = sw ? cJSON_GetObjectItemCaseSensitive(sw, "version") : NULL;
    if (cJSON_IsString(name) && name->valuestring[0]) snprintf(info->software, sizeof info->software, "%s", name->valuestring);
    if (cJSON_IsString(ver) && ver->valuestring[0]) snprintf(info->version, sizeof info->version, "%s", ver->valuestring);
    read_thresholds(info, result);
    info->synthetic = json_is_true(result, "synthetic") ||
                      json_is_true(cJSON_GetObjectItemCaseSensitive(result, "series"), "synthetic") ||
                      json_is_true(cJSON_GetObjectItemCaseSensitive(result, "volume"), "synthetic") ||
                      json_is_true(cJSON_GetObjectItemCaseSensitive(result, "input"), "synthetic");
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(result, "models");
    if ((cJSON_IsObject(models) || cJSON_IsArray(models)) && cJSON_GetArraySize(models) > 0) info->models = models;
}

int rp_page_begin(rp_page *p, int w, int h, os_error *err) {
    memset(p, 0, sizeof *p);
    p->surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, w, h);
    if (cairo_surface_status(p->surface) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(p->surface);
        p->surface = NULL;
        return os_error_set(err, -ENOMEM, "cannot create a %dx%d drawing surface", w, h);
    }
    p->cr = cairo_create(p->surface);
    if (cairo_status(p->cr) != CAIRO_STATUS_SUCCESS) {
        rp_page_discard(p);
        return os_error_set(err, -ENOMEM, "cannot create a cairo context");
    }
    p->w = w;
    p->h = h;
    cairo_set_source_rgb(p->cr, 0, 0, 0);
    cairo_paint(p->cr);
    return 0;
}

void rp_page_discard(rp_page *p) {
    if (p->cr) cairo_destroy(p->cr);
    if (p->surface) cairo_surface_destroy(p->surface);
    p->cr = NULL;
    p->surface = NULL;
}

void rp_rgb(cairo_t *cr, int r, int g, int b) { cairo_set_source_rgb(cr, r / 255.0, g / 255.0, b / 255.0); }

static void font(cairo_t *cr, double size, int bold) {
    cairo_select_font_face(cr, RP_FONT, CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

double rp_text(cairo_t *cr, double x, double y, double size, int bold, const char *s) {
    if (!s || !*s) return 0;
    font(cr, size, bold);
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    cairo_move_to(cr, x, y);
    cairo_show_text(cr, s);
    cairo_new_path(cr);
    return e.x_advance;
}

double rp_text_width(cairo_t *cr, double size, int bold, const char *s) {
    if (!s || !*s) return 0;
    font(cr, size, bold);
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    return e.x_advance;
}

double rp_text_wrap(cairo_t *cr, double x, double y, double max_w, double size, int bold, const char *s,
                    int max_lines) {
    if (!s || !*s) return y;
    char line[512];
    size_t len = strlen(s), pos = 0;
    int lines = 0;
    while (pos < len && lines < max_lines) {
        while (pos < len && s[pos] == ' ') pos++;
        /* Grow the line word by word while it fits. */
        size_t best = 0, end = pos;
        while (end < len) {
            size_t next = end;
            while (next < len && s[next] == ' ') next++;
            while (next < len && s[next] != ' ') next++;
            size_t n = next - pos;
            if (n >= sizeof line) break;
            memcpy(line, s + pos, n);
            line[n] = '\0';
            if (best && rp_text_width(cr, size, bold, line) > max_w) break;
            best = n;
            end = next;
        }
        if (!best) break;
        int last = lines == max_lines - 1 && pos + best < len;
        memcpy(line, s + pos, best);
        line[best] = '\0';
        if (last && best + 4 < sizeof line) strcat(line, " \xE2\x80\xA6");
        rp_text(cr, x, y, size, bold, line);
        y += size * 1.35;
        pos += best;
        lines++;
    }
    return y;
}

void rp_page_chrome(rp_page *p, const rp_info *info, const char *footer_title) {
    cairo_t *cr = p->cr;
    /* Banner: strong amber band, black bold text, centred. */
    rp_rgb(cr, RP_BANNER_R, RP_BANNER_G, RP_BANNER_B);
    cairo_rectangle(cr, 0, 0, p->w, RP_BANNER_H);
    cairo_fill(cr);
    double size = 22;
    double tw = rp_text_width(cr, size, 1, RP_BANNER_TEXT);
    if (tw > p->w - 20) {
        size *= (p->w - 20) / tw;
        tw = rp_text_width(cr, size, 1, RP_BANNER_TEXT);
    }
    rp_rgb(cr, 0, 0, 0);
    rp_text(cr, (p->w - tw) / 2, RP_BANNER_H / 2.0 + size * 0.36, size, 1, RP_BANNER_TEXT);

    /* Footer: software and version left, page right, SYNTHETIC in the middle when so. */
    double fy = p->h - RP_FOOTER_H;
    rp_rgb(cr, 38, 38, 38);
    cairo_rectangle(cr, 0, fy, p->w, RP_FOOTER_H);
    cairo_fill(cr);
    char buf[160];
    snprintf(buf, sizeof buf, "%s %s", info->software, info->version);
    rp_rgb(cr, 215, 215, 215);
    rp_text(cr, 12, fy + 19, 14, 1, buf);
    if (info->n_pages > 0)
        snprintf(buf, sizeof buf, "%s  \xC2\xB7  page %d/%d", footer_title ? footer_title : "", info->page_no,
                 info->n_pages);
    else
        snprintf(buf, sizeof buf, "%s", footer_title ? footer_title : "");
    double w = rp_text_width(cr, 14, 0, buf);
    rp_text(cr, p->w - 12 - w, fy + 19, 14, 0, buf);
    if (info->synthetic) {
        rp_rgb(cr, 255, 80, 255);
        w = rp_text_width(cr, 15, 1, "SYNTHETIC DATA");
        rp_text(cr, (p->w - w) / 2, fy + 19, 15, 1, "SYNTHETIC DATA");
    }
}

int rp_page_finish(rp_page *p, os_report_page *out, const char *title, os_error *err) {
    cairo_surface_flush(p->surface);
    if (cairo_status(p->cr) != CAIRO_STATUS_SUCCESS) {
        const char *why = cairo_status_to_string(cairo_status(p->cr));
        rp_page_discard(p);
        return os_error_set(err, -EIO, "drawing the \"%s\" page failed: %s", title, why);
    }
    const unsigned char *data = cairo_image_surface_get_data(p->surface);
    int stride = cairo_image_surface_get_stride(p->surface);
    unsigned char *rgb = malloc((size_t)p->w * (size_t)p->h * 3);
    if (!rgb || !data) {
        free(rgb);
        rp_page_discard(p);
        return os_error_set(err, -ENOMEM, "out of memory converting the \"%s\" page", title);
    }
    for (int y = 0; y < p->h; y++) {
        const uint32_t *row = (const uint32_t *)(const void *)(data + (size_t)y * (size_t)stride);
        unsigned char *o = rgb + (size_t)y * (size_t)p->w * 3;
        for (int x = 0; x < p->w; x++) {
            uint32_t v = row[x];
            unsigned a = (v >> 24) & 0xFF, r = (v >> 16) & 0xFF, g = (v >> 8) & 0xFF, b = v & 0xFF;
            if (a != 255) { /* premultiplied: undo (the background is opaque, so rare) */
                r = a ? (r * 255 + a / 2) / a : 0;
                g = a ? (g * 255 + a / 2) / a : 0;
                b = a ? (b * 255 + a / 2) / a : 0;
            }
            o[3 * x] = (unsigned char)(r > 255 ? 255 : r);
            o[3 * x + 1] = (unsigned char)(g > 255 ? 255 : g);
            o[3 * x + 2] = (unsigned char)(b > 255 ? 255 : b);
        }
    }
    out->rows = p->h;
    out->cols = p->w;
    out->rgb = rgb;
    snprintf(out->title, sizeof out->title, "%s", title);
    rp_page_discard(p);
    return 0;
}

void rp_num(char *buf, size_t n, const char *fmt, double v) {
    if (!isfinite(v)) {
        snprintf(buf, n, "%s", RP_DASH);
        return;
    }
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    snprintf(buf, n, fmt, v);
#pragma GCC diagnostic pop
}

const char *rp_level_name(int level) {
    static const char *const names[OS_LEVEL_COUNT] = {"T10", "T11", "T12", "L1", "L2", "L3", "L4", "L5", "S1"};
    if (level < 0 || level >= OS_LEVEL_COUNT) return "?";
    return names[level];
}

const char *rp_phase_name(int phase) {
    switch (phase) {
    case OS_PHASE_NONCONTRAST: return "non-contrast";
    case OS_PHASE_ARTERIAL: return "arterial";
    case OS_PHASE_PORTAL: return "portal venous";
    default: return "unknown";
    }
}

void rp_grade_colour(int grade, int rgb[3]) {
    static const int c[5][3] = {
        {60, 200, 80},   /* 0 green */
        {240, 225, 40},  /* 1 yellow */
        {255, 140, 0},   /* 2 orange */
        {235, 30, 30},   /* 3 red */
        {150, 150, 150}, /* not graded */
    };
    int i = grade >= 0 && grade <= 3 ? grade : 4;
    rgb[0] = c[i][0];
    rgb[1] = c[i][1];
    rgb[2] = c[i][2];
}

const char *rp_grade_text(int grade) {
    switch (grade) {
    case 0: return "G0 normal";
    case 1: return "G1 mild (20\xE2\x80\x93" "25 %)";
    case 2: return "G2 moderate (25\xE2\x80\x93" "40 %)";
    case 3: return "G3 severe (> 40 %)";
    default: return "not graded";
    }
}

double rp_sample(const os_volume *vol, double x, double y, double z) {
    if (!(x >= 0 && y >= 0 && z >= 0)) return -1024;
    if (x > vol->nx - 1 || y > vol->ny - 1 || z > vol->nz - 1) return -1024;
    int x0 = (int)x, y0 = (int)y, z0 = (int)z;
    int x1 = x0 + 1 < vol->nx ? x0 + 1 : x0;
    int y1 = y0 + 1 < vol->ny ? y0 + 1 : y0;
    int z1 = z0 + 1 < vol->nz ? z0 + 1 : z0;
    double fx = x - x0, fy = y - y0, fz = z - z0;
    size_t nx = (size_t)vol->nx, nxy = nx * (size_t)vol->ny;
#define V(X, Y, Z) ((double)vol->hu[(size_t)(X) + nx * (size_t)(Y) + nxy * (size_t)(Z)])
    double c00 = V(x0, y0, z0) * (1 - fx) + V(x1, y0, z0) * fx;
    double c10 = V(x0, y1, z0) * (1 - fx) + V(x1, y1, z0) * fx;
    double c01 = V(x0, y0, z1) * (1 - fx) + V(x1, y0, z1) * fx;
    double c11 = V(x0, y1, z1) * (1 - fx) + V(x1, y1, z1) * fx;
#undef V
    double c0 = c00 * (1 - fy) + c10 * fy, c1 = c01 * (1 - fy) + c11 * fy;
    return c0 * (1 - fz) + c1 * fz;
}

void rp_message(cairo_t *cr, double x, double y, double w, double h, const char *line1, const char *line2) {
    rp_rgb(cr, 90, 90, 90);
    cairo_set_line_width(cr, 2);
    cairo_rectangle(cr, x + 1, y + 1, w - 2, h - 2);
    cairo_stroke(cr);
    rp_rgb(cr, 235, 235, 235);
    double tw = rp_text_width(cr, 28, 1, line1);
    rp_text(cr, x + (w - tw) / 2, y + h / 2 - 6, 28, 1, line1);
    if (line2 && *line2) {
        rp_rgb(cr, 180, 180, 180);
        rp_text_wrap(cr, x + 40, y + h / 2 + 30, w - 80, 17, 0, line2, 4);
    }
}

int rp_volume_ok(const os_volume *vol) {
    return vol && vol->hu && vol->nx > 0 && vol->ny > 0 && vol->nz > 0 && vol->spacing[0] > 0 &&
           vol->spacing[1] > 0 && vol->spacing[2] > 0;
}

int rp_anatomy_matches(const os_volume *vol, const os_anatomy *a) {
    return rp_volume_ok(vol) && a && a->nx == vol->nx && a->ny == vol->ny && a->nz == vol->nz;
}
