/* lib/report: page 3, the summary panel — L1 trabecular attenuation on a scale with the
 * screening thresholds, the vertebra table, muscle at L3/L1, the risk models' outputs and the
 * software that made them. */
#include "draw_util.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_W 1024
#define PAGE_H 768
#define M 16
#define COL2_X 548
#define BOTTOM (PAGE_H - RP_FOOTER_H - 8)

static void heading(cairo_t *cr, double x, double y, const char *s) {
    rp_rgb(cr, 140, 200, 255);
    rp_text(cr, x, y, 17, 1, s);
}

/* ---- bone density ---- */

static void zone(cairo_t *cr, double x0, double x1, double y, double h, int r, int g, int b, const char *label) {
    if (x1 <= x0) return;
    rp_rgb(cr, r, g, b);
    cairo_rectangle(cr, x0, y, x1 - x0, h);
    cairo_fill(cr);
    double tw = rp_text_width(cr, 13, 1, label);
    if (tw < x1 - x0 - 8) {
        rp_rgb(cr, 15, 15, 15);
        rp_text(cr, (x0 + x1 - tw) / 2, y + h / 2 + 5, 13, 1, label);
    }
}

static double draw_bmd(cairo_t *cr, const os_measurements *m, const rp_info *info, double y) {
    heading(cr, M, y, "Bone density \xE2\x80\x94 L1 trabecular attenuation (opportunistic screening)");
    const os_bmd *b = m ? &m->bmd : NULL;
    double value = NAN;
    if (b && b->present) value = isfinite(b->threshold_hu_used) ? b->threshold_hu_used : b->l1_hu_mean;
    double lo = 0, hi = 300;
    if (isfinite(value) && value < lo + 10) lo = floor((value - 10) / 50) * 50;
    if (isfinite(value) && value > hi - 10) hi = ceil((value + 10) / 50) * 50;
    if (lo < -1000) lo = -1000;
    if (hi > 3000) hi = 3000;
    const double x0 = M + 30, x1 = PAGE_W - M - 30, by = y + 44, bh = 26;
#define XOF(hu) (x0 + ((hu) - lo) / (hi - lo) * (x1 - x0))
    double to = fmin(fmax(info->thr_osteo_hu, lo), hi), tl = fmin(fmax(info->thr_low_hu, lo), hi);
    zone(cr, x0, XOF(to), by, bh, 215, 80, 70, "likely osteoporosis");
    zone(cr, XOF(to), XOF(tl), by, bh, 235, 170, 50, "possible low bone mass");
    zone(cr, XOF(tl), x1, by, bh, 90, 175, 100, "normal");
    /* Ticks every 50 HU. */
    rp_rgb(cr, 190, 190, 190);
    cairo_set_line_width(cr, 1);
    char buf[256];
    for (double t = ceil(lo / 50) * 50; t <= hi + 1e-9; t += 50) {
        double x = XOF(t);
        cairo_move_to(cr, x, by + bh);
        cairo_line_to(cr, x, by + bh + 5);
        cairo_stroke(cr);
        snprintf(buf, sizeof buf, "%.0f", t);
        double tw = rp_text_width(cr, 12, 0, buf);
        rp_text(cr, x - tw / 2, by + bh + 18, 12, 0, buf);
    }
    /* Thresholds. */
    const double thr[2] = {info->thr_osteo_hu, info->thr_low_hu};
    for (int k = 0; k < 2; k++) {
        if (thr[k] < lo || thr[k] > hi) continue;
        double x = XOF(thr[k]);
        rp_rgb(cr, 255, 255, 255);
        cairo_set_line_width(cr, 2);
        cairo_move_to(cr, x, by - 3);
        cairo_line_to(cr, x, by + bh + 3);
        cairo_stroke(cr);
        snprintf(buf, sizeof buf, "\xE2\x89\xA4 %.0f", thr[k]);
        rp_text(cr, x + 3, by + bh + 32, 12, 1, buf);
    }
    rp_rgb(cr, 170, 170, 170);
    rp_text(cr, x1 + 16, by + bh + 18, 12, 0, "HU");
    /* The patient's value. */
    if (isfinite(value)) {
        double x = XOF(fmin(fmax(value, lo), hi));
        rp_rgb(cr, 255, 255, 255);
        cairo_move_to(cr, x, by - 2);
        cairo_line_to(cr, x - 8, by - 16);
        cairo_line_to(cr, x + 8, by - 16);
        cairo_close_path(cr);
        cairo_fill(cr);
        snprintf(buf, sizeof buf, "L1 %.0f HU", value);
        double tw = rp_text_width(cr, 14, 1, buf);
        double tx = fmin(fmax(x - tw / 2, M), PAGE_W - M - tw);
        rp_text(cr, tx, by - 20, 14, 1, buf);
    }
#undef XOF
    y = by + bh + 56;
    if (!b || !b->present) {
        rp_rgb(cr, 235, 235, 235);
        rp_text(cr, M, y, 15, 1, "L1 trabecular attenuation not measured.");
        y += 20;
        if (b && b->note[0]) {
            rp_rgb(cr, 180, 180, 180);
            y = rp_text_wrap(cr, M, y, PAGE_W - 2 * M, 13, 0, b->note, 2);
        }
        return y;
    }
    char mean[24], med[24], cal[24], air[24], fat[24], ao[24];
    rp_num(mean, sizeof mean, "%.0f HU", b->l1_hu_mean);
    rp_num(med, sizeof med, "%.0f HU", b->l1_hu_median);
    rp_num(cal, sizeof cal, "%.0f HU", b->l1_hu_calibrated);
    rp_num(air, sizeof air, "%.0f", b->air_hu);
    rp_num(fat, sizeof fat, "%.0f", b->sat_hu);
    rp_num(ao, sizeof ao, "%.0f HU", b->aorta_hu);
    snprintf(buf, sizeof buf,
             "L1 mean %s, median %s  \xC2\xB7  calibrated %s (air %s, fat %s)  \xC2\xB7  aorta %s  \xC2\xB7  "
             "contrast phase: %s",
             mean, med, cal, air, fat, ao, rp_phase_name(b->phase));
    rp_rgb(cr, 225, 225, 225);
    y = rp_text_wrap(cr, M, y, PAGE_W - 2 * M, 14, 0, buf, 2);
    y += 4;
    char tail[256];
    snprintf(tail, sizeof tail, "  \xE2\x80\x94 screening, not a diagnosis (thresholds \xE2\x89\xA4 %.0f / \xE2\x89\xA4 %.0f HU, "
                                "Pickhardt 2013; DXA confirms)",
             info->thr_osteo_hu, info->thr_low_hu);
    double w;
    if (b->category[0]) {
        const char *cat = b->category;
        if (strstr(cat, "osteoporosis")) rp_rgb(cr, 255, 110, 90);
        else if (strstr(cat, "low")) rp_rgb(cr, 255, 195, 70);
        else rp_rgb(cr, 140, 220, 140);
        w = rp_text(cr, M, y, 17, 1, cat);
    } else {
        rp_rgb(cr, 200, 200, 200);
        w = rp_text(cr, M, y, 17, 1, "No category (L1 attenuation not measurable)");
    }
    rp_rgb(cr, 200, 200, 200);
    if (M + w + rp_text_width(cr, 14, 0, tail) > PAGE_W - M) {
        y += 20;
        w = 0;
    }
    rp_text(cr, M + w, y, 14, 0, tail);
    y += 20;
    if (b->note[0]) {
        rp_rgb(cr, 170, 170, 170);
        y = rp_text_wrap(cr, M, y, PAGE_W - 2 * M, 13, 0, b->note, 1);
    }
    return y;
}

