/* `osteoscout phantom`: writes a synthetic CT series (lib/phantom) to a folder, for demos,
 * tests and sending to a node with storescu. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "commands.h"
#include "osteoscout/dicom.h"
#include "osteoscout/phantom.h"

static const struct {
    const char *name, *uid;
} syntaxes[] = {
    {"explicit", OS_TS_EXPLICIT_LE}, {"implicit", OS_TS_IMPLICIT_LE},
    {"jpeg-lossless", OS_TS_JPEG_LOSSLESS_SV1}, {"jpeg-ls", OS_TS_JPEG_LS_LOSSLESS},
    {"rle", OS_TS_RLE}, {"j2k", OS_TS_J2K_LOSSLESS},
};

static void usage(FILE *f) {
    fprintf(f, "usage: osteoscout phantom --out DIR [--seed N] [--random] [--slices N] [--rows N]\n"
               "         [--cols N] [--pixel MM] [--spacing MM] [--thickness MM] [--noise HU]\n"
               "         [--z-from LEVEL] [--z-to LEVEL] [--height M] [--sex M|F]\n"
               "         [--habitus slim|average|obese] [--phase noncontrast|arterial|portal]\n"
               "         [--trab-hu LEVEL:HU]... [--fracture LEVEL:wedge|biconcave|crush:LOSS]...\n"
               "         [--muscle-hu SHIFT] [--muscle-scale F]\n"
               "         [--syntax explicit|implicit|jpeg-lossless|jpeg-ls|rle|j2k] [--kernel K]\n"
               "         [--series-number N] [--study-uid UID] [--series-uid UID] [--json]\n"
               "LEVEL is T10 ... L5 (S1 also for --z-to/--z-from); the z range defaults to T10 ... S1\n"
               "and --slices N means N slices centred on it. --random draws noise, habitus, sex,\n"
               "height, trabecular HU and fractures from the seed; explicit options still win.\n"
               "--muscle-hu adds SHIFT HU (-100 ... 100) to every muscle (myosteatosis); --muscle-scale\n"
               "multiplies every trunk muscle's radii by F (0.3 ... 2; area by F squared: sarcopenia).\n");
}

/* "L1:150" → level 3, 150. */
static int parse_trab(const char *s, os_phantom_opts *o) {
    char lv[8];
    const char *colon = strchr(s, ':');
    if (!colon || colon - s >= (long)sizeof lv) goto bad;
    memcpy(lv, s, (size_t)(colon - s));
    lv[colon - s] = 0;
    int l = os_phantom_level_parse(lv);
    char *end;
    double hu = strtod(colon + 1, &end);
    if (l < 0 || l >= OS_PHANTOM_LEVELS || end == colon + 1 || *end || hu < -200 || hu > 1500)
        goto bad;
    o->trab_hu[l] = hu;
    return 0;
bad:
    fprintf(stderr, "osteoscout: --trab-hu needs LEVEL:HU with LEVEL T10 ... L5, not '%s'\n", s);
    return -1;
}

/* "L1:wedge:0.3" → level 3 wedge 0.3. */
static int parse_fracture(const char *s, os_phantom_opts *o) {
    char buf[64];
    if (strlen(s) >= sizeof buf) goto bad;
    strcpy(buf, s);
    char *a = strtok(buf, ":"), *b = strtok(NULL, ":"), *c = strtok(NULL, ":");
    if (!a || !b || !c || strtok(NULL, ":")) goto bad;
    int l = os_phantom_level_parse(a), d = os_phantom_deformity_parse(b);
    char *end;
    double loss = strtod(c, &end);
    if (l < 0 || l >= OS_PHANTOM_LEVELS || d < 0 || end == c || *end || !(loss >= 0 && loss <= 0.8))
        goto bad;
    o->deformity[l] = d;
    o->height_loss[l] = d ? loss : 0;
    return 0;
bad:
    fprintf(stderr, "osteoscout: --fracture needs LEVEL:wedge|biconcave|crush:LOSS (LOSS 0 ... 0.8), "
                    "not '%s'\n", s);
    return -1;
}

static int parse_int(const char *opt, const char *s, int min, int max, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) {
        fprintf(stderr, "osteoscout: --%s needs a whole number from %d to %d, not '%s'\n", opt, min,
                max, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int parse_double(const char *opt, const char *s, double min, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= min)) {
        fprintf(stderr, "osteoscout: --%s needs a number of at least %g, not '%s'\n", opt, min, s);
        return -1;
    }
    *out = v;
    return 0;
}

