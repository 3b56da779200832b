/* Soft tissue: body outline, skin, subcutaneous fat, the abdominal wall with its fat planes,
 * the visceral cavity and what lies in it (bowel loops, colon, stomach, liver, spleen,
 * kidneys, aorta, IVC), and the trunk muscles (psoas, quadratus lumborum, erector spinae).
 * Sizes are tabled at vertebral levels and interpolated along z; the body follows the spine
 * so lordosis shows as a thicker back at L3 than at T10. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "rng.h"

#define NK 12 /* knots: T8 … L5 centres, S1 body, S3 */
static const double FX[NK] = {140, 141, 142, 143, 142, 140, 138, 138, 142, 150, 156, 160};
static const double AP[NK] = {215, 213, 210, 203, 196, 190, 186, 185, 185, 188, 192, 195};
static const double PSOAS[NK] = {0, 0, 0, 0, 3, 8, 13, 18, 22, 24, 24, 22};
static const double QL[NK] = {0, 0, 0, 0, 0, 8, 12, 15, 14, 8, 0, 0};
static const double ES[NK] = {24, 24, 25, 26, 27, 28, 29, 30, 29, 26, 20, 12};
static const double VATW[NK] = {0.4, 0.45, 0.5, 0.6, 0.7, 0.85, 1, 1, 1, 1, 0.8, 0.6};

static double sq(double x) { return x * x; }
static double clampd(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }

static void knot_z(const ph_model *m, double kz[NK]) {
    for (int i = 0; i < PH_NV; i++) {
        double c[3];
        ph_vertebra_center(&m->v[i], c);
        kz[i] = c[2];
    }
    kz[PH_NV] = m->sacrum.o[2] - 15 * m->bone_scale;
    kz[PH_NV + 1] = m->sacrum.o[2] - 60 * m->bone_scale;
}

/* Linear in z between knots (descending z), constant beyond. */
static double interp(const double kz[NK], const double *tab, double z) {
    if (z >= kz[0]) return tab[0];
    for (int i = 0; i + 1 < NK; i++)
        if (z >= kz[i + 1]) {
            double f = (z - kz[i + 1]) / (kz[i] - kz[i + 1]);
            return tab[i + 1] + f * (tab[i] - tab[i + 1]);
        }
    return tab[NK - 1];
}

static double muscle_scale(const ph_model *m) {
    double f = m->o.muscle_scale > 0 ? m->o.muscle_scale : 1.0;
    return m->bone_scale * (m->sex == 'M' ? 1.0 : 0.82) * f;
}

void ph_plane_setup(ph_plane *p) {
    const ph_model *m = p->m;
    double kz[NK], W[NK], D[NK];
    knot_z(m, kz);
    for (int i = 0; i < NK; i++) {
        int v = i < PH_NV ? i : PH_NV - 1;
        W[i] = m->v[v].W;
        D[i] = m->v[v].D;
    }
    double z = p->z;
    if (z >= m->sacrum.o[2]) {
        ph_curve_at_z(m, z, &p->spine_y, &p->spine_phi);
    } else {
        const ph_frame *f = &m->sacrum;
        p->spine_y = f->o[1] + (z - f->o[2]) * f->ax[1] / f->ax[2];
        p->spine_phi = atan2(f->ax[1], f->ax[2]);
    }
    p->body_W = interp(kz, W, z);
    p->body_D = interp(kz, D, z);
    double c = cos(p->spine_phi), bs = m->bone_scale, ra = (p->body_W > 42 ? 8.5 : 7.5) * bs;
    p->canal_y = p->spine_y + (p->body_D / 2 + 1 + ra) / c;
    double lamina = p->canal_y + (ra + 6.5 * bs) / c;
    double w = interp(kz, VATW, z), vx = m->vat_extra * w;
    const ph_vertebra *l3 = &m->v[PH_V_T10 + 5];
    p->f_back = m->y_back_L3 + 0.7 * (p->spine_y - l3->o[1]);
    p->f_front = p->f_back - interp(kz, AP, z) * bs - vx;
    p->fx = interp(kz, FX, z) * bs * (m->sex == 'M' ? 1.03 : 0.97) + 0.3 * vx;
    p->f_cy = p->f_back - 0.42 * (p->f_back - p->f_front);
    p->c_ax = p->fx - m->wall_t;
    p->c_front = p->f_front + m->wall_t;
    p->c_back = fmin(lamina, p->f_back - 8);
}