/* ---- vertebra table ---- */

static void draw_vertebrae(cairo_t *cr, const os_anatomy *a, const os_measurements *m, double y) {
    heading(cr, M, y, "Vertebrae");
    y += 24;
    int n = a ? a->n_vertebrae : 0;
    if (m && m->n_vertebrae > n) n = m->n_vertebrae;
    if (n > OS_MAX_VERTEBRAE) n = OS_MAX_VERTEBRAE;
    if (n == 0) {
        rp_rgb(cr, 220, 220, 220);
        rp_text(cr, M, y, 15, 0, "No vertebral body was found in this series.");
        return;
    }
    static const double cx[] = {M, M + 58, M + 120, M + 182, M + 244, M + 324, M + 384, M + 464};
    static const char *const hdr[] = {"Level", "Ant", "Mid", "Post", "Min/max", "Grade", "Shape", "HU"};
    rp_rgb(cr, 170, 170, 170);
    for (int k = 0; k < 8; k++) rp_text(cr, cx[k], y, 13, 1, hdr[k]);
    rp_text(cr, cx[1], y + 14, 11, 0, "heights mm");
    y += 8;
    cairo_set_line_width(cr, 1);
    cairo_move_to(cr, M, y + 10);
    cairo_line_to(cr, COL2_X - 24, y + 10);
    cairo_stroke(cr);
    y += 30;
    const double row = 19;
    for (int i = 0; i < n; i++) {
        if (y > BOTTOM - 4 && i < n - 1) {
            char more[64];
            snprintf(more, sizeof more, "\xE2\x80\xA6 and %d more (see the SR)", n - i);
            rp_rgb(cr, 170, 170, 170);
            rp_text(cr, M, y, 13, 0, more);
            return;
        }
        const os_vertebra_measure *v = m && i < m->n_vertebrae ? &m->vertebrae[i] : NULL;
        int level = a && i < a->n_vertebrae ? a->vertebrae[i].level : v ? v->level : -1;
        int grade = v && v->genant_grade >= 0 && v->genant_grade <= 3 ? v->genant_grade : -1;
        char c[8][32];
        snprintf(c[0], sizeof c[0], "%s%s", rp_level_name(level),
                 a && i < a->n_vertebrae && a->vertebrae[i].cut_by_fov ? "*" : "");
        rp_num(c[1], sizeof c[1], "%.1f", v ? v->h_ant : NAN);
        rp_num(c[2], sizeof c[2], "%.1f", v ? v->h_mid : NAN);
        rp_num(c[3], sizeof c[3], "%.1f", v ? v->h_post : NAN);
        rp_num(c[4], sizeof c[4], "%.2f", v ? v->ratio_min_max : NAN);
        if (grade >= 0) snprintf(c[5], sizeof c[5], "G%d", grade);
        else snprintf(c[5], sizeof c[5], "%s", RP_DASH);
        snprintf(c[6], sizeof c[6], "%s", v && v->deformity[0] ? v->deformity : RP_DASH);
        rp_num(c[7], sizeof c[7], "%.0f", v ? v->trab_hu_mean : NAN);
        int rgb[3];
        rp_grade_colour(grade, rgb);
        for (int k = 0; k < 8; k++) {
            if (k == 0 || k == 5) rp_rgb(cr, rgb[0], rgb[1], rgb[2]);
            else rp_rgb(cr, 230, 230, 230);
            rp_text(cr, cx[k], y, 14, k == 0 || k == 5, c[k]);
        }
        y += row;
    }
    if (a) {
        int partial = 0;
        for (int i = 0; i < a->n_vertebrae && i < OS_MAX_VERTEBRAE; i++) partial |= a->vertebrae[i].cut_by_fov;
        if (partial && y < BOTTOM) {
            rp_rgb(cr, 170, 170, 170);
            rp_text(cr, M, y + 2, 12, 0, "* cut by the scan's field of view: partial body");
        }
    }
}

