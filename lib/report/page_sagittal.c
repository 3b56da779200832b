/* lib/report: page 1, the spine in a sagittal reformat. The plane follows the vertebral body
 * centres (x interpolated per slice, so a scoliotic or off-centre spine stays in plane), is
 * resampled to square pixels in mm, and shows every body outlined in its Genant grade colour
 * with its heights written beside it. */
#include "draw_util.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_W 1024
#define PAGE_H 1024
#define PANEL_X 16
#define PANEL_Y (RP_BANNER_H + 58)
#define PANEL_W 580
#define PANEL_H (PAGE_H - RP_FOOTER_H - 52 - PANEL_Y)
#define LABEL_X (PANEL_X + PANEL_W + 20)
#define LABEL_GAP 20
#define AP_WINDOW_MM 220.0 /* AP extent shown, centred on the spine */

typedef struct sag_map {
    double ap0, ap_len, si_len; /* mm: first y shown, AP and SI extents */
    double scale;               /* pixels per mm */
    int iw, ih;                 /* image size in pixels */
    int ix, iy;                 /* its top-left on the page */
    int ant_left, cranial_up;
    double sy, sz;
} sag_map;

/* Output pixel → voxel y, z. */
static void map_to_vox(const sag_map *s, double u, double v, double *y, double *z) {
    double ap = s->ant_left ? u / s->scale : s->ap_len - u / s->scale;
    double si = s->cranial_up ? s->si_len - v / s->scale : v / s->scale;
    *y = (s->ap0 + ap) / s->sy;
    *z = si / s->sz;
}

/* Voxel y, z → page coordinates. */
static void vox_to_page(const sag_map *s, double y, double z, double *px, double *py) {
    double ap = y * s->sy - s->ap0;
    double si = z * s->sz;
    double u = s->ant_left ? ap * s->scale : (s->ap_len - ap) * s->scale;
    double v = s->cranial_up ? (s->si_len - si) * s->scale : si * s->scale;
    *px = s->ix + u;
    *py = s->iy + v;
}

static int cmp_z(const void *a, const void *b) {
    const double *p = a, *q = b;
    return (p[1] > q[1]) - (p[1] < q[1]);
}

/* x of the plane at every slice: linear between the body centres, constant beyond them. */
static void plane_x(const os_volume *vol, const os_anatomy *a, double *xs) {
    double pts[OS_MAX_VERTEBRAE][2];
    int n = 0;
    if (a) {
        for (int i = 0; i < a->n_vertebrae && i < OS_MAX_VERTEBRAE; i++) {
            const double *c = a->vertebrae[i].center_vox;
            if (!isfinite(c[0]) || !isfinite(c[2]) || c[0] < 0 || c[0] > vol->nx - 1) continue;
            pts[n][0] = c[0];
            pts[n][1] = c[2];
            n++;
        }
    }
    if (n == 0) {
        for (int z = 0; z < vol->nz; z++) xs[z] = (vol->nx - 1) / 2.0;
        return;
    }
    qsort(pts, (size_t)n, sizeof pts[0], cmp_z);
    int k = 0;
    for (int z = 0; z < vol->nz; z++) {
        if (z <= pts[0][1]) xs[z] = pts[0][0];
        else if (z >= pts[n - 1][1]) xs[z] = pts[n - 1][0];
        else {
            while (k + 1 < n && pts[k + 1][1] < z) k++;
            double dz = pts[k + 1][1] - pts[k][1];
            double t = dz > 0 ? (z - pts[k][1]) / dz : 0;
            xs[z] = pts[k][0] + t * (pts[k + 1][0] - pts[k][0]);
        }
    }
}

static double plane_x_at(const double *xs, int nz, double z) {
    if (z <= 0) return xs[0];
    if (z >= nz - 1) return xs[nz - 1];
    int z0 = (int)z;
    double t = z - z0;
    return xs[z0] * (1 - t) + xs[z0 + 1] * t;
}

static int grade_of(const os_measurements *m, int i) {
    if (!m || i < 0 || i >= m->n_vertebrae || i >= OS_MAX_VERTEBRAE) return -1;
    int g = m->vertebrae[i].genant_grade;
    return g >= 0 && g <= 3 ? g : -1;
}

