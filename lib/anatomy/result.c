/* The os_anatomy result object: freeing it, looking up a level, adding a warning. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osteoscout/anatomy.h"

void os_anatomy_free(os_anatomy *a) {
    if (!a) return;
    free(a->body_mask);
    free(a->trab_mask);
    free(a->muscle_mask);
    a->body_mask = a->trab_mask = a->muscle_mask = NULL;
    for (int i = 0; i < OS_LEVEL_COUNT; i++) {
        free(a->slices[i].tissue);
        free(a->slices[i].body);
        a->slices[i].tissue = a->slices[i].body = NULL;
        a->slices[i].present = 0;
    }
}

int os_anatomy_vertebra_of(const os_anatomy *a, int level) {
    if (!a || level < 0) return -1;
    for (int i = 0; i < a->n_vertebrae; i++)
        if (a->vertebrae[i].level == level) return i;
    return -1;
}

void os_anatomy_warn(os_anatomy *a, const char *fmt, ...) {
    if (!a || a->n_warnings >= OS_ANATOMY_MAX_WARNINGS) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->warnings[a->n_warnings], sizeof a->warnings[0], fmt, ap);
    va_end(ap);
    for (int i = 0; i < a->n_warnings; i++) /* the same sentence twice helps no reader */
        if (strcmp(a->warnings[i], a->warnings[a->n_warnings]) == 0) return;
    a->n_warnings++;
}
