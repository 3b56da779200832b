/* The human and CSV views of analyze's per-study items (the JSON view is the items
 * themselves). Numbers that could not be measured print as empty CSV fields and as "n/a". */
#include "analyze_output.h"

#include <math.h>
#include <string.h>

static const cJSON *get(const cJSON *o, const char *key) {
    return o ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
}

static double num(const cJSON *o, const char *key) {
    const cJSON *v = get(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static const char *str(const cJSON *o, const char *key) {
    const cJSON *v = get(o, key);
    return cJSON_IsString(v) && v->valuestring ? v->valuestring : "";
}

/* "T12 L1 L2 …" of the labelled vertebrae, and the worst Genant grade with where it is. */
static void levels_and_fractures(const cJSON *result, char *levels, size_t ln, char *fx, size_t fn, int *worst) {
    levels[0] = fx[0] = '\0';
    *worst = -1;
    const cJSON *v;
    cJSON_ArrayForEach(v, get(result, "vertebrae")) {
        const char *label = str(v, "label");
        if (!label[0] || !strcmp(label, "?")) continue;
        size_t len = strlen(levels);
        snprintf(levels + len, ln - len, "%s%s", len ? " " : "", label);
        double g = num(v, "genant_grade");
        if (isnan(g)) continue;
        if ((int)g > *worst) *worst = (int)g;
        if (g >= 1) {
            len = strlen(fx);
            snprintf(fx + len, fn - len, "%s%s:%d", len ? " " : "", label, (int)g);
        }
    }
}

static void fmt(char *out, size_t n, double v, const char *unit) {
    if (isnan(v)) snprintf(out, n, "n/a");
    else snprintf(out, n, "%.1f%s", v, unit);
}

void analyze_print_summary(FILE *f, const cJSON *item) {
    const char *uid = str(item, "study_uid");
    const char *status = str(item, "status");
    if (strcmp(status, "ok") != 0) {
        fprintf(f, "study %s: %s: %s\n", uid, status, str(item, "error"));
        return;
    }
    const cJSON *r = get(item, "result");
    char levels[128], fx[256], hu[32], smi[32], area[32];
    int worst;
    levels_and_fractures(r, levels, sizeof levels, fx, sizeof fx, &worst);
    const cJSON *bd = get(r, "bone_density");
    const cJSON *l3 = get(get(r, "muscle"), "L3");
    fmt(hu, sizeof hu, num(bd, "trabecular_hu_mean"), " HU");
    fmt(area, sizeof area, num(l3, "area_cm2"), " cm²");
    fmt(smi, sizeof smi, num(l3, "index_cm2_m2"), " cm²/m²");
    fprintf(f, "study %s%s\n", uid, cJSON_IsTrue(get(r, "synthetic")) ? " (SYNTHETIC)" : "");
    fprintf(f, "  levels: %s\n", levels[0] ? levels : "none identified");
    fprintf(f, "  labels: %s\n", str(get(r, "anatomy"), "labelling"));
    fprintf(f, "  fractures (Genant): %s\n", fx[0] ? fx : (worst < 0 ? "not assessed" : "none"));
    fprintf(f, "  L1 trabecular: %s (%s; screening, not diagnosis)\n", hu,
            str(bd, "category")[0] ? str(bd, "category") : "not measured");
    fprintf(f, "  L3 muscle: %s, index %s\n", area, smi);
    const cJSON *w;
    cJSON_ArrayForEach(w, get(r, "warnings")) fprintf(f, "  warning: %s\n", cJSON_IsString(w) ? w->valuestring : "");
    cJSON_ArrayForEach(w, get(r, "outputs")) fprintf(f, "  wrote %s: %s\n", str(w, "kind"), str(w, "path"));
}

void analyze_print_csv_header(FILE *f) {
    fputs("study_uid,series_uid,status,error,synthetic,levels,worst_genant_grade,fractures,"
          "l1_hu_mean,l1_hu_median,l1_hu_calibrated,phase,bmd_category,"
          "l3_muscle_area_cm2,l3_muscle_mean_hu,l3_muscle_index_cm2_m2,"
          "l1_muscle_area_cm2,l1_muscle_mean_hu,l1_muscle_index_cm2_m2,n_warnings\n",
          f);
}

/* RFC 4180: quote every text field, double the quotes inside. */
static void csv_text(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputs("\",", f);
}

static void csv_num(FILE *f, double v, const char *sep) {
    if (isnan(v)) fprintf(f, "%s", sep);
    else fprintf(f, "%.6g%s", v, sep);
}

void analyze_print_csv_row(FILE *f, const cJSON *item) {
    const cJSON *r = get(item, "result");
    csv_text(f, str(item, "study_uid"));
    csv_text(f, str(item, "series_uid"));
    csv_text(f, str(item, "status"));
    csv_text(f, str(item, "error"));
    fprintf(f, "%s,", cJSON_IsTrue(get(r, "synthetic")) ? "true" : "false");
    char levels[128], fx[256];
    int worst;
    levels_and_fractures(r, levels, sizeof levels, fx, sizeof fx, &worst);
    csv_text(f, levels);
    if (worst >= 0) fprintf(f, "%d,", worst);
    else fputc(',', f);
    csv_text(f, fx);
    const cJSON *bd = get(r, "bone_density");
    csv_num(f, num(bd, "trabecular_hu_mean"), ",");
    csv_num(f, num(bd, "trabecular_hu_median"), ",");
    csv_num(f, num(bd, "calibrated_hu"), ",");
    csv_text(f, str(bd, "contrast_phase"));
    csv_text(f, str(bd, "category"));
    const cJSON *mus = get(r, "muscle");
    static const char *const lv[] = {"L3", "L1"};
    for (int i = 0; i < 2; i++) {
        const cJSON *m = get(mus, lv[i]);
        csv_num(f, num(m, "area_cm2"), ",");
        csv_num(f, num(m, "mean_hu"), ",");
        csv_num(f, num(m, "index_cm2_m2"), ",");
    }
    fprintf(f, "%d\n", r ? cJSON_GetArraySize(get(r, "warnings")) : 0);
}

void analyze_progress(int done, int total, const char *what) {
    enum { WIDTH = 30 };
    if (done >= total) {
        fprintf(stderr, "\r%*s\r", 78, "");
        return;
    }
    int fill = total > 0 ? done * WIDTH / total : 0;
    char bar[WIDTH + 1];
    for (int i = 0; i < WIDTH; i++) bar[i] = i < fill ? '#' : '.';
    bar[WIDTH] = '\0';
    fprintf(stderr, "\r[%s] %d/%d %-30.30s", bar, done, total, what);
    fflush(stderr);
}