/* ---- right column ---- */

static double muscle_line(cairo_t *cr, const os_measurements *m, int level, double y) {
    const os_muscle_measure *mm = &m->muscle[level];
    char area[24], hu[24], smi[40], buf[256];
    rp_num(area, sizeof area, "%.1f cm\xC2\xB2", mm->area_cm2);
    rp_num(hu, sizeof hu, "%.0f HU", mm->mean_hu);
    rp_num(smi, sizeof smi, "%.1f cm\xC2\xB2/m\xC2\xB2", mm->index_cm2_m2);
    snprintf(buf, sizeof buf, "%s: muscle %s, mean %s, index %s", rp_level_name(level), area, hu,
             isfinite(mm->index_cm2_m2) ? smi : "\xE2\x80\x94 (height unknown)");
    rp_rgb(cr, 230, 230, 230);
    y = rp_text_wrap(cr, COL2_X, y, PAGE_W - COL2_X - M, 14, 0, buf, 2);
    if (mm->sarcopenia == 1) {
        rp_rgb(cr, 255, 150, 60);
        rp_text(cr, COL2_X + 16, y, 13, 0, "below the sex-specific cut-off: low muscle mass");
        y += 18;
    }
    return y;
}

/* "risk_2y" 0.08 → "risk_2y 8.0 %"; other numbers as they are. */
static void fmt_output(const char *key, double v, char *buf, size_t n) {
    int prob = v >= 0 && v <= 1 &&
               (strstr(key, "prob") || strstr(key, "risk") || strstr(key, "year") || key[0] == 'p');
    if (prob) snprintf(buf, n, "%s %.1f %%", key, v * 100);
    else snprintf(buf, n, "%s %.3g", key, v);
}

