/* Subcutaneous fat and the abdominal wall, by rays cast from the centre of the trunk. Walking
 * in from the skin, the subcutaneous fat ends at the first band of anything denser (a wall
 * muscle, an erector, a rib); that boundary, median-filtered over neighbouring rays so a ray
 * slipping through a gap in the wall (linea alba, a hernia) cannot pull it inwards, is the
 * fascia: fat outside it is subcutaneous, fat inside it visceral. The wall muscle is the band
 * just inside the fascia: it ends where a fat plane, gas or an organ of other density begins.
 * Where an organ (liver, spleen, bowel) lies on the wall with nothing between, the band's depth
 * is borrowed from the neighbouring rays that did see its inner edge. Rays from the centre
 * cross the wall obliquely at the flanks and the back, where it is also deepest (the muscle
 * lateral to the erectors and QL): a second pass measures each ray's fat planes and depth
 * limit against how obliquely it crosses the fascia, and lets rays behind the spine's centre
 * go deeper. The pixels on the wall's edges are kept when their raw HU is muscle (partial
 * volume, which matters on coarse pixels). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "muscle_internal.h"

#define MS_PI 3.14159265358979323846
#define N_RAYS 720
#define SKIN_MAX_MM 4.0
#define RUN_MM 2.0        /* a band must be this deep to count (noise, thin fascia) */
#define GAP_MM 6.0        /* fat planes thinner than this lie between the wall's layers */
#define WALL_MAX_MM 40.0      /* rectus and the obliques, even in a muscular man */
#define WALL_MAX_BACK_MM 90.0 /* behind the spine's centre: latissimus, the obliques' back
                               * and the muscle lateral to the erectors, met obliquely */
#define JUMP_HU 45        /* an organ denser than this slice's muscle met by the wall */
#define FAINT_HU -65     /* smoothed: fat with a thin muscle layer in it, not fat alone */
#define DROP_HU 32        /* bowel content, fluid: less dense than muscle */
#define NEAR_HU 20        /* smoothed, this close below the slice's muscle: muscle */
#define MEDIAN_DEG 5
#define THICK_WIN_DEG 25
#define OB_DEG 3
#define FRONT_MAX_X 2.0 /* × the median thickness of the wall in front of the spine */
#define OB_MAX 3.0
#define PV_PX 0.75 /* pixels: how far past an edge partial volume reaches */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Circular median filter of n values over ±w samples; NaN values are left out. */
static void circ_median(const double *in, double *out, int n, int w, double fallback) {
    double win[2 * N_RAYS + 1];
    for (int i = 0; i < n; i++) {
        int m = 0;
        for (int k = -w; k <= w; k++) {
            double v = in[((i + k) % n + n) % n];
            if (!isnan(v)) win[m++] = v;
        }
        if (!m) {
            out[i] = fallback;
            continue;
        }
        qsort(win, (size_t)m, sizeof win[0], cmp_double);
        out[i] = win[m / 2];
    }
}

typedef struct ray {
    int n;            /* samples from the centre to the skin */
    double step;      /* mm */
    int16_t hu[4096]; /* smoothed HU per sample */
    uint8_t comp[4096];
} ray;

static void sample_ray(const ms_ctx *c, double ox, double oy, double th, ray *rr) {
    double dx = cos(th), dy = sin(th);
    rr->step = 0.5 * fmin(c->sx, c->sy);
    rr->n = 0;
    for (int i = 0; i < 4096; i++) {
        double px = ox + i * rr->step * dx / c->sx, py = oy + i * rr->step * dy / c->sy;
        int x = (int)lround(px), y = (int)lround(py);
        if (x < 0 || y < 0 || x >= c->nx || y >= c->ny) break;
        size_t p = (size_t)y * c->nx + x;
        if (!c->body[p]) break;
        rr->hu[i] = c->sm[p];
        rr->comp[i] = c->comp[p];
        rr->n = i + 1;
    }
}

/* Index of the first sample at or below i (walking inwards) that starts a run of `run`
 * samples all satisfying dense (> fat); -1 when none. */
