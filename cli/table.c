/* Aligned text tables for the admin commands: every column as wide as its widest cell,
 * two spaces between columns, no trailing blanks. Widths count characters, not bytes,
 * so a shortened UID (with "…") lines up. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static size_t display_width(const char *s) {
    size_t w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) w++; /* count UTF-8 lead bytes only */
    return w;
}

static void push(cli_table *t, const char *const *cells) {
    if (t->n_rows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **c = realloc(t->cells, cap * t->n_cols * sizeof *c);
        if (!c) return; /* a table too big for memory just stops growing */
        t->cells = c;
        t->cap = cap;
    }
    for (size_t i = 0; i < t->n_cols; i++) t->cells[t->n_rows * t->n_cols + i] = strdup(cells[i] ? cells[i] : "");
    t->n_rows++;
}

void cli_table_init(cli_table *t, size_t n_cols, const char *const *headers) {
    memset(t, 0, sizeof *t);
    t->n_cols = n_cols;
    push(t, headers);
}

void cli_table_add(cli_table *t, const char *const *cells) { push(t, cells); }

void cli_table_print(const cli_table *t, FILE *f) {
    size_t *w = calloc(t->n_cols, sizeof *w);
    if (!w) return;
    for (size_t r = 0; r < t->n_rows; r++)
        for (size_t c = 0; c < t->n_cols; c++) {
            const char *s = t->cells[r * t->n_cols + c];
            size_t n = s ? display_width(s) : 0;
            if (n > w[c]) w[c] = n;
        }
    for (size_t r = 0; r < t->n_rows; r++) {
        size_t last = 0; /* pad only up to the last non-empty cell: no trailing blanks */
        for (size_t c = 0; c < t->n_cols; c++) {
            const char *s = t->cells[r * t->n_cols + c];
            if (s && *s) last = c;
        }
        for (size_t c = 0; c <= last; c++) {
            const char *s = t->cells[r * t->n_cols + c];
            if (!s) s = "";
            fputs(s, f);
            if (c < last) fprintf(f, "%*s", (int)(w[c] - display_width(s) + 2), "");
        }
        fputc('\n', f);
    }
    free(w);
}

void cli_table_free(cli_table *t) {
    for (size_t i = 0; i < t->n_rows * t->n_cols; i++) free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof *t);
}
