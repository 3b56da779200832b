/* Names of the vertebral levels OsteoScout reports (T10 … S1) and back. */
#include <strings.h>

#include "osteoscout/anatomy.h"

static const char *const names[OS_LEVEL_COUNT] = {"T10", "T11", "T12", "L1", "L2",
                                                  "L3",  "L4",  "L5",  "S1"};

const char *os_level_name(int level) {
    if (level < 0 || level >= OS_LEVEL_COUNT) return "?";
    return names[level];
}

int os_level_parse(const char *name) {
    if (!name) return -1;
    for (int i = 0; i < OS_LEVEL_COUNT; i++)
        if (strcasecmp(name, names[i]) == 0) return i;
    return -1;
}
