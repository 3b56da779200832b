/* The cohort CSV: RFC 4180 as spreadsheets and R's write.csv produce it. The whole file is
 * read once and split in place (unquoting never makes a field longer), so every cell is a
 * pointer into one buffer and freeing is one call. Cohorts are thousands of rows, not
 * millions: simplicity wins over streaming. */
#include "osteoscout/eval.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct growing {
    char **v;
    size_t n, cap;
} growing;

static int push(growing *g, char *s) {
    if (g->n == g->cap) {
        size_t cap = g->cap ? 2 * g->cap : 256;
        char **v = realloc(g->v, cap * sizeof *v);
        if (!v) return -ENOMEM;
        g->v = v;
        g->cap = cap;
    }
    g->v[g->n++] = s;
    return 0;
}

/* Blanks around an unquoted field are padding, not data (a hand-edited "1, 0.3"). */
static char *trim(char *s) {
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) s[--n] = 0;
    return s;
}

int os_eval_csv_parse(const char *text, size_t len, os_eval_csv *csv, os_error *err) {
    memset(csv, 0, sizeof *csv);
    char *buf = malloc(len + 1);
    if (!buf) return os_error_set(err, -ENOMEM, "out of memory reading the CSV");
    memcpy(buf, text, len);
    buf[len] = 0;
    csv->buf = buf;

    growing fields = {0};
    size_t *lines = NULL, n_rec = 0, cap_rec = 0, n_cols = 0, rec_fields = 0;
    size_t line = 1, rec_line = 1;
    size_t i = 0, o = 0;
    int rc = 0;
    if (len >= 3 && (unsigned char)buf[0] == 0xEF && (unsigned char)buf[1] == 0xBB && (unsigned char)buf[2] == 0xBF)
        i = o = 3;

    /* One field per turn: read it, then look at what ended it. A trailing comma at the very
     * end of the file still owes its record one empty field, hence the second condition. */
    while (i < len || rec_fields > 0) {
        char *field = buf + o;
        int quoted = 0;
        size_t k = i;
        while (k < len && (buf[k] == ' ' || buf[k] == '\t')) k++;
        if (k < len && buf[k] == '"') {
            quoted = 1;
            i = k + 1;
            size_t open_line = line;
            for (;;) {
                if (i >= len) {
                    rc = os_error_set(err, -EINVAL, "line %zu: a quoted field is never closed", open_line);
                    goto out;
                }
                if (buf[i] == '"') {
                    if (i + 1 < len && buf[i + 1] == '"') {
                        buf[o++] = '"';
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                if (buf[i] == '\n') line++;
                buf[o++] = buf[i++];
            }
            while (i < len && (buf[i] == ' ' || buf[i] == '\t')) i++;
            if (i < len && buf[i] != ',' && buf[i] != '\n' && buf[i] != '\r') {
                rc = os_error_set(err, -EINVAL, "line %zu: text after a closing quote", line);
                goto out;
            }
        } else {
            while (i < len && buf[i] != ',' && buf[i] != '\n' && buf[i] != '\r') buf[o++] = buf[i++];
        }
        char end = i < len ? buf[i] : '\n';
        if (end == '\r') {
            if (i + 1 < len && buf[i + 1] == '\n') i++;
            end = '\n';
        }
        i++;
        buf[o++] = 0;
        char *value = quoted ? field : trim(field);

        /* A blank line is no record: trailing newlines and spacer lines are common. */
        if (end == '\n' && rec_fields == 0 && !quoted && value[0] == 0) {
            line++;
            rec_line = line;
            continue;
        }
        if ((rc = push(&fields, value)) != 0) {
            os_error_set(err, rc, "out of memory reading the CSV");
            goto out;
        }
        rec_fields++;
        if (end == '\n') {
            if (n_rec == 0) {
                n_cols = rec_fields;
            } else if (rec_fields != n_cols) {
                rc = os_error_set(err, -EINVAL, "line %zu has %zu fields, the header has %zu", rec_line, rec_fields,
                                  n_cols);
                goto out;
            }
            if (n_rec == cap_rec) {
                cap_rec = cap_rec ? 2 * cap_rec : 256;
                size_t *l = realloc(lines, cap_rec * sizeof *l);
                if (!l) {
                    rc = os_error_set(err, -ENOMEM, "out of memory reading the CSV");
                    goto out;
                }
                lines = l;
            }
            lines[n_rec++] = rec_line;
            rec_fields = 0;
            line++;
            rec_line = line;
        }
    }
    if (n_rec == 0) {
        rc = os_error_set(err, -EINVAL, "the CSV is empty: it needs a header line");
        goto out;
    }
    for (size_t c = 0; c < n_cols; c++)
        for (size_t d = 0; d < c; d++)
            if (strcmp(fields.v[c], fields.v[d]) == 0) {
                rc = os_error_set(err, -EINVAL, "the header names column '%s' twice", fields.v[c]);
                goto out;
            }
    csv->n_cols = n_cols;
    csv->n_rows = n_rec - 1;
    csv->header = fields.v;
    csv->cells = fields.v + n_cols;
    /* Row r's line is lines[r + 1]; shift so csv->line[r] matches cells. */
    memmove(lines, lines + 1, (n_rec - 1) * sizeof *lines);
    csv->line = lines;
    return 0;
out:
    free(fields.v);
    free(lines);
    free(buf);
    memset(csv, 0, sizeof *csv);
    return rc;
}

int os_eval_csv_read(const char *path, os_eval_csv *csv, os_error *err) {
    memset(csv, 0, sizeof *csv);
    FILE *f = fopen(path, "rb");
    if (!f) return os_error_set(err, -errno, "cannot open %s: %s", path, strerror(errno));
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (cap - len < 65536) {
            cap = cap ? 2 * cap : 65536;
            char *t = realloc(text, cap);
            if (!t) {
                free(text);
                fclose(f);
                return os_error_set(err, -ENOMEM, "out of memory reading %s", path);
            }
            text = t;
        }
        size_t got = fread(text + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        free(text);
        return os_error_set(err, -EIO, "cannot read %s", path);
    }
    int rc = os_eval_csv_parse(text ? text : "", len, csv, err);
    free(text);
    if (rc) os_error_wrap(err, "%s", path);
    return rc;
}

int os_eval_csv_column(const os_eval_csv *csv, const char *name) {
    for (size_t c = 0; c < csv->n_cols; c++)
        if (strcmp(csv->header[c], name) == 0) return (int)c;
    return -1;
}

void os_eval_csv_free(os_eval_csv *csv) {
    if (!csv) return;
    free(csv->header); /* cells live in the same array */
    free(csv->line);
    free(csv->buf);
    memset(csv, 0, sizeof *csv);
}

int os_eval_parse_cell(const char *s, double *v) {
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    static const char *const missing[] = {"NA", "NaN", "NULL", "N/A"};
    if (n == 0) return 1;
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++)
        if (strlen(missing[i]) == n && strncasecmp(s, missing[i], n) == 0) return 1;
    char tmp[128];
    if (n >= sizeof tmp) return -1;
    memcpy(tmp, s, n);
    tmp[n] = 0;
    char *end;
    errno = 0;
    double x = strtod(tmp, &end);
    if (end == tmp || *end || errno == ERANGE || !isfinite(x)) return -1;
    *v = x;
    return 0;
}