/* "L1  A 24.1  M 25.0  P 26.3 mm  G0", drawn in columns so the numbers line up. */
static void draw_label(cairo_t *cr, const os_anatomy *a, const os_measurements *m, int i, double x, double y) {
    char an[24], mi[24], po[32], name[16], gs[16];
    double ha = NAN, hm = NAN, hp = NAN;
    if (m && i < m->n_vertebrae) {
        ha = m->vertebrae[i].h_ant;
        hm = m->vertebrae[i].h_mid;
        hp = m->vertebrae[i].h_post;
    }
    rp_num(an, sizeof an, "A %.1f", ha);
    rp_num(mi, sizeof mi, "M %.1f", hm);
    rp_num(po, sizeof po, "P %.1f mm", hp);
    if (!isfinite(ha)) snprintf(an, sizeof an, "A %s", RP_DASH);
    if (!isfinite(hm)) snprintf(mi, sizeof mi, "M %s", RP_DASH);
    if (!isfinite(hp)) snprintf(po, sizeof po, "P %s", RP_DASH);
    const os_vertebra *v = &a->vertebrae[i];
    snprintf(name, sizeof name, "%s%s", rp_level_name(v->level), v->level >= 0 && v->confidence < 0.5 ? "?" : "");
    int g = grade_of(m, i);
    if (g >= 0) snprintf(gs, sizeof gs, "G%d", g);
    else snprintf(gs, sizeof gs, "G%s", RP_DASH);
    rp_text(cr, x, y, 15, 1, name);
    rp_text(cr, x + 48, y, 15, 1, an);
    rp_text(cr, x + 126, y, 15, 1, mi);
    rp_text(cr, x + 204, y, 15, 1, po);
    rp_text(cr, x + 300, y, 15, 1, gs);
    if (v->cut_by_fov) rp_text(cr, x + 336, y, 12, 0, "partial");
}

/* Fills the reformat into pix (ARGB32, iw*ih) and the body labels into lab. */
static void reformat(const os_volume *vol, const os_anatomy *a, const sag_map *s, const double *xs, uint32_t *pix,
                     uint8_t *lab) {
    const int use_mask = lab && rp_anatomy_matches(vol, a) && a->body_mask;
    size_t nx = (size_t)vol->nx, nxy = nx * (size_t)vol->ny;
    for (int v = 0; v < s->ih; v++) {
        for (int u = 0; u < s->iw; u++) {
            double y, z;
            map_to_vox(s, u + 0.5, v + 0.5, &y, &z);
            if (vol->nz == 1) z = 0;
            double x = plane_x_at(xs, vol->nz, z);
            double hu = rp_sample(vol, x, y, z);
            uint8_t g = rp_window(hu, 1500, 300);
            pix[(size_t)v * (size_t)s->iw + (size_t)u] = rp_px(g, g, g);
            if (!lab) continue;
            uint8_t l = 0;
            if (use_mask) {
                long xi = lround(x), yi = lround(y), zi = lround(z);
                if (xi >= 0 && yi >= 0 && zi >= 0 && xi < vol->nx && yi < vol->ny && zi < vol->nz)
                    l = a->body_mask[(size_t)xi + nx * (size_t)yi + nxy * (size_t)zi];
                if (l > a->n_vertebrae || l > OS_MAX_VERTEBRAE) l = 0;
            }
            lab[(size_t)v * (size_t)s->iw + (size_t)u] = l;
        }
    }
}