/* Half-width at row y of an oval with its own anterior and posterior semi-axes; the back
 * is flatter (higher exponent) as it is on the table. Negative: the row misses it. */
static double oval_half(double ax, double cy, double ay_ant, double ay_post, double y) {
    double dy = y - cy, b = dy < 0 ? ay_ant : ay_post, p = dy < 0 ? 2.2 : 3.0;
    if (b <= 0 || fabs(dy) >= b) return -1;
    return ax * pow(1 - pow(fabs(dy) / b, p), 1 / p);
}

static void fill_span(ph_plane *p, int j, double half, int lab) {
    if (half <= 0) return;
    int i0, i1;
    ph_span(-half, half, p->x0, p->d, p->nx, &i0, &i1);
    if (i1 >= i0) memset(p->lab + (size_t)j * p->nx + i0, lab, (size_t)(i1 - i0 + 1));
}

static void paint_layers(ph_plane *p) {
    const ph_model *m = p->m;
    double cy = p->f_cy, fa = cy - p->f_front, fp = p->f_back - cy;
    double sa = m->sat_a, sl = m->sat_l, sp = m->sat_p, wt = m->wall_t;
    double pl1 = 0.35 * wt, pl2 = 0.65 * wt, it = m->imat_t;
    double es_out = 2 * ES[7] * muscle_scale(m) + 12;
    for (int j = 0; j < p->ny; j++) {
        double y = p->y0 + j * p->d;
        fill_span(p, j, oval_half(p->fx + sl, cy, fa + sa, fp + sp, y), L_SKIN);
        fill_span(p, j, oval_half(p->fx + sl - 2, cy, fa + sa - 2, fp + sp - 2, y), L_SAT);
        fill_span(p, j, oval_half(p->fx, cy, fa, fp, y), L_WALL);
        /* fat planes between the oblique layers, lateral only */
        double o1 = oval_half(p->fx - pl1, cy, fa - pl1, fp - pl1, y);
        double o2 = oval_half(p->fx - pl1 - it, cy, fa - pl1 - it, fp - pl1 - it, y);
        double o3 = oval_half(p->fx - pl2, cy, fa - pl2, fp - pl2, y);
        double o4 = oval_half(p->fx - pl2 - it, cy, fa - pl2 - it, fp - pl2 - it, y);
        uint8_t *row = p->lab + (size_t)j * p->nx;
        for (int k = 0; k < 2; k++) {
            double out = k ? o3 : o1, in = k ? o4 : o2;
            if (out <= 0) continue;
            for (int s = -1; s <= 1; s += 2) {
                double lo = s < 0 ? -out : (in > 0 ? in : 0), hi = s < 0 ? (in > 0 ? -in : 0) : out;
                int i0, i1;
                ph_span(lo, hi, p->x0, p->d, p->nx, &i0, &i1);
                for (int i = i0; i <= i1; i++)
                    if (fabs(p->x0 + i * p->d) > 0.4 * p->fx) row[i] = L_IMAT;
            }
        }
        /* behind the cavity, beside the spine: paraspinal fat under the erectors */
        double ca = p->c_ax, cfa = cy - p->c_front, cfp = p->c_back - cy;
        if (y > cy && y < p->f_back) {
            double f = oval_half(p->fx, cy, fa, fp, y);
            int i0, i1;
            ph_span(-es_out, es_out, p->x0, p->d, p->nx, &i0, &i1);
            for (int i = i0; i <= i1 && f > 0; i++)
                if (fabs(p->x0 + i * p->d) < f) row[i] = L_IMAT;
        }
        fill_span(p, j, oval_half(ca, cy, cfa, cfp, y), L_VAT);
    }
}

static int is_cavity(int lab) {
    return lab == L_VAT || lab == L_BOWEL_WALL || lab == L_BOWEL_FLUID || lab == L_GAS ||
           lab == L_FECES || lab == L_LIVER || lab == L_SPLEEN;
}

