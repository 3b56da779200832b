/* The phantom's options: defaults, the names the CLI and truth.json use, the Genant grade of
 * a height loss, and the seeded random draw a bench uses to vary patients. */
#include <math.h>
#include <string.h>
#include <strings.h>

#include "osteoscout/dicom.h"
#include "osteoscout/phantom.h"
#include "rng.h"

static const char *const LEVELS[] = {"T10", "T11", "T12", "L1", "L2", "L3", "L4", "L5", "S1"};
static const char *const DEFORMITIES[] = {"none", "wedge", "biconcave", "crush"};
static const char *const HABITUS[] = {"slim", "average", "obese"};
static const char *const PHASES[] = {"noncontrast", "arterial", "portal"};

#define COUNT(a) ((int)(sizeof a / sizeof a[0]))

static int find(const char *const *names, int n, const char *s) {
    for (int i = 0; s && i < n; i++)
        if (strcasecmp(names[i], s) == 0) return i;
    return -1;
}

const char *os_phantom_level_name(int l) { return l >= 0 && l < COUNT(LEVELS) ? LEVELS[l] : "?"; }
int os_phantom_level_parse(const char *s) { return find(LEVELS, COUNT(LEVELS), s); }
const char *os_phantom_deformity_name(int d) {
    return d >= 0 && d < COUNT(DEFORMITIES) ? DEFORMITIES[d] : "?";
}
int os_phantom_deformity_parse(const char *s) { return find(DEFORMITIES, COUNT(DEFORMITIES), s); }
const char *os_phantom_habitus_name(int h) { return h >= 0 && h < COUNT(HABITUS) ? HABITUS[h] : "?"; }
int os_phantom_habitus_parse(const char *s) { return find(HABITUS, COUNT(HABITUS), s); }
const char *os_phantom_phase_name(int p) { return p >= 0 && p < COUNT(PHASES) ? PHASES[p] : "?"; }
int os_phantom_phase_parse(const char *s) { return find(PHASES, COUNT(PHASES), s); }

/* Genant 1993: < 20 % normal, 20–25 % mild, 25–40 % moderate, > 40 % severe. */
int os_phantom_genant_grade(double loss) {
    return loss < 0.20 ? 0 : loss <= 0.25 ? 1 : loss <= 0.40 ? 2 : 3;
}

void os_phantom_defaults(os_phantom_opts *o) {
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->rows = 512;
    o->cols = 512;
    o->pixel_mm = 0.75;
    o->slices = 0;
    o->slice_spacing_mm = 2.0;
    o->slice_thickness_mm = 2.0;
    o->noise_sd_hu = 15;
    o->transfer_syntax_uid = OS_TS_EXPLICIT_LE;
    o->convolution_kernel = "B30f";
    o->series_number = 2;
    o->patient_size_m = 1.70;
    o->patient_sex = 'F';
    o->z_from = 0;
    o->z_to = OS_PHANTOM_S1;
    o->habitus = OS_PHANTOM_AVERAGE;
    o->phase = OS_PHANTOM_PORTAL;
}

static double clampd(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }

void os_phantom_randomize(os_phantom_opts *o) {
    os_rng r;
    os_rng_seed(&r, o->seed, 0x7a11d0ULL << 20);
    o->noise_sd_hu = 10 + 20 * os_rng_uniform(&r);
    double u = os_rng_uniform(&r);
    o->habitus = u < 0.25 ? OS_PHANTOM_SLIM : u < 0.7 ? OS_PHANTOM_AVERAGE : OS_PHANTOM_OBESE;
    o->patient_sex = os_rng_uniform(&r) < 0.5 ? 'M' : 'F';
    double h = o->patient_sex == 'M' ? 1.76 + 0.07 * os_rng_gauss(&r) : 1.63 + 0.06 * os_rng_gauss(&r);
    o->patient_size_m = round(clampd(h, 1.45, 2.0) * 100) / 100;
    /* an age-like factor lowers bone density everywhere and muscle attenuation with it */
    double age = os_rng_uniform(&r), base = 235 - 150 * age + 15 * os_rng_gauss(&r);
    static const double by_level[OS_PHANTOM_LEVELS] = {10, 7, 4, 0, -3, -6, -8, -10};
    for (int l = 0; l < OS_PHANTOM_LEVELS; l++) {
        o->trab_hu[l] = round(clampd(base + by_level[l] + 8 * os_rng_gauss(&r), 60, 260));
        o->deformity[l] = OS_PHANTOM_INTACT;
        o->height_loss[l] = 0;
    }
    o->muscle_hu_shift = round(-12 * age - (o->habitus == OS_PHANTOM_OBESE ? 8 : 0) +
                               3 * os_rng_gauss(&r));
    u = os_rng_uniform(&r);
    int n = u < 0.5 ? 0 : u < 0.8 ? 1 : 2;
    for (int k = 0; k < n; k++) {
        int l = (int)(os_rng_uniform(&r) * OS_PHANTOM_LEVELS);
        if (o->deformity[l]) l = (l + 3) % OS_PHANTOM_LEVELS;
        u = os_rng_uniform(&r);
        o->deformity[l] = u < 0.6 ? OS_PHANTOM_WEDGE : u < 0.85 ? OS_PHANTOM_BICONCAVE
                                                                 : OS_PHANTOM_CRUSH;
        u = os_rng_uniform(&r);
        double v = os_rng_uniform(&r);
        double loss = u < 0.15 ? 0.10 + 0.08 * v : u < 0.45 ? 0.205 + 0.04 * v
                    : u < 0.8 ? 0.26 + 0.13 * v : 0.42 + 0.18 * v;
        o->height_loss[l] = round(loss * 1000) / 1000;
    }
}