/* Outline (and a faint fill) of each body in its grade colour. */
static void outline(const sag_map *s, const os_measurements *m, const uint8_t *lab, uint32_t *pix) {
    int r = s->scale >= 2.5 ? 2 : 1;
    for (int v = 0; v < s->ih; v++) {
        for (int u = 0; u < s->iw; u++) {
            uint8_t l = lab[(size_t)v * (size_t)s->iw + (size_t)u];
            if (!l) continue;
            int edge = 0;
            for (int dv = -r; dv <= r && !edge; dv++)
                for (int du = -r; du <= r && !edge; du++) {
                    int uu = u + du, vv = v + dv;
                    if (uu < 0 || vv < 0 || uu >= s->iw || vv >= s->ih) edge = 1;
                    else if (lab[(size_t)vv * (size_t)s->iw + (size_t)uu] != l) edge = 1;
                }
            int rgb[3];
            rp_grade_colour(grade_of(m, l - 1), rgb);
            uint32_t *p = &pix[(size_t)v * (size_t)s->iw + (size_t)u];
            *p = edge ? rp_px(rgb[0], rgb[1], rgb[2]) : rp_blend(*p, rgb, 0.14);
        }
    }
}

typedef struct label_pos {
    int i;
    double ax, ay; /* anchor on the body */
    double y;      /* text baseline */
} label_pos;

static int cmp_label(const void *a, const void *b) {
    const label_pos *p = a, *q = b;
    return (p->ay > q->ay) - (p->ay < q->ay);
}

static void draw_labels(cairo_t *cr, const os_anatomy *a, const os_measurements *m, const sag_map *s) {
    label_pos lp[OS_MAX_VERTEBRAE];
    int n = 0;
    for (int i = 0; i < a->n_vertebrae && i < OS_MAX_VERTEBRAE; i++) {
        const double *c = a->vertebrae[i].center_vox;
        if (!isfinite(c[1]) || !isfinite(c[2])) continue;
        lp[n].i = i;
        vox_to_page(s, c[1], c[2], &lp[n].ax, &lp[n].ay);
        lp[n].y = lp[n].ay + 5;
        n++;
    }
    if (!n) return;
    qsort(lp, (size_t)n, sizeof lp[0], cmp_label);
    /* Keep labels apart, top down, then pull up what overflows the panel. */
    double top = PANEL_Y + 42, bottom = PANEL_Y + PANEL_H - 4;
    for (int k = 0; k < n; k++) {
        if (lp[k].y < top) lp[k].y = top;
        if (k && lp[k].y < lp[k - 1].y + LABEL_GAP) lp[k].y = lp[k - 1].y + LABEL_GAP;
    }
    for (int k = n - 1; k >= 0; k--) {
        if (lp[k].y > bottom) lp[k].y = bottom;
        if (k < n - 1 && lp[k].y > lp[k + 1].y - LABEL_GAP) lp[k].y = lp[k + 1].y - LABEL_GAP;
    }
    double edge_x = s->ix + s->iw;
    for (int k = 0; k < n; k++) {
        int i = lp[k].i, rgb[3];
        rp_grade_colour(grade_of(m, i), rgb);
        /* Leader: from the image edge at the body's height to the label. */
        rp_rgb(cr, rgb[0], rgb[1], rgb[2]);
        cairo_set_line_width(cr, 1.5);
        cairo_move_to(cr, edge_x + 2, lp[k].ay);
        cairo_line_to(cr, edge_x + 10, lp[k].ay);
        cairo_line_to(cr, LABEL_X - 6, lp[k].y - 5);
        cairo_stroke(cr);
        draw_label(cr, a, m, i, LABEL_X, lp[k].y);
        /* The level name on the anterior side of the body, inside the image. */
        double depth = m && i < m->n_vertebrae && isfinite(m->vertebrae[i].ap_depth_mm) ? m->vertebrae[i].ap_depth_mm
                                                                                          : 30.0;
        double off = (depth / 2 + 4) * s->scale;
        const char *name = rp_level_name(a->vertebrae[i].level);
        double tw = rp_text_width(cr, 14, 1, name);
        double tx = s->ant_left ? lp[k].ax - off - tw : lp[k].ax + off;
        if (tx < s->ix + 2) tx = s->ix + 2;
        if (tx + tw > s->ix + s->iw - 2) tx = s->ix + s->iw - 2 - tw;
        rp_rgb(cr, 0, 0, 0);
        rp_text(cr, tx + 1, lp[k].ay + 6, 14, 1, name);
        rp_rgb(cr, rgb[0], rgb[1], rgb[2]);
        rp_text(cr, tx, lp[k].ay + 5, 14, 1, name);
    }
}