/* Paints an axis-aligned ellipse (cx, cy, rx, ry); mode 0: anywhere, 1: cavity only. */
static void paint_ellipse(ph_plane *p, double cx, double cy, double rx, double ry, int lab,
                          int cavity_only) {
    if (rx <= 0 || ry <= 0) return;
    int i0, i1, j0, j1;
    ph_span(cx - rx, cx + rx, p->x0, p->d, p->nx, &i0, &i1);
    ph_span(cy - ry, cy + ry, p->y0, p->d, p->ny, &j0, &j1);
    for (int j = j0; j <= j1; j++) {
        double dy = sq((p->y0 + j * p->d - cy) / ry);
        uint8_t *row = p->lab + (size_t)j * p->nx;
        for (int i = i0; i <= i1; i++) {
            if (sq((p->x0 + i * p->d - cx) / rx) + dy > 1) continue;
            if (cavity_only && !is_cavity(row[i])) continue;
            row[i] = (uint8_t)lab;
        }
    }
}

/* Section of an ellipsoid (semi-axes r) at the plane: in-plane semi-axes, 0 when missed. */
static double section(const double c[3], const double r[3], double z, double *rx, double *ry) {
    double t = 1 - sq((z - c[2]) / r[2]);
    if (t <= 0) return 0;
    t = sqrt(t);
    *rx = r[0] * t;
    *ry = r[1] * t;
    return t;
}

static void paint_blobs(ph_plane *p) {
    const ph_model *m = p->m;
    for (int b = 0; b < m->n_blobs; b++) {
        const ph_blob *bl = &m->blobs[b];
        double rx, ry;
        if (!section(bl->c, bl->r, p->z, &rx, &ry)) continue;
        paint_ellipse(p, bl->c[0], bl->c[1], rx, ry, L_BOWEL_WALL, 1);
        rx -= 2, ry -= 2;
        if (rx <= 0 || ry <= 0) continue;
        int lab = bl->content;
        if (lab == L_GAS) { /* gas rises: only the anterior part of a gas loop is gas */
            paint_ellipse(p, bl->c[0], bl->c[1], rx, ry, L_BOWEL_FLUID, 1);
            int i0, i1, j0, j1;
            ph_span(bl->c[0] - rx, bl->c[0] + rx, p->x0, p->d, p->nx, &i0, &i1);
            ph_span(bl->c[1] - ry, bl->c[1], p->y0, p->d, p->ny, &j0, &j1);
            for (int j = j0; j <= j1; j++)
                for (int i = i0; i <= i1; i++) {
                    double x = p->x0 + i * p->d, y = p->y0 + j * p->d;
                    if (sq((x - bl->c[0]) / rx) + sq((y - bl->c[1]) / ry) <= 1 &&
                        p->lab[(size_t)j * p->nx + i] == L_BOWEL_FLUID)
                        p->lab[(size_t)j * p->nx + i] = L_GAS;
                }
        } else {
            paint_ellipse(p, bl->c[0], bl->c[1], rx, ry, lab, 1);
        }
    }
}

static double level_z(const ph_model *m, int vi) {
    double c[3];
    ph_vertebra_center(&m->v[vi], c);
    return c[2];
}