static void append(char *line, size_t n, const char *item) {
    size_t len = strlen(line);
    if (len) snprintf(line + len, n - len, "  \xC2\xB7  %s", item);
    else snprintf(line, n, "%s", item);
}

/* Keys of a model's entry that describe the run rather than its outputs. */
static int is_bookkeeping(const char *key) {
    static const char *const keys[] = {"name", "version", "plugin", "synthetic", "calibrated", "text",
                                       "summary", "seconds", "status", "error"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!strcmp(key, keys[i])) return 1;
    return 0;
}

static double draw_model(cairo_t *cr, const char *name, const cJSON *mo, double y) {
    char head[160], line[768], item[128];
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(mo, "version");
    if (cJSON_IsString(ver)) snprintf(head, sizeof head, "%s %s", name, ver->valuestring);
    else snprintf(head, sizeof head, "%s", name);
    /* A score that is not a calibrated probability is not shown as a percentage. */
    int uncalibrated = cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(mo, "calibrated"));
    int synthetic = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(mo, "synthetic"));
    if (synthetic || uncalibrated) {
        size_t len = strlen(head);
        snprintf(head + len, sizeof head - len, " (%s%s%s)", synthetic ? "trained on synthetic data" : "",
                 synthetic && uncalibrated ? ", " : "", uncalibrated ? "uncalibrated score" : "");
    }
    rp_rgb(cr, 255, 255, 255);
    rp_text(cr, COL2_X, y, 14, 1, head);
    y += 18;
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(mo, "error");
    if (cJSON_IsString(error) && error->valuestring[0]) {
        snprintf(line, sizeof line, "failed: %s", error->valuestring);
        rp_rgb(cr, 255, 150, 60);
        return rp_text_wrap(cr, COL2_X + 12, y, PAGE_W - COL2_X - M - 12, 13, 0, line, 2);
    }
    line[0] = '\0';
    const cJSON *c;
    cJSON_ArrayForEach(c, mo) {
        if (!c->string || is_bookkeeping(c->string)) continue;
        if (!strcmp(c->string, "prevalent_fracture_probability") && cJSON_IsNumber(c)) {
            if (uncalibrated) snprintf(item, sizeof item, "prevalent fracture score %.2f", c->valuedouble);
            else snprintf(item, sizeof item, "prevalent fracture %.1f %%", c->valuedouble * 100);
            append(line, sizeof line, item);
        } else if (cJSON_IsNumber(c)) {
            fmt_output(c->string, c->valuedouble, item, sizeof item);
            append(line, sizeof line, item);
        } else if (cJSON_IsObject(c)) {
            /* cumulative_risk (lib/plugin) and the older risk: {"1": p, ..., "5": p} by year. */
            int by_year = !strcmp(c->string, "cumulative_risk") || !strcmp(c->string, "risk");
            const cJSON *d;
            cJSON_ArrayForEach(d, c) {
                if (!d->string || !cJSON_IsNumber(d)) continue;
                char *end;
                long year = strtol(d->string, &end, 10);
                if (by_year && end != d->string && !*end && uncalibrated)
                    snprintf(item, sizeof item, "%ld-year score %.2f", year, d->valuedouble);
                else if (by_year && end != d->string && !*end && d->valuedouble >= 0 && d->valuedouble <= 1)
                    snprintf(item, sizeof item, "%ld-year risk %.1f %%", year, d->valuedouble * 100);
                else
                    fmt_output(d->string, d->valuedouble, item, sizeof item);
                append(line, sizeof line, item);
            }
        }
    }
    rp_rgb(cr, 225, 225, 225);
    if (line[0]) y = rp_text_wrap(cr, COL2_X + 12, y, PAGE_W - COL2_X - M - 12, 13, 0, line, 3);
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(mo, "text");
    if (!cJSON_IsString(text)) text = cJSON_GetObjectItemCaseSensitive(mo, "summary");
    if (cJSON_IsString(text) && text->valuestring[0]) {
        rp_rgb(cr, 180, 180, 180);
        y = rp_text_wrap(cr, COL2_X + 12, y, PAGE_W - COL2_X - M - 12, 12, 0, text->valuestring, 2);
    }
    return y + 4;
}