static void draw_legend(cairo_t *cr, double y) {
    double x = PANEL_X;
    rp_rgb(cr, 200, 200, 200);
    x += rp_text(cr, x, y, 14, 1, "Genant grade:") + 12;
    for (int g = 0; g <= 4; g++) {
        int rgb[3];
        int grade = g < 4 ? g : -1;
        rp_grade_colour(grade, rgb);
        rp_rgb(cr, rgb[0], rgb[1], rgb[2]);
        cairo_rectangle(cr, x, y - 11, 14, 14);
        cairo_fill(cr);
        x += 20;
        rp_rgb(cr, 220, 220, 220);
        x += rp_text(cr, x, y, 14, 0, rp_grade_text(grade)) + 18;
    }
    rp_rgb(cr, 160, 160, 160);
    rp_text(cr, PANEL_X, y + 20, 13, 0,
            "Heights A/M/P: anterior, middle, posterior (85/50/15 % of the body's depth), mm, along the spine axis.");
}

static void draw_image(cairo_t *cr, const os_volume *vol, const os_anatomy *a, const os_measurements *m, sag_map *s,
                       int *ok, os_error *err) {
    *ok = 0;
    double sy = vol->spacing[1], sz = vol->spacing[2];
    double ap_full = (vol->ny - 1) * sy;
    double si_len = vol->nz > 1 ? (vol->nz - 1) * sz : sz;
    double yc = ap_full / 2;
    int nc = 0;
    double sum = 0;
    if (a)
        for (int i = 0; i < a->n_vertebrae && i < OS_MAX_VERTEBRAE; i++)
            if (isfinite(a->vertebrae[i].center_vox[1])) {
                sum += a->vertebrae[i].center_vox[1] * sy;
                nc++;
            }
    if (nc) yc = sum / nc;
    double ap_len = ap_full < AP_WINDOW_MM ? ap_full : AP_WINDOW_MM;
    if (ap_len <= 0) ap_len = sy;
    double ap0 = yc - ap_len / 2;
    if (ap0 < 0) ap0 = 0;
    if (ap0 + ap_len > ap_full) ap0 = ap_full - ap_len > 0 ? ap_full - ap_len : 0;

    memset(s, 0, sizeof *s);
    s->ap0 = ap0;
    s->ap_len = ap_len;
    s->si_len = si_len;
    s->sy = sy;
    s->sz = sz;
    s->ant_left = !(vol->col_dir[1] < 0);
    s->cranial_up = !(vol->normal[2] < 0);
    s->scale = fmin(PANEL_W / ap_len, PANEL_H / si_len);
    s->iw = (int)(ap_len * s->scale);
    s->ih = (int)(si_len * s->scale);
    if (s->iw < 1) s->iw = 1;
    if (s->ih < 1) s->ih = 1;
    s->ix = PANEL_X + (PANEL_W - s->iw) / 2;
    s->iy = PANEL_Y + (PANEL_H - s->ih) / 2;

    double *xs = malloc(sizeof *xs * (size_t)vol->nz);
    cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, s->iw, s->ih);
    uint8_t *lab = a && a->n_vertebrae > 0 ? calloc((size_t)s->iw * (size_t)s->ih, 1) : NULL;
    if (!xs || cairo_surface_status(img) != CAIRO_STATUS_SUCCESS || (a && a->n_vertebrae > 0 && !lab)) {
        free(xs);
        free(lab);
        cairo_surface_destroy(img);
        os_error_set(err, -ENOMEM, "out of memory drawing the sagittal page");
        return;
    }
    plane_x(vol, a, xs);
    cairo_surface_flush(img);
    unsigned char *data = cairo_image_surface_get_data(img);
    int stride = cairo_image_surface_get_stride(img);
    uint32_t *pix = malloc(sizeof *pix * (size_t)s->iw * (size_t)s->ih);
    if (!pix) {
        free(xs);
        free(lab);
        cairo_surface_destroy(img);
        os_error_set(err, -ENOMEM, "out of memory drawing the sagittal page");
        return;
    }
    reformat(vol, a, s, xs, pix, lab);
    if (lab) outline(s, m, lab, pix);
    for (int v = 0; v < s->ih; v++)
        memcpy(data + (size_t)v * (size_t)stride, pix + (size_t)v * (size_t)s->iw, sizeof *pix * (size_t)s->iw);
    cairo_surface_mark_dirty(img);
    cairo_set_source_surface(cr, img, s->ix, s->iy);
    cairo_paint(cr);
    cairo_surface_destroy(img);
    free(pix);
    free(lab);
    free(xs);
    *ok = 1;
}