static void paint_organs(ph_plane *p) {
    const ph_model *m = p->m;
    double bs = m->bone_scale, z = p->z;
    int T11 = PH_V_T10 + 1, L1 = PH_V_T10 + 3;
    /* stomach: gas anterior over fluid, left upper quadrant */
    double st[3] = {45 * bs, p->c_front + 55 * bs, level_z(m, T11) - 5};
    double sr[3] = {45 * bs, 40 * bs, 60 * bs}, rx, ry;
    if (section(st, sr, z, &rx, &ry)) {
        paint_ellipse(p, st[0], st[1], rx, ry, L_BOWEL_WALL, 1);
        paint_ellipse(p, st[0], st[1], rx - 3, ry - 3, L_BOWEL_FLUID, 1);
        double gy = st[1] - 10; /* air-fluid level: the patient lies supine */
        int i0, i1, j0, j1;
        ph_span(st[0] - rx, st[0] + rx, p->x0, p->d, p->nx, &i0, &i1);
        ph_span(st[1] - ry, gy, p->y0, p->d, p->ny, &j0, &j1);
        for (int j = j0; j <= j1; j++)
            for (int i = i0; i <= i1; i++)
                if (p->lab[(size_t)j * p->nx + i] == L_BOWEL_FLUID &&
                    sq((p->x0 + i * p->d - st[0]) / (rx - 3)) +
                            sq((p->y0 + j * p->d - st[1]) / (ry - 3)) <= 1)
                    p->lab[(size_t)j * p->nx + i] = L_GAS;
    }
    /* liver: right upper quadrant, tapering to the right lobe tip at L1; left lobe high */
    double zb = level_z(m, L1) - 0.3 * m->v[L1].H, zt = level_z(m, PH_V_T10);
    if (z > zb) {
        double t = clampd((z - zb) / (zt - zb), 0, 1), g = sqrt(t);
        double cx = -p->c_ax * (0.62 - 0.17 * t), cyl = (p->c_front + p->c_back) / 2 + 8;
        double half_ap = (p->c_back - p->c_front) / 2;
        paint_ellipse(p, cx, cyl, p->c_ax * (0.2 + 0.35 * g), half_ap * (0.3 + 0.55 * g), L_LIVER, 1);
        if (t > 0.55)
            paint_ellipse(p, 10 * bs, p->c_front + 35 * bs, 75 * bs * (t - 0.55) / 0.45 + 20 * bs,
                          28 * bs, L_LIVER, 1);
    }
    double sp[3] = {p->c_ax - 32 * bs, p->spine_y + 5, level_z(m, T11)};
    double spr[3] = {18 * bs, 42 * bs, 45 * bs};
    if (section(sp, spr, z, &rx, &ry)) paint_ellipse(p, sp[0], sp[1], rx, ry, L_SPLEEN, 1);
    /* kidneys, right 15 mm lower, in perirenal fat, hilum facing medially */
    for (int side = -1; side <= 1; side += 2) {
        double kc[3] = {side * (m->v[L1].W / 2 + 48 * bs), m->v[L1].o[1] + 8,
                        (level_z(m, L1) + level_z(m, L1 + 1)) / 2 - (side < 0 ? 15 : 0)};
        double kr[3] = {24 * bs, 20 * bs, 52 * bs}, fr[3] = {kr[0] + 8, kr[1] + 8, kr[2] + 8};
        if (section(kc, fr, z, &rx, &ry)) paint_ellipse(p, kc[0], kc[1], rx, ry, L_VAT, 1);
        double t = section(kc, kr, z, &rx, &ry);
        if (!t) continue;
        paint_ellipse(p, kc[0], kc[1], rx, ry, L_KIDNEY_CORTEX, 1);
        paint_ellipse(p, kc[0], kc[1], rx - 6, ry - 6, L_KIDNEY_MEDULLA, 0);
        double sc[3] = {kc[0] - side * 12 * bs, kc[1] - 5, kc[2]}, sr2[3] = {10 * bs, 9 * bs, 28 * bs};
        if (section(sc, sr2, z, &rx, &ry)) paint_ellipse(p, sc[0], sc[1], rx, ry, L_VAT, 0);
    }
}

static void paint_vessels(ph_plane *p) {
    const ph_model *m = p->m;
    double bs = m->bone_scale, z = p->z, c = cos(p->spine_phi), front = p->spine_y - p->body_D / 2 / c;
    double r = m->aorta_r, zbif = level_z(m, PH_V_T10 + 6), zs = m->sacrum.o[2];
    if (z >= zbif) {
        paint_ellipse(p, 8 * bs, front - r - 3, r, r / c, L_AORTA, 0);
    } else if (z > zs - 70) {
        double d = 6 + 0.45 * (zbif - z), ri = 0.62 * r;
        paint_ellipse(p, 6 + d, front - ri - 6, ri, ri, L_AORTA, 0);
        paint_ellipse(p, 6 - d, front - ri - 6, ri, ri, L_AORTA, 0);
    }
    double zl5 = level_z(m, PH_NV - 1);
    if (z >= zl5) {
        paint_ellipse(p, -18 * bs, front - 10 * bs, 12 * bs, 9 * bs / c, L_IVC, 0);
    } else if (z > zs - 70) {
        double d = 8 + 0.4 * (zl5 - z), ri = 7 * bs;
        paint_ellipse(p, -10 + d, front - ri - 2, ri, ri, L_IVC, 0);
        paint_ellipse(p, -10 - d, front - ri - 2, ri, ri, L_IVC, 0);
    }
}