static double draw_models(cairo_t *cr, const rp_info *info, double y) {
    heading(cr, COL2_X, y, "Risk models");
    y += 24;
    if (!info->models) {
        rp_rgb(cr, 220, 220, 220);
        rp_text(cr, COL2_X, y, 14, 0, "No risk model ran.");
        return y + 20;
    }
    int k = 0;
    const cJSON *mo;
    cJSON_ArrayForEach(mo, info->models) {
        k++;
        if (y > BOTTOM - 110) {
            rp_rgb(cr, 170, 170, 170);
            rp_text(cr, COL2_X, y, 13, 0, "\xE2\x80\xA6 more models in the SR");
            return y + 18;
        }
        char name[96];
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(mo, "name");
        if (mo->string) snprintf(name, sizeof name, "%s", mo->string);
        else if (cJSON_IsString(nm)) snprintf(name, sizeof name, "%s", nm->valuestring);
        else snprintf(name, sizeof name, "model %d", k);
        if (cJSON_IsObject(mo)) y = draw_model(cr, name, mo, y);
        else if (cJSON_IsNumber(mo)) {
            char item[128];
            fmt_output(name, mo->valuedouble, item, sizeof item);
            rp_rgb(cr, 225, 225, 225);
            rp_text(cr, COL2_X, y, 14, 0, item);
            y += 18;
        }
    }
    return y;
}

int rp_draw_summary(const os_anatomy *a, const os_measurements *m, const cJSON *result, const rp_info *info,
                    os_report_page *out, os_error *err) {
    (void)result;
    rp_page p;
    int rc = rp_page_begin(&p, PAGE_W, PAGE_H, err);
    if (rc) return rc;
    cairo_t *cr = p.cr;

    rp_rgb(cr, 255, 255, 255);
    rp_text(cr, M, RP_BANNER_H + 28, 20, 1, "Summary \xE2\x80\x94 bone and muscle from this CT");
    double y = draw_bmd(cr, m, info, RP_BANNER_H + 62);

    double top = y + 14;
    rp_rgb(cr, 70, 70, 70);
    cairo_set_line_width(cr, 1);
    cairo_move_to(cr, M, top - 4);
    cairo_line_to(cr, PAGE_W - M, top - 4);
    cairo_move_to(cr, COL2_X - 14, top - 4);
    cairo_line_to(cr, COL2_X - 14, BOTTOM);
    cairo_stroke(cr);
    draw_vertebrae(cr, a, m, top + 18);

    /* Right column: muscle, models, software. */
    y = top + 18;
    heading(cr, COL2_X, y, "Skeletal muscle");
    y += 24;
    int any = 0;
    if (m) {
        if (m->muscle[OS_L3].present) y = muscle_line(cr, m, OS_L3, y), any = 1;
        if (m->muscle[OS_L1].present) y = muscle_line(cr, m, OS_L1, y), any = 1;
    }
    if (!any) {
        rp_rgb(cr, 220, 220, 220);
        rp_text(cr, COL2_X, y, 14, 0, "Not measured (L3 and L1 not in the scan).");
        y += 20;
    }
    y += 10;
    y = draw_models(cr, info, y);

    y += 10;
    heading(cr, COL2_X, y, "Software");
    y += 22;
    char buf[200];
    snprintf(buf, sizeof buf, "%s %s", info->software, info->version);
    rp_rgb(cr, 230, 230, 230);
    rp_text(cr, COL2_X, y, 14, 0, buf);
    y += 20;
    if (info->synthetic) {
        rp_rgb(cr, 255, 80, 255);
        rp_text(cr, COL2_X, y + 4, 20, 1, "SYNTHETIC DATA \xE2\x80\x94 not a patient");
        y += 28;
    }
    if (a && a->labelling[0] && y < BOTTOM - 20) {
        rp_rgb(cr, 160, 160, 160);
        rp_text_wrap(cr, COL2_X, y, PAGE_W - COL2_X - M, 12, 0, a->labelling, (int)((BOTTOM - y) / 16));
    }
    rp_page_chrome(&p, info, "Summary");
    return rp_page_finish(&p, out, "Summary", err);
}