static int dense_run_start(const ray *rr, int i, int run) {
    int count = 0;
    for (int j = i; j >= 0; j--) {
        if (rr->hu[j] > OS_FAT_HU_MAX || rr->comp[j]) {
            if (++count >= run) return j + run - 1;
        } else
            count = 0;
    }
    return -1;
}

/* 1 when samples k, k-1, … k-run+1 all read above FAINT_HU: a layer, not one noisy pixel. */
static int faint_run(const ray *rr, int k, int run) {
    if (k < run) return 0;
    for (int t = 0; t < run; t++)
        if (rr->hu[k - t] <= FAINT_HU) return 0;
    return 1;
}

/* 1 when a run of `run` muscle samples starts within `len` samples inwards of sample i. */
static int muscle_within(const ray *rr, int i, int len, int run, int ref) {
    for (int t = i; t >= run - 1 && t > i - len; t--) {
        int q = 0;
        while (q < run && !rr->comp[t - q] && rr->hu[t - q] >= ref - NEAR_HU && rr->hu[t - q] <= OS_MUSCLE_HU_MAX) q++;
        if (q == run) return 1;
    }
    return 0;
}

/* Walks a ray: outer fascia radius (mm from the centre) and wall depth (mm; NaN when the
 * inner edge was not seen; 0 when the ray meets a paraspinal muscle first). */
/* pix, thick: pixel size and slice spacing (mm): thick slices blur the wall's layers apart
 * into bands with fat-looking gaps between them. ob: how much longer than across the wall
 * the ray runs through it (1 where it meets the fascia square on), so a fat plane between
 * two layers, met obliquely as rays from the centre meet the posterior wall, still reads
 * as a thin plane. */
static void walk(const ray *rr, int ref, double pix, double thick, double ob, double max_mm,
                 double *fascia, double *depth) {
    double st = rr->step;
    int i = rr->n - 1, run = (int)ceil(RUN_MM / st);
    *fascia = NAN;
    *depth = NAN;
    if (i < run) return;
    int skin = (int)ceil(SKIN_MAX_MM / st);
    int j = i;
    while (j > 0 && i - j < skin && rr->hu[j] > OS_FAT_HU_MAX && !rr->comp[j]) j--;
    int w = (i - j >= skin) ? j : dense_run_start(rr, j, run);
    if (w < 0) return;
    *fascia = w * st;
    if (rr->comp[w] || rr->comp[w > run ? w - run : 0]) {
        *depth = 0; /* the back: erector, QL or psoas, not the wall */
        return;
    }
    int gap = (int)ceil(fmax(fmax(ob * GAP_MM, 4 * pix), 2 * thick) / st), maxn = (int)(max_mm / st);
    int win = (int)ceil(fmax(4.0, 4 * pix) / st); /* long enough to average the noise */
    int thin = thick <= 3.5 && pix <= 1.0;
    double sum = 0;
    int nsum = 0, fat = 0, k;
    for (k = w; k >= 0 && w - k < maxn; k--) {
        int h = rr->hu[k];
        if (rr->comp[k]) break;
        if (h < -300) break; /* gas: bowel or lung behind the wall */
        if (h <= OS_FAT_HU_MAX) {
            /* a muscle layer thinner than the smoothing (the inner oblique or transversus on
             * coarse pixels) reads fainter than muscle but clearly above fat: past a fat
             * plane it carries the band on, though it is not counted as band itself */
            if (h > FAINT_HU && nsum >= run && faint_run(rr, k, run)) {
                fat = 0;
                continue;
            }
            if (++fat >= gap) break;
            continue;
        }
        fat = 0;
        if (h > OS_MUSCLE_HU_MAX && h <= 300) { /* contrast in an organ, or rib cartilage */
            if (nsum >= run) break;
            continue;
        }
        if (h > 300) continue; /* a rib inside the wall */
        if (nsum >= 2 * run && k >= win) { /* an organ or bowel pressed against the wall */
            double s2 = 0;
            int clean = 1, top = -1000;
            for (int t = 0; t < win; t++) {
                int ht = rr->hu[k - t];
                if (ht <= OS_FAT_HU_MAX || ht > 300) clean = 0; /* a fat plane or a rib is no organ */
                s2 += ht;
                if (ht > top) top = ht;
            }
            s2 /= win;
            /* denser: liver, spleen, kidney, enhanced bowel wall; lighter all along: bowel
             * content (on thick slices or coarse pixels the wall's layers blur with the fat
             * planes between them: no such test). A thin plane met obliquely, as at the
             * flanks of a slim patient, is that long too once smoothed, but muscle follows it
             * within a fat plane's width, while bowel content runs on. */
            int lighter = thin && s2 < ref - DROP_HU && top < ref - NEAR_HU && !muscle_within(rr, k - win, gap, run, ref);
            if (clean && (s2 > ref + JUMP_HU || lighter)) break;
        }
        sum += h;
        nsum++;
    }
    if (w - k >= maxn || k < 0) return; /* inner edge not seen */
    *depth = (w - k - fat) * st;
    if (*depth < 0) *depth = 0;
}