int rp_draw_sagittal(const os_volume *vol, const os_anatomy *a, const os_measurements *m, const rp_info *info,
                     os_report_page *out, os_error *err) {
    rp_page p;
    int rc = rp_page_begin(&p, PAGE_W, PAGE_H, err);
    if (rc) return rc;
    cairo_t *cr = p.cr;
    const int n_vert = a ? a->n_vertebrae : 0;

    rp_rgb(cr, 255, 255, 255);
    rp_text(cr, PANEL_X, RP_BANNER_H + 28, 20, 1, "Spine \xE2\x80\x94 sagittal reformat through the vertebral bodies");
    rp_rgb(cr, 170, 170, 170);

    if (!rp_volume_ok(vol)) {
        rp_text(cr, PANEL_X, RP_BANNER_H + 48, 14, 0, "Bone window W 1500 / L 300");
        rp_message(cr, PANEL_X, PANEL_Y, PAGE_W - 2 * PANEL_X, PANEL_H, "No image data", NULL);
    } else {
        sag_map s;
        int ok = 0;
        draw_image(cr, vol, a, m, &s, &ok, err);
        if (!ok) {
            rp_page_discard(&p);
            return err ? err->code : -ENOMEM;
        }
        char sub[200];
        snprintf(sub, sizeof sub, "Bone window W 1500 / L 300  \xC2\xB7  %s  \xC2\xB7  %.2f mm/pixel",
                 n_vert > 0 ? "curved plane through the body centres" : "mid-sagittal plane", 1.0 / s.scale);
        rp_rgb(cr, 170, 170, 170);
        rp_text(cr, PANEL_X, RP_BANNER_H + 48, 14, 0, sub);
        /* Orientation letters and a 50 mm scale bar. */
        rp_rgb(cr, 255, 255, 120);
        rp_text(cr, s.ix + 4, s.iy + 16, 14, 1, s.ant_left ? "A" : "P");
        rp_text(cr, s.ix + s.iw - 14, s.iy + 16, 14, 1, s.ant_left ? "P" : "A");
        rp_text(cr, s.ix + s.iw / 2.0 - 5, s.iy + 16, 14, 1, s.cranial_up ? "S" : "I");
        double bar = 50 * s.scale;
        if (bar < s.iw - 20) {
            double bx = s.ix + 10, by = s.iy + s.ih - 12;
            rp_rgb(cr, 255, 255, 255);
            cairo_set_line_width(cr, 2);
            cairo_move_to(cr, bx, by);
            cairo_line_to(cr, bx + bar, by);
            cairo_stroke(cr);
            rp_text(cr, bx, by - 5, 12, 0, "50 mm");
        }
        if (n_vert > 0) {
            rp_rgb(cr, 200, 200, 200);
            rp_text(cr, LABEL_X, PANEL_Y + 14, 14, 1, "Level, heights A / M / P, Genant grade");
            draw_labels(cr, a, m, &s);
        } else {
            rp_rgb(cr, 235, 235, 235);
            rp_text(cr, LABEL_X, PANEL_Y + 40, 18, 1, "No vertebral body found");
            rp_rgb(cr, 180, 180, 180);
            rp_text_wrap(cr, LABEL_X, PANEL_Y + 66, PAGE_W - LABEL_X - 16, 14, 0,
                         "The spine could not be located in this series, so no heights or grades are reported. "
                         "The image is the mid-sagittal plane of the volume.",
                         6);
        }
    }
    draw_legend(cr, PAGE_H - RP_FOOTER_H - 30);
    rp_page_chrome(&p, info, "Sagittal spine");
    return rp_page_finish(&p, out, "Sagittal spine", err);
}