static void paint_muscles(ph_plane *p) {
    const ph_model *m = p->m;
    double kz[NK], ms = muscle_scale(m), z = p->z, zs = m->sacrum.o[2];
    knot_z(m, kz);
    double pr = interp(kz, PSOAS, z) * ms, qr = interp(kz, QL, z) * ms, er = interp(kz, ES, z) * ms;
    double below = fmax(0, zs - z);
    for (int s = -1; s <= 1; s += 2) {
        if (pr > 0.5) {
            double x = s * (p->body_W / 2 + 0.8 * pr + 1 + 0.25 * below);
            paint_ellipse(p, x, p->spine_y + 0.15 * p->body_D - 0.4 * below, pr, 0.85 * pr, L_PSOAS, 0);
        }
        if (qr > 0.5) {
            double x = s * (p->body_W / 2 + 1.6 * pr + 0.6 * qr + 10 * ms);
            paint_ellipse(p, x, p->canal_y - 2, qr, 0.5 * qr, L_QL, 0);
        }
        double front = p->canal_y, back = p->f_back - 1;
        if (er > 0.5 && back > front + 4) {
            double cx = s * (4 + er), cy = (front + back) / 2, ry = (back - front) / 2;
            paint_ellipse(p, cx, cy, er, ry, L_ERECTOR, 0);
            /* the fat septum between multifidus and longissimus */
            double sx = s * (4 + 0.8 * er), it = m->imat_t / 2;
            int i0, i1, j0, j1;
            ph_span(sx - it, sx + it, p->x0, p->d, p->nx, &i0, &i1);
            ph_span(cy - ry, cy + ry, p->y0, p->d, p->ny, &j0, &j1);
            for (int j = j0; j <= j1; j++)
                for (int i = i0; i <= i1; i++)
                    if (p->lab[(size_t)j * p->nx + i] == L_ERECTOR)
                        p->lab[(size_t)j * p->nx + i] = L_IMAT;
        }
    }
}

void ph_paint_soft(ph_plane *p) {
    memset(p->lab, L_AIR, (size_t)p->nx * p->ny);
    paint_layers(p);
    paint_blobs(p);
    for (int t = 0; t < p->m->n_tubes; t++)
        if (p->m->tubes[t].gas_top) ph_paint_tube(p, &p->m->tubes[t]);
    paint_organs(p);
    paint_vessels(p);
    paint_muscles(p);
}

static int add_colon(ph_model *m, const double (*knots)[3], int nk, double r) {
    if (m->n_tubes >= (int)(sizeof m->tubes / sizeof m->tubes[0])) return 0;
    ph_tube *t = &m->tubes[m->n_tubes];
    memset(t, 0, sizeof *t);
    int cap = 2000;
    t->p = malloc((size_t)cap * sizeof *t->p);
    if (!t->p) return -1;
    m->n_tubes++;
    t->r = r, t->wall = 2.5, t->inner = L_FECES, t->shell = L_BOWEL_WALL, t->gas_top = 1;
    for (int k = 0; k + 1 < nk; k++) {
        double len = sqrt(sq(knots[k + 1][0] - knots[k][0]) + sq(knots[k + 1][1] - knots[k][1]) +
                          sq(knots[k + 1][2] - knots[k][2]));
        int steps = (int)(len / 1.5) + 1;
        for (int s = 0; s < steps && t->n < cap; s++, t->n++)
            for (int i = 0; i < 3; i++)
                t->p[t->n][i] = knots[k][i] + (knots[k + 1][i] - knots[k][i]) * s / steps;
    }
    ph_tube_bounds(t);
    return 0;
}

/* Decides the fat layers from habitus and sex, sets the back of the body from the spine,
 * and lays out bowel loops and colon from the seed. */