/* Per ray, 1 / cos of the angle between the ray and the fascia's normal, from the slope of
 * the fascia radius over ±OB_DEG; capped, as a ray nearly along the wall says nothing. */
static void obliquity(const double *fas, double *ob) {
    int h = OB_DEG * N_RAYS / 360;
    double dth = 2.0 * h * 2 * MS_PI / N_RAYS;
    for (int k = 0; k < N_RAYS; k++) {
        double r0 = fas[((k - h) % N_RAYS + N_RAYS) % N_RAYS], r1 = fas[(k + h) % N_RAYS], r = fas[k];
        ob[k] = 1;
        if (isnan(r0) || isnan(r1) || isnan(r) || r <= 0) continue;
        double t = (r1 - r0) / dth / r;
        ob[k] = fmin(sqrt(1 + t * t), OB_MAX);
    }
}

/* In front of the spine the wall (rectus, the obliques) is of much the same thickness all
 * round: a ray that found it far thicker, across the wall, than most did went on into a bowel
 * loop or an organ lying on it without a fat plane, wider than the depth filters see. */
static void cap_front(double *dep, const double *ob, const double *maxd) {
    double t[N_RAYS];
    int n = 0;
    for (int k = 0; k < N_RAYS; k++)
        if (maxd[k] < WALL_MAX_BACK_MM && !isnan(dep[k]) && dep[k] > 0) t[n++] = dep[k] / ob[k];
    if (n < N_RAYS / 8) return;
    qsort(t, (size_t)n, sizeof t[0], cmp_double);
    double cap = FRONT_MAX_X * t[n / 2];
    for (int k = 0; k < N_RAYS; k++)
        if (maxd[k] < WALL_MAX_BACK_MM && !isnan(dep[k]) && dep[k] > cap * ob[k]) dep[k] = cap * ob[k];
}