static const char *syntax_uid(const char *name) {
    for (size_t i = 0; i < sizeof syntaxes / sizeof syntaxes[0]; i++)
        if (strcmp(name, syntaxes[i].name) == 0) return syntaxes[i].uid;
    return NULL;
}

int cmd_phantom(int argc, char **argv, const os_config *cfg) {
    (void)cfg;
    static const struct option longopts[] = {
        {"out", required_argument, 0, 'o'},       {"seed", required_argument, 0, 's'},
        {"slices", required_argument, 0, 'n'},    {"rows", required_argument, 0, 'r'},
        {"cols", required_argument, 0, 'c'},      {"pixel", required_argument, 0, 'p'},
        {"spacing", required_argument, 0, 'z'},   {"thickness", required_argument, 0, 't'},
        {"noise", required_argument, 0, 'N'},     {"syntax", required_argument, 0, 'x'},
        {"kernel", required_argument, 0, 'k'},    {"series-number", required_argument, 0, 'S'},
        {"study-uid", required_argument, 0, 'u'}, {"series-uid", required_argument, 0, 'U'},
        {"json", no_argument, 0, 'j'},            {"random", no_argument, 0, 'R'},
        {"z-from", required_argument, 0, 'F'},    {"z-to", required_argument, 0, 'T'},
        {"height", required_argument, 0, 'H'},    {"sex", required_argument, 0, 'X'},
        {"habitus", required_argument, 0, 'B'},   {"phase", required_argument, 0, 'P'},
        {"trab-hu", required_argument, 0, 'A'},   {"fracture", required_argument, 0, 'K'},
        {"muscle-hu", required_argument, 0, 'M'}, {"muscle-scale", required_argument, 0, 'm'},
        {"help", no_argument, 0, 'h'},            {0, 0, 0, 0},
    };
    os_phantom_opts o;
    os_phantom_defaults(&o);
    /* --random draws from the seed first; every explicit option then wins over the draw,
     * so the options are read twice: once for the seed and --random, once to apply. */
    int random = 0, json = 0, bad = 0, opt;
    optind = 0;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (opt == 'R') random = 1;
        if (opt == 's') o.seed = strtoull(optarg, NULL, 10);
    }
    if (random) os_phantom_randomize(&o);
    const char *out = NULL, *syntax = "explicit";
    optind = 0; /* the top-level CLI has already run getopt over its own options */
    opterr = 0; /* our own message, in the CLI's "osteoscout: ..." form */
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case 'o': out = optarg; break;
        case 's': {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-') {
                fprintf(stderr, "osteoscout: --seed needs a non-negative whole number, not '%s'\n", optarg);
                bad = 1;
            }
            o.seed = v;
            break;
        }
        case 'n': bad |= parse_int("slices", optarg, 1, 9999, &o.slices) != 0; break;
        case 'r': bad |= parse_int("rows", optarg, 8, 4096, &o.rows) != 0; break;
        case 'c': bad |= parse_int("cols", optarg, 8, 4096, &o.cols) != 0; break;
        case 'p': bad |= parse_double("pixel", optarg, 0.01, &o.pixel_mm) != 0; break;
        case 'z': bad |= parse_double("spacing", optarg, 0.01, &o.slice_spacing_mm) != 0; break;
        case 't': bad |= parse_double("thickness", optarg, 0.01, &o.slice_thickness_mm) != 0; break;
        case 'N': bad |= parse_double("noise", optarg, 0, &o.noise_sd_hu) != 0; break;
        case 'x': syntax = optarg; break;
        case 'k': o.convolution_kernel = optarg; break;
        case 'S': bad |= parse_int("series-number", optarg, 0, 99999, &o.series_number) != 0; break;
        case 'u': o.study_uid = optarg; break;
        case 'U': o.series_uid = optarg; break;
        case 'j': json = 1; break;
        case 'R': break;
        case 'F':
        case 'T': {
            int l = os_phantom_level_parse(optarg);
            if (l < 0) {
                fprintf(stderr, "osteoscout: --%s needs a level T10 ... L5 or S1, not '%s'\n",
                        opt == 'F' ? "z-from" : "z-to", optarg);
                bad = 1;
            } else if (opt == 'F') {
                o.z_from = l;
            } else {
                o.z_to = l;
            }
            break;
        }
        case 'H': bad |= parse_double("height", optarg, 0.5, &o.patient_size_m) != 0; break;
        case 'X':
            if (strcmp(optarg, "M") && strcmp(optarg, "F")) {
                fprintf(stderr, "osteoscout: --sex needs M or F, not '%s'\n", optarg);
                bad = 1;
            }
            o.patient_sex = optarg[0];
            break;
        case 'B':
            if ((o.habitus = os_phantom_habitus_parse(optarg)) < 0) {
                fprintf(stderr, "osteoscout: --habitus needs slim, average or obese, not '%s'\n", optarg);
                bad = 1;
            }
            break;
        case 'P':
            if ((o.phase = os_phantom_phase_parse(optarg)) < 0) {
                fprintf(stderr, "osteoscout: --phase needs noncontrast, arterial or portal, not '%s'\n",
                        optarg);
                bad = 1;
            }
            break;
        case 'A': bad |= parse_trab(optarg, &o) != 0; break;
        case 'K': bad |= parse_fracture(optarg, &o) != 0; break;
        case 'M': {
            char *end;
            double v = strtod(optarg, &end);
            if (end == optarg || *end || !(v >= -100 && v <= 100)) {
                fprintf(stderr, "osteoscout: --muscle-hu needs a number from -100 to 100, not '%s'\n", optarg);
                bad = 1;
            }
            o.muscle_hu_shift = v;
            break;
        }
        case 'm': {
            char *end;
            double v = strtod(optarg, &end);
            if (end == optarg || *end || !(v >= 0.3 && v <= 2)) {
                fprintf(stderr, "osteoscout: --muscle-scale needs a number from 0.3 to 2, not '%s'\n", optarg);
                bad = 1;
            }
            o.muscle_scale = v;
            break;
        }
        case 'h': usage(stdout); return 0;
        default:
            fprintf(stderr, "osteoscout: phantom: bad option or missing value: %s\n", argv[optind - 1]);
            bad = 1;
            break;
        }
    }
    if (bad) {
        usage(stderr);
        return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "osteoscout: phantom takes no positional arguments ('%s')\n", argv[optind]);
        return 2;
    }
    if (!out) {
        fprintf(stderr, "osteoscout: phantom needs --out DIR\n");
        usage(stderr);
        return 2;
    }
    o.transfer_syntax_uid = syntax_uid(syntax);
    if (!o.transfer_syntax_uid) {
        fprintf(stderr, "osteoscout: unknown --syntax '%s' (explicit, implicit, jpeg-lossless, "
                        "jpeg-ls, rle or j2k)\n", syntax);
        return 2;
    }
    /* UIDs made here rather than in the library so they can be printed. */
    char study[OS_UID_MAX], series[OS_UID_MAX];
    if (o.study_uid) snprintf(study, sizeof study, "%s", o.study_uid);
    else os_dicom_new_uid(study);
    if (o.series_uid) snprintf(series, sizeof series, "%s", o.series_uid);
    else os_dicom_new_uid(series);
    o.study_uid = study;
    o.series_uid = series;

    if (o.z_from > o.z_to) {
        fprintf(stderr, "osteoscout: --z-from %s is below --z-to %s\n",
                os_phantom_level_name(o.z_from), os_phantom_level_name(o.z_to));
        return 2;
    }
    os_error err;
    os_error_clear(&err);
    int n_slices = os_phantom_slice_count(&o, &err);
    if (n_slices < 0 || os_phantom_write_series(&o, out, &err) != 0) {
        fprintf(stderr, "osteoscout: %s\n", err.msg);
        return 1;
    }
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "out", out);
        cJSON_AddNumberToObject(j, "slices", n_slices);
        cJSON_AddNumberToObject(j, "rows", o.rows);
        cJSON_AddNumberToObject(j, "cols", o.cols);
        cJSON_AddNumberToObject(j, "pixel_mm", o.pixel_mm);
        cJSON_AddNumberToObject(j, "slice_spacing_mm", o.slice_spacing_mm);
        cJSON_AddStringToObject(j, "transfer_syntax_uid", o.transfer_syntax_uid);
        cJSON_AddStringToObject(j, "study_uid", study);
        cJSON_AddStringToObject(j, "series_uid", series);
        char *text = cJSON_Print(j);
        if (text) puts(text);
        free(text);
        cJSON_Delete(j);
    } else {
        printf("wrote %d slices (%d×%d, %.1f mm) to %s, study %s, series %s\n", n_slices, o.cols,
               o.rows, o.slice_spacing_mm, out, study, series);
    }
    return 0;
}