int ph_soft_plan(ph_model *m) {
    static const double sat[3][3] = {{8, 10, 8}, {20, 24, 16}, {45, 50, 32}};
    static const double vat[3] = {-10, 10, 45}, fill[3] = {0.75, 0.6, 0.4}, imat[3] = {0.8, 1.2, 2.2};
    int h = m->o.habitus < 0 || m->o.habitus > 2 ? 1 : m->o.habitus;
    double fs = m->sex == 'F' ? 1.25 : 0.9, vs = m->sex == 'F' ? 0.6 : 1.2, bs = m->bone_scale;
    m->sat_a = sat[h][0] * fs, m->sat_l = sat[h][1] * fs, m->sat_p = sat[h][2] * fs;
    m->vat_extra = vat[h] * vs;
    m->fill = fill[h];
    m->imat_t = imat[h];
    m->wall_t = (m->sex == 'M' ? 13 : 10) * bs;
    m->aorta_r = 10.5 * bs + (h == 2 ? 1 : 0);
    const ph_vertebra *l3 = &m->v[PH_V_T10 + 5];
    double lamina = l3->o[1] + l3->D / 2 + 1 + 2 * l3->canal_ra + l3->arch_t;
    m->es_depth_L3 = 36 * muscle_scale(m);
    m->y_back_L3 = lamina + m->es_depth_L3;

    ph_plane pl;
    memset(&pl, 0, sizeof pl);
    pl.m = m;
    pl.z = l3->o[2];
    ph_plane_setup(&pl);
    os_rng rng;
    os_rng_seed(&rng, m->o.seed, 0x5eedULL << 32);
    double x_lim = pl.c_ax - 38, y0 = pl.c_front + 14, y1 = l3->o[1] - l3->D / 2 - 22;
    double z0 = m->sacrum.o[2] - 50, z1 = level_z(m, PH_V_T10 + 3);
    double vol = 2 * x_lim * (y1 - y0) * (z1 - z0), mean = 4.0 / 3 * M_PI * 13 * 13 * 22;
    int n = y1 > y0 && x_lim > 0 ? (int)(m->fill * vol / mean) : 0;
    if (n > 2000) n = 2000;
    m->blobs = calloc((size_t)(n > 0 ? n : 1), sizeof *m->blobs);
    if (!m->blobs) return -1;
    for (int i = 0; i < n; i++) {
        ph_blob *b = &m->blobs[i];
        b->c[0] = -x_lim + 2 * x_lim * os_rng_uniform(&rng);
        b->c[1] = y0 + (y1 - y0) * os_rng_uniform(&rng);
        b->c[2] = z0 + (z1 - z0) * os_rng_uniform(&rng);
        b->r[0] = 11 + 5 * os_rng_uniform(&rng);
        b->r[1] = b->r[0] * (0.8 + 0.4 * os_rng_uniform(&rng));
        b->r[2] = 15 + 15 * os_rng_uniform(&rng);
        double u = os_rng_uniform(&rng);
        b->content = u < 0.25 ? L_GAS : u < 0.75 ? L_BOWEL_FLUID : L_FECES;
    }
    m->n_blobs = n;

    double ya = l3->o[1] - 15, xa = -(pl.c_ax - 28), xd = pl.c_ax - 26, yt = pl.c_front + 30;
    double zL1 = level_z(m, PH_V_T10 + 3), zT12 = level_z(m, PH_V_T10 + 2);
    double zL2 = level_z(m, PH_V_T10 + 4), zL3 = l3->o[2];
    const double asc[2][3] = {{xa, ya, m->sacrum.o[2] - 20}, {xa, ya, zL1}};
    const double trans[5][3] = {{xa, ya, zL1}, {-60, yt, zL2 - 10}, {0, yt, zL3},
                                {60, yt, zL2}, {xd, ya + 10, zT12}};
    const double desc[2][3] = {{xd, ya + 10, zT12}, {xd, ya + 10, m->sacrum.o[2] - 20}};
    if (add_colon(m, asc, 2, 22 * bs) || add_colon(m, trans, 5, 18 * bs) ||
        add_colon(m, desc, 2, 17 * bs))
        return -1;
    return 0;
}