int ms_fat_wall(ms_ctx *c) {
    /* centre: centroid of the trunk */
    double cx = 0, cy = 0;
    long n = 0;
    const ms_rect *r = &c->roi;
    for (int y = r->y0; y < r->y1; y++)
        for (int x = r->x0; x < r->x1; x++)
            if (c->body[(size_t)y * c->nx + x]) cx += x, cy += y, n++;
    if (!n) return -1;
    cx /= n;
    cy /= n;
    double *fas = c->ray_buf, *dep = fas + N_RAYS, *fas_f = dep + N_RAYS, *dep_f = fas_f + N_RAYS;
    ray *rr = malloc(sizeof *rr);
    if (!rr) return -1;
    int seen = 0, wm = MEDIAN_DEG * N_RAYS / 360;
    double ob[N_RAYS], maxd[N_RAYS];
    for (int k = 0; k < N_RAYS; k++) ob[k] = 1, maxd[k] = WALL_MAX_MM;
    /* twice: the first pass finds the fascia, whose slope says how obliquely each ray
     * crosses the wall on the second */
    for (int pass = 0; pass < 2; pass++) {
        seen = 0;
        for (int k = 0; k < N_RAYS; k++) {
            sample_ray(c, cx, cy, 2 * MS_PI * k / N_RAYS, rr);
            walk(rr, c->muscle_ref, fmax(c->sx, c->sy), c->vol->spacing[2], ob[k], maxd[k], &fas[k],
                 &dep[k]);
            seen += !isnan(fas[k]);
        }
        if (seen < N_RAYS / 2) break;
        circ_median(fas, fas_f, N_RAYS, wm, NAN);
        if (pass) break;
        obliquity(fas_f, ob);
        for (int k = 0; k < N_RAYS; k++) {
            double th = 2 * MS_PI * k / N_RAYS, u, v;
            if (isnan(fas_f[k])) continue;
            ms_uv(c, (int)lround(cx + fas_f[k] * cos(th) / c->sx), (int)lround(cy + fas_f[k] * sin(th) / c->sy),
                  &u, &v);
            maxd[k] = v > 0 ? WALL_MAX_BACK_MM : WALL_MAX_MM * ob[k];
        }
    }
    free(rr);
    if (seen < N_RAYS / 2) return -1;
    cap_front(dep, ob, maxd);
    /* depths: only rays that saw the wall's inner edge vote; the back (0) votes too */
    double all[N_RAYS];
    int na = 0;
    for (int k = 0; k < N_RAYS; k++)
        if (!isnan(dep[k]) && dep[k] > 0) all[na++] = dep[k];
    double typical = 12;
    if (na) {
        qsort(all, (size_t)na, sizeof all[0], cmp_double);
        typical = all[na / 2];
    }
    /* rays that saw the inner edge keep their depth (a narrow median drops single-ray
     * outliers); the others borrow from the neighbours that saw it */
    circ_median(dep, dep_f, N_RAYS, THICK_WIN_DEG * N_RAYS / 360, typical);
    double *own = all, *local = fas; /* reused: the raw fascia radii are no longer needed */
    circ_median(dep, own, N_RAYS, 3 * N_RAYS / 360, typical);
    circ_median(dep, local, N_RAYS, 10 * N_RAYS / 360, typical);
    for (int k = 0; k < N_RAYS; k++) {
        /* much deeper than the rays around it: it went on into bowel or an organ lying on
         * the wall without a fat plane */
        if (!isnan(dep[k])) dep_f[k] = own[k] > 1.6 * local[k] + 4 ? local[k] : own[k];
        if (isnan(fas_f[k])) fas_f[k] = 0;
    }

    double pix = fmax(c->sx, c->sy);
    for (int y = r->y0; y < r->y1; y++)
        for (int x = r->x0; x < r->x1; x++) {
            size_t p = (size_t)y * c->nx + x;
            c->fascia[p] = 0;
            if (!c->body[p]) continue;
            double dx = (x - cx) * c->sx, dy = (y - cy) * c->sy;
            double rho = hypot(dx, dy), a = atan2(dy, dx);
            if (a < 0) a += 2 * MS_PI;
            double f = a / (2 * MS_PI) * N_RAYS;
            int k0 = (int)f % N_RAYS, k1 = (k0 + 1) % N_RAYS;
            double t = f - floor(f);
            double fr = (1 - t) * fas_f[k0] + t * fas_f[k1];
            double dp = (1 - t) * dep_f[k0] + t * dep_f[k1];
            /* the pixels the wall's edges cross: muscle when more than half of them is (raw HU
             * in the muscle range), as the published thresholds count them; the smoothed copy
             * the edges were found on gives them to the fat */
            double pm = PV_PX * pix * fmin((1 - t) * ob[k0] + t * ob[k1], 2.0);
            int edge_muscle = !c->comp[p] && dp > 0 && ms_is_muscle(c->hu[p]);
            if (rho >= fr) {
                if (edge_muscle && rho < fr + pm) c->comp[p] = OS_TISSUE_WALL;
                continue;
            }
            c->fascia[p] = 1;
            if (!c->comp[p] && (rho >= fr - dp || (edge_muscle && rho >= fr - dp - pm)))
                c->comp[p] = OS_TISSUE_WALL;
        }
    return 0;
}
