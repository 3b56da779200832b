/* lib/report internals: what the three Secondary Capture pages share — a cairo page with the
 * burned-in banner and the footer, text helpers, CT windowing and sampling, grade colours, and
 * the few facts read from the result JSON. Not part of the public API. */
#ifndef OSTEOSCOUT_REPORT_DRAW_UTIL_H
#define OSTEOSCOUT_REPORT_DRAW_UTIL_H

#include <cairo.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cjson/cJSON.h>

#include "osteoscout/anatomy.h"
#include "osteoscout/error.h"
#include "osteoscout/measure.h"
#include "osteoscout/report.h"
#include "osteoscout/volume.h"

#define RP_FONT "DejaVu Sans"
#define RP_BANNER_TEXT "Automated result \xE2\x80\x94 to be reviewed by a radiologist"
#define RP_BANNER_H 44
#define RP_FOOTER_H 28
/* The banner colour (strong amber, black text); tests look for it. */
#define RP_BANNER_R 255
#define RP_BANNER_G 196
#define RP_BANNER_B 0
#define RP_DASH "\xE2\x80\x94" /* shown for a number that could not be measured */

/* Facts from the result JSON (and defaults) that every page needs. */
typedef struct rp_info {
    char software[64];      /* "OsteoScout" */
    char version[32];       /* "0.1.0" */
    double thr_osteo_hu;    /* 110 */
    double thr_low_hu;      /* 160 */
    int synthetic;          /* the series is a synthetic phantom */
    const cJSON *models;    /* result["models"] or NULL */
    int page_no, n_pages;   /* for the footer */
} rp_info;

void rp_info_from_json(rp_info *info, const cJSON *result);

/* A page being drawn. */
typedef struct rp_page {
    cairo_surface_t *surface;
    cairo_t *cr;
    int w, h;
} rp_page;

/* Creates the surface, paints the background black. */
int rp_page_begin(rp_page *p, int w, int h, os_error *err);
/* Banner on top, footer at the bottom. Call last so nothing covers them. */
void rp_page_chrome(rp_page *p, const rp_info *info, const char *footer_title);
/* Converts to packed RGB into out (malloc'd), copies the title, destroys the page. */
int rp_page_finish(rp_page *p, os_report_page *out, const char *title, os_error *err);
void rp_page_discard(rp_page *p);

/* Text. y is the baseline. Returns the advance width. */
double rp_text(cairo_t *cr, double x, double y, double size, int bold, const char *s);
double rp_text_width(cairo_t *cr, double size, int bold, const char *s);
/* Word-wrapped text within max_w; returns the baseline after the last line. */
double rp_text_wrap(cairo_t *cr, double x, double y, double max_w, double size, int bold, const char *s,
                    int max_lines);
void rp_rgb(cairo_t *cr, int r, int g, int b);

/* "%.1f" or the dash for a NaN/inf. */
void rp_num(char *buf, size_t n, const char *fmt, double v);
const char *rp_level_name(int level);
const char *rp_phase_name(int phase);
void rp_grade_colour(int grade, int rgb[3]);
const char *rp_grade_text(int grade);

/* Grey level of a HU value in a window. */
static inline uint8_t rp_window(double hu, double width, double level) {
    double g = (hu - (level - width / 2.0)) / width * 255.0;
    if (!(g > 0)) return 0;
    if (g >= 255) return 255;
    return (uint8_t)(g + 0.5);
}
/* Trilinear HU at fractional voxel coordinates; -1024 outside. */
double rp_sample(const os_volume *vol, double x, double y, double z);
/* ARGB32 (opaque) word from RGB. */
static inline uint32_t rp_px(int r, int g, int b) {
    return 0xFF000000u | ((uint32_t)r << 16) | ((uint32_t)g << 8) | (uint32_t)b;
}
static inline uint32_t rp_blend(uint32_t px, const int rgb[3], double alpha) {
    int r = (int)((px >> 16) & 0xFF), g = (int)((px >> 8) & 0xFF), b = (int)(px & 0xFF);
    r = (int)((1 - alpha) * r + alpha * rgb[0] + 0.5);
    g = (int)((1 - alpha) * g + alpha * rgb[1] + 0.5);
    b = (int)((1 - alpha) * b + alpha * rgb[2] + 0.5);
    return rp_px(r, g, b);
}
/* A centred message in a box (for a page that has nothing to show). */
void rp_message(cairo_t *cr, double x, double y, double w, double h, const char *line1, const char *line2);

/* Volume and anatomy usable together (same grid, masks present). */
int rp_volume_ok(const os_volume *vol);
int rp_anatomy_matches(const os_volume *vol, const os_anatomy *a);

int rp_draw_sagittal(const os_volume *vol, const os_anatomy *a, const os_measurements *m, const rp_info *info,
                     os_report_page *out, os_error *err);
int rp_draw_axial(const os_volume *vol, const os_anatomy *a, const os_measurements *m, const rp_info *info,
                  os_report_page *out, os_error *err);
int rp_draw_summary(const os_anatomy *a, const os_measurements *m, const cJSON *result, const rp_info *info,
                    os_report_page *out, os_error *err);

#endif
