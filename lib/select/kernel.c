/* Reconstruction kernel names → soft-tissue or sharp. Trabecular HU and muscle attenuation
 * are calibrated on soft-tissue kernels; sharp (bone, lung) kernels add edge overshoot and
 * noise that bias both, so selection prefers a soft series when a study has several.
 * Vendors name kernels in their own schemes; unknown names return 0 rather than a guess. */
#include "osteoscout/select.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

typedef struct named {
    const char *name;
    int softness;
} named;

/* Whole-name matches, upper case. */
static const named exact[] = {
    /* GE */
    {"STANDARD", 1}, {"STND", 1}, {"SOFT", 1}, {"DETAIL", 0}, {"BONE", -1}, {"BONEPLUS", -1},
    {"LUNG", -1}, {"EDGE", -1}, {"SHARP", -1}, {"CHST", -1}, {"ULTRA", -1},
    /* Philips (letters only) */
    {"A", 1}, {"B", 1}, {"C", 1}, {"UB", 1}, {"CB", 1},
    {"D", -1}, {"E", -1}, {"L", -1}, {"YA", -1}, {"YB", -1}, {"YC", -1}, {"YD", -1}, {"YE", -1},
};

/* Substrings of free-form names (United Imaging "B_SOFT_B", site-renamed kernels). Sharp
 * words are checked first: "BONE SOFT" does not exist, "SOFT" inside a sharp name might. */
static const char *const sharp_words[] = {"BONE", "LUNG", "SHARP", "EDGE", "HIGHRES"};
static const char *const soft_words[] = {"SOFT", "STANDARD", "SMOOTH", "BODY", "ABDOMEN", "BRAIN"};

static void normalize(const char *in, char *out, size_t len) {
    /* Multi-valued kernels (Siemens "Br40\3") carry the kernel first. */
    while (*in == ' ') in++;
    size_t j = 0;
    for (; *in && *in != '\\' && j + 1 < len; in++) out[j++] = (char)toupper((unsigned char)*in);
    while (j > 0 && out[j - 1] == ' ') j--;
    out[j] = '\0';
}

/* Canon/Toshiba "FC13": body and head soft-tissue kernels are below 30, bone from 30,
 * lung in the 50s. */
static int canon(const char *k, int *softness) {
    if (strncmp(k, "FC", 2) != 0 || !isdigit((unsigned char)k[2]) || !isdigit((unsigned char)k[3]) ||
        k[4] != '\0')
        return 0;
    int num = atoi(k + 2);
    *softness = num < 30 ? 1 : -1;
    return 1;
}

/* Siemens "B30f", "Br40d", "I31f", "Qr40", "H70h": one letter for the family (B body,
 * H head, I/J iterative, Q ADMIRE, D dual energy...), an optional lower-case letter for the
 * variant, two digits for sharpness, optional letters for the mode. */
static int siemens(const char *k, int *softness) {
    const char *p = k;
    if (!isalpha((unsigned char)*p)) return 0;
    p++;
    if (isalpha((unsigned char)*p)) p++;
    if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1])) return 0;
    int num = (p[0] - '0') * 10 + (p[1] - '0');
    p += 2;
    while (isalpha((unsigned char)*p)) p++;
    if (*p != '\0') return 0;
    *softness = num <= 45 ? 1 : num >= 50 ? -1 : 0;
    return 1;
}

int os_select_kernel_softness(const char *kernel) {
    if (!kernel) return 0;
    char k[65];
    normalize(kernel, k, sizeof k);
    if (!k[0]) return 0;
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
        if (strcmp(k, exact[i].name) == 0) return exact[i].softness;
    int s;
    if (canon(k, &s) || siemens(k, &s)) return s;
    for (size_t i = 0; i < sizeof sharp_words / sizeof sharp_words[0]; i++)
        if (strstr(k, sharp_words[i])) return -1;
    for (size_t i = 0; i < sizeof soft_words / sizeof soft_words[0]; i++)
        if (strstr(k, soft_words[i])) return 1;
    return 0;
}
