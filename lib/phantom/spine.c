/* The spine: a lordotic centre curve, one rigid frame per vertebra (T8 … L5) laid along it,
 * analytic vertebral bodies whose endplates are functions of the AP position u, posterior
 * elements, discs, the spinal canal and the sacrum. Truth heights come from the same
 * endplate functions the painter uses, so they are exact for the rendered bodies. */
#include <math.h>
#include <string.h>

#include "model.h"

#define T_CORT 1.2   /* cortical shell and endplate thickness, mm */

static const double H0[PH_NV] = {19, 19.5, 20, 21.5, 23, 24.5, 25.5, 26, 26.5, 27};
static const double D0[PH_NV] = {27, 27.5, 28, 29, 30, 31, 32.5, 33.5, 34.5, 35};
static const double W0[PH_NV] = {34, 36, 38, 40, 42, 44, 46, 48, 49, 50};
static const double DISC0[PH_NV] = {6, 6.5, 7.5, 8, 8.5, 9, 10, 10.5, 11, 10};
/* Lumbar lordosis T12 top → S1, radians, and where along it the curve is most anterior. */
#define LORDOSIS 0.45
#define APEX 0.45
/* The S1 endplate is tilted further than the curve so L5/S1 is the wedged disc it is. */
#define SACRAL_EXTRA_TILT 0.22

static double sq(double x) { return x * x; }
static double clampd(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }
static double mind(double a, double b) { return a < b ? a : b; }
static double maxd(double a, double b) { return a > b ? a : b; }

void ph_span(double lo, double hi, double first, double d, int n, int *i0, int *i1) {
    double a = ceil((lo - first) / d), b = floor((hi - first) / d);
    *i0 = a < 0 ? 0 : a > n ? n : (int)a;
    *i1 = b > n - 1 ? n - 1 : b < -1 ? -1 : (int)b;
}

void ph_local(const double o[3], const double ax[3], const double ap[3], const double q[3],
              double *a, double *l, double *h) {
    double d[3] = {q[0] - o[0], q[1] - o[1], q[2] - o[2]};
    *l = d[0]; /* frames only tilt in the sagittal plane: lateral is patient left */
    *h = d[0] * ax[0] + d[1] * ax[1] + d[2] * ax[2];
    *a = d[0] * ap[0] + d[1] * ap[1] + d[2] * ap[2];
}

/* ---- endplates ------------------------------------------------------------------ */

static double intact(const ph_vertebra *v, double u) {
    return v->H - 2 * v->cv * 4 * u * (1 - u);
}

/* Height lost at u. Wedge hinges at the posterior measuring point and biconcave leaves the
 * anterior and posterior measuring points intact, so the measured ratios equal 1 − loss. */
static double reduction(const ph_vertebra *v, double u) {
    double f = v->loss, r = 0;
    switch (v->deformity) {
    case OS_PHANTOM_WEDGE: r = f * intact(v, 0.85) * maxd(0, (u - 0.15) / 0.70); break;
    case OS_PHANTOM_BICONCAVE: r = f * intact(v, 0.5) * maxd(0, 1 - sq((u - 0.5) / 0.35)); break;
    case OS_PHANTOM_CRUSH: r = f * intact(v, u); break;
    default: break;
    }
    return mind(r, intact(v, u) - 1.5);
}

double ph_endplate_sup(const ph_vertebra *v, double u) {
    u = clampd(u, 0, 1);
    return v->H / 2 - v->cv * 4 * u * (1 - u) - 0.65 * reduction(v, u);
}

double ph_endplate_inf(const ph_vertebra *v, double u) {
    u = clampd(u, 0, 1);
    return -v->H / 2 + v->cv * 4 * u * (1 - u) + 0.35 * reduction(v, u);
}

void ph_vertebra_center(const ph_vertebra *v, double c[3]) {
    double hm = (ph_endplate_sup(v, 0.5) + ph_endplate_inf(v, 0.5)) / 2;
    for (int i = 0; i < 3; i++) c[i] = v->o[i] + hm * v->ax[i];
}

/* ---- the curve ------------------------------------------------------------------ */

static double phi_at(const ph_model *m, double s) {
    return m->k * (clampd(s, 0, m->s_top) - m->s_a);
}

static void curve_point(const ph_model *m, double s, double *y, double *z) {
    double sc = clampd(s, 0, m->s_top), p0 = -m->k * m->s_a, pc = m->k * (sc - m->s_a);
    *y = m->curve_y0 + (cos(p0) - cos(pc)) / m->k;
    *z = m->curve_z0 + (sin(pc) - sin(p0)) / m->k;
    if (s > m->s_top) {
        *y += (s - m->s_top) * sin(pc);
        *z += (s - m->s_top) * cos(pc);
    } else if (s < 0) {
        *y += s * sin(p0);
        *z += s * cos(p0);
    }
}

void ph_curve_at_z(const ph_model *m, double z, double *y, double *phi) {
    double lo = -800, hi = m->s_top + 800;
    for (int i = 0; i < 50; i++) {
        double mid = (lo + hi) / 2, yy, zz;
        curve_point(m, mid, &yy, &zz);
        if (zz < z) lo = mid;
        else hi = mid;
    }
    double zz;
    curve_point(m, lo, y, &zz);
    *phi = phi_at(m, lo);
}

static void set_frame(double phi, double ax[3], double ap[3]) {
    ax[0] = 0, ax[1] = sin(phi), ax[2] = cos(phi);
    ap[0] = 0, ap[1] = -cos(phi), ap[2] = sin(phi);
}

static void frame_box(const double o[3], const double ax[3], const double ap[3], double a0,
                      double a1, double l0, double l1, double h0, double h1, double bb[6]) {
    bb[0] = bb[2] = bb[4] = 1e9;
    bb[1] = bb[3] = bb[5] = -1e9;
    for (int c = 0; c < 8; c++) {
        double a = c & 1 ? a1 : a0, l = c & 2 ? l1 : l0, h = c & 4 ? h1 : h0;
        double p[3] = {o[0] + l, o[1] + a * ap[1] + h * ax[1], o[2] + a * ap[2] + h * ax[2]};
        for (int i = 0; i < 3; i++) {
            bb[2 * i] = mind(bb[2 * i], p[i]);
            bb[2 * i + 1] = maxd(bb[2 * i + 1], p[i]);
        }
    }
}

static double default_trab(int vi) {
    static const double t[PH_NV] = {215, 212, 210, 205, 200, 195, 190, 186, 183, 180};
    return t[vi];
}

/* Where a body's endplates stand for stacking the column: its middle height, fractured or
 * not, except that a biconcave body stacks at its intact middle height. Its rim keeps its
 * height and the disc nucleus fills the cavity, so its neighbours do not move in; stacked at
 * the caved-in middle, a severe one's rim would run into the next body. */
static double stack_sup(const ph_vertebra *v) {
    return v->deformity == OS_PHANTOM_BICONCAVE ? v->H / 2 - v->cv : ph_endplate_sup(v, 0.5);
}

static double stack_inf(const ph_vertebra *v) {
    return v->deformity == OS_PHANTOM_BICONCAVE ? -v->H / 2 + v->cv : ph_endplate_inf(v, 0.5);
}

/* Lays T8 … L5 from the S1 endplate upwards along the arc, each body at its fractured
 * middle height (a biconcave one at its intact height: stack_sup) so discs keep their
 * thickness, then bends the arc into the lordosis. The L3 body centre lands at
 * y = 45 mm × scale, z = 0 at the S1 endplate centre. */
void ph_spine_layout(ph_model *m) {
    double bs = m->bone_scale, s_org[PH_NV];
    for (int i = 0; i < PH_NV; i++) {
        ph_vertebra *v = &m->v[i];
        memset(v, 0, sizeof *v);
        v->level = i - PH_V_T10;
        v->H = H0[i] * bs, v->D = D0[i] * bs, v->W = W0[i] * bs;
        v->cv = 0.6;
        v->trab_hu = default_trab(i);
        m->disc_h[i] = DISC0[i] * bs;
        if (v->level >= 0) {
            if (m->o.trab_hu[v->level] > 0) v->trab_hu = m->o.trab_hu[v->level];
            v->deformity = m->o.deformity[v->level];
            v->loss = v->deformity ? clampd(m->o.height_loss[v->level], 0, 0.8) : 0;
        }
        int lumbar = v->level >= 3;
        v->canal_ra = (lumbar ? 8.5 : 7.5) * bs;
        v->canal_rl = (lumbar ? 10 + 0.5 * (v->level - 3) : 8.5) * bs;
        v->canal_a = -v->D / 2 - 1 - v->canal_ra;
        v->arch_t = (lumbar ? 6.5 : 5.5) * bs;
        v->sp_len = (lumbar ? 30 : 28) * bs;
        v->sp_w = (lumbar ? 4 : 3.2) * bs;
        v->sp_slope = lumbar ? 0.1 : v->level == 2 ? 0.35 : v->level == 1 ? 0.6 : 0.9;
        static const double tp[PH_NV] = {27, 26, 25, 22, 16, 10, 18, 25, 20, 18};
        v->tp_tip = v->W / 2 + tp[i] * bs;
    }
    double s = m->disc_h[PH_NV - 1];
    for (int i = PH_NV - 1; i >= 0; i--) {
        ph_vertebra *v = &m->v[i];
        s_org[i] = s - stack_inf(v);
        s = s_org[i] + stack_sup(v);
        if (i == PH_V_T10 + 2) m->s_top = s; /* top of T12 */
        if (i > 0) s += m->disc_h[i - 1];
    }
    m->k = LORDOSIS / m->s_top;
    m->s_a = APEX * m->s_top;
    m->curve_y0 = m->curve_z0 = 0;
    double y3, z3;
    curve_point(m, s_org[PH_V_T10 + 5], &y3, &z3);
    m->curve_y0 = 45 * bs - y3;
    for (int i = 0; i < PH_NV; i++) {
        ph_vertebra *v = &m->v[i];
        curve_point(m, s_org[i], &v->o[1], &v->o[2]);
        set_frame(phi_at(m, s_org[i]), v->ax, v->ap);
        double a0 = v->canal_a - v->canal_ra - v->arch_t - v->sp_len - 1;
        double lx = maxd(v->tp_tip, v->W / 2) + 1;
        double h0 = -v->H / 2 - 4 - v->sp_slope * v->sp_len - 0.3 * v->H;
        frame_box(v->o, v->ax, v->ap, a0, v->D / 2 + 1, -lx, lx, h0, v->H / 2 + 1, v->bb);
    }
    ph_frame *f = &m->sacrum;
    memset(f, 0, sizeof *f);
    curve_point(m, 0, &f->o[1], &f->o[2]);
    set_frame(phi_at(m, 0) - SACRAL_EXTRA_TILT, f->ax, f->ap);
    m->sac_W = m->v[PH_NV - 1].W;
    m->sac_D = m->v[PH_NV - 1].D * 0.95;
    m->sac_len = 100 * bs;
}

/* ---- classification in a vertebra's frame ------------------------------------- */

/* Distance-to-boundary estimate (1 − F)/|∇F| for an ellipse F = (x/rx)² + (y/ry)². */
static double ell_depth(double x, double y, double rx, double ry) {
    double F = sq(x / rx) + sq(y / ry);
    double g = 2 * sqrt(sq(x / (rx * rx)) + sq(y / (ry * ry)));
    return g > 1e-9 ? (1 - F) / g : mind(rx, ry);
}

static int body_label(const ph_vertebra *v, int vi, double a, double l, double h) {
    double hw = v->W / 2, c = 0.1 * v->D, ae = -c / 2, ra = (v->D + c) / 2;
    double ex = l / hw, ey = (a - ae) / ra;
    if (ex * ex + ey * ey > 1) return 0;
    double apost = -v->D / 2 - c * ex * ex; /* concave posterior wall */
    if (a < apost) return 0;
    double u = (a + v->D / 2) / v->D, hs = ph_endplate_sup(v, u), hi = ph_endplate_inf(v, u);
    if (h > hs || h < hi) return 0;
    /* basivertebral vein: enters through the middle of the posterior wall */
    if (sq((a + v->D / 2 - 2.5) / 4) + sq(l / 1.3) + sq((h - (hs + hi) / 2) / 2.5) <= 1)
        return L_VEIN;
    double d = mind(ell_depth(l, a - ae, hw, ra), a - apost);
    d = mind(d, mind(hs - h, h - hi));
    return d < T_CORT ? L_CORTICAL : L_TRAB_V0 + vi;
}

/* Pedicles and laminae (a ring round the canal), spinous and transverse processes; returns
 * the deepest inside-depth over the parts that hold the point, or -1. */
static double posterior_depth(const ph_vertebra *v, double a, double l, double h) {
    double best = -1, ca = v->canal_a, ra = v->canal_ra, rl = v->canal_rl, t = v->arch_t;
    double al = fabs(l), ped_h = 0.5 * v->H, ped_top = v->H / 2 - 1.5;
    double Fo = sq((a - ca) / (ra + t)) + sq(l / (rl + t)), Fi = sq((a - ca) / ra) + sq(l / rl);
    if (Fo <= 1 && Fi > 1 && (a <= ca || al >= 0.55 * rl)) {
        double lo = a > ca ? ped_top - ped_h : -v->H / 2 - 3, hi = a > ca ? ped_top : v->H / 2 - 4;
        if (h >= lo && h <= hi) {
            double d = mind(ell_depth(l, a - ca, rl + t, ra + t), -ell_depth(l, a - ca, rl, ra));
            best = maxd(best, mind(d, mind(h - lo, hi - h)));
        }
    }
    double a_back = ca - ra - t + 1.5, a_tip = a_back - v->sp_len;
    if (a <= a_back + 2 && a >= a_tip && al <= v->sp_w) {
        double x = (a_back - a) / v->sp_len, hc = -v->sp_slope * (a_back - a) - 0.1 * v->H;
        double hs = (v->level >= 3 ? 0.3 * v->H : 6) * (1 - 0.4 * x);
        if (fabs(h - hc) <= hs)
            best = maxd(best, mind(mind(v->sp_w - al, hs - fabs(h - hc)), a - a_tip));
    }
    if (al >= rl && al <= v->tp_tip) {
        double tilt = v->level >= 3 ? 0.1 : 0.45;
        double atp = ca - tilt * (al - rl), hc = ped_top - ped_h / 2, hs = v->level >= 3 ? 5 : 6;
        if (fabs(a - atp) <= 3.5 && fabs(h - hc) <= hs)
            best = maxd(best, mind(mind(3.5 - fabs(a - atp), hs - fabs(h - hc)), v->tp_tip - al));
    }
    return best;
}

static int vertebra_label(const ph_vertebra *v, int vi, const double q[3]) {
    double a, l, h;
    ph_local(v->o, v->ax, v->ap, q, &a, &l, &h);
    int lab = body_label(v, vi, a, l, h);
    if (lab || a > -v->D / 2 + 1) return lab;
    double d = posterior_depth(v, a, l, h);
    return d < 0 ? 0 : d < T_CORT ? L_CORTICAL : L_TRAB_OTHER;
}

/* Inside the (slightly bulging) cross-section of a body, at its AP position u. */
static int in_section(const ph_vertebra *v, double a, double l, double grow, double *u) {
    double hw = v->W / 2 + grow, c = 0.1 * v->D, ae = -c / 2, ra = (v->D + c) / 2 + grow;
    double ex = l / hw;
    if (ex * ex + sq((a - ae) / ra) > 1 || a < -v->D / 2 - grow - c * ex * ex) return 0;
    *u = (a + v->D / 2) / v->D;
    return 1;
}

static int disc_label(const ph_model *m, int j, const double q[3]) {
    const ph_vertebra *up = &m->v[j];
    double a, l, h, u;
    ph_local(up->o, up->ax, up->ap, q, &a, &l, &h);
    if (h > up->H / 2 || h < -up->H / 2 - 30) return 0;
    if (!in_section(up, a, l, 1.0, &u) || h > ph_endplate_inf(up, u) + 0.5) return 0;
    if (j == PH_NV - 1) {
        const ph_frame *f = &m->sacrum;
        ph_local(f->o, f->ax, f->ap, q, &a, &l, &h);
        return h >= -0.5 ? L_DISC : 0;
    }
    const ph_vertebra *lo = &m->v[j + 1];
    ph_local(lo->o, lo->ax, lo->ap, q, &a, &l, &h);
    return h >= ph_endplate_sup(lo, (a + lo->D / 2) / lo->D) - 0.5 ? L_DISC : 0;
}

/* The sacrum in its own frame (h ≤ 0 below the S1 endplate): a tapering plate with alae,
 * S1 body on top, sacral canal behind. */
static int sacrum_label(const ph_model *m, const double q[3]) {
    const ph_frame *f = &m->sacrum;
    double a, l, h;
    ph_local(f->o, f->ax, f->ap, q, &a, &l, &h);
    if (h > 0 || h < -m->sac_len) return 0;
    double t = -h / m->sac_len, W = m->sac_W, D = m->sac_D, al = fabs(l);
    double w = (W / 2 + 27 * m->bone_scale) * (1 - 0.7 * t);
    double a_ant = D / 2 * (1 - 0.5 * t), a_post = -D / 2 - 20 * m->bone_scale * (1 - 0.5 * t);
    if (al > W / 2) a_ant -= 0.5 * (al - W / 2);
    double am = (a_ant + a_post) / 2, d = (a_ant - a_post) / 2;
    if (d <= 1 || al > w) return 0;
    double x = l / w, y = (a - am) / d, F = x * x * x * x + y * y * y * y;
    if (F > 1) return 0;
    double cn = -D / 2 - 8 * (1 - 0.4 * t);
    if (sq((a - cn) / (5 * (1 - 0.5 * t))) + sq(l / (11 * (1 - 0.5 * t))) <= 1) return L_CSF;
    double g = 4 * sqrt(sq(x * x * x / w) + sq(y * y * y / d));
    double dep = g > 1e-9 ? (1 - F) / g : d;
    dep = mind(dep, mind(-h, h + m->sac_len));
    return dep < T_CORT ? L_CORTICAL : L_TRAB_OTHER;
}

/* ---- painting ------------------------------------------------------------------- */

typedef int (*point_fn)(const ph_model *m, int idx, const double q[3]);

static int vert_fn(const ph_model *m, int i, const double q[3]) {
    return vertebra_label(&m->v[i], i, q);
}
static int disc_fn(const ph_model *m, int j, const double q[3]) { return disc_label(m, j, q); }
static int sacrum_fn(const ph_model *m, int i, const double q[3]) {
    (void)i;
    return sacrum_label(m, q);
}

static void paint_box(ph_plane *p, const double bb[6], point_fn fn, int idx) {
    if (p->z < bb[4] || p->z > bb[5]) return;
    int i0, i1, j0, j1;
    ph_span(bb[0], bb[1], p->x0, p->d, p->nx, &i0, &i1);
    ph_span(bb[2], bb[3], p->y0, p->d, p->ny, &j0, &j1);
    double q[3] = {0, 0, p->z};
    for (int j = j0; j <= j1; j++) {
        q[1] = p->y0 + j * p->d;
        uint8_t *row = p->lab + (size_t)j * p->nx;
        for (int i = i0; i <= i1; i++) {
            q[0] = p->x0 + i * p->d;
            int lab = fn(p->m, idx, q);
            if (lab) row[i] = (uint8_t)lab;
        }
    }
}

/* The canal is a tube behind the bodies following the curve; in an axial plane it is an
 * ellipse stretched by the tilt. */
static void paint_canal(ph_plane *p) {
    const ph_model *m = p->m;
    if (p->z < m->curve_z0 - 10) return;
    double c = cos(p->spine_phi), cy = p->canal_y;
    double rl = p->body_W > 45 ? 10.5 * m->bone_scale : 8.5 * m->bone_scale;
    double ra = (p->body_W > 42 ? 8.5 : 7.5) * m->bone_scale / c;
    int i0, i1, j0, j1;
    ph_span(-rl, rl, p->x0, p->d, p->nx, &i0, &i1);
    ph_span(cy - ra, cy + ra, p->y0, p->d, p->ny, &j0, &j1);
    for (int j = j0; j <= j1; j++) {
        double y = p->y0 + j * p->d;
        for (int i = i0; i <= i1; i++) {
            double x = p->x0 + i * p->d;
            if (sq(x / rl) + sq((y - cy) / ra) <= 1) p->lab[(size_t)j * p->nx + i] = L_CSF;
        }
    }
}

void ph_paint_spine(ph_plane *p) {
    const ph_model *m = p->m;
    paint_canal(p);
    for (int j = 0; j < PH_NV; j++) {
        const ph_vertebra *up = &m->v[j];
        double bb[6];
        memcpy(bb, up->bb, sizeof bb);
        bb[5] = up->o[2];
        bb[4] = (j + 1 < PH_NV ? m->v[j + 1].o[2] : m->sacrum.o[2]) - 10;
        bb[2] = up->o[1] - up->D / 2 - 25;
        bb[3] = up->o[1] + up->D / 2 + 25;
        bb[0] = -up->W / 2 - 3, bb[1] = up->W / 2 + 3;
        paint_box(p, bb, disc_fn, j);
    }
    const ph_frame *f = &m->sacrum;
    double sb[6], W = m->sac_W;
    frame_box(f->o, f->ax, f->ap, -m->sac_D / 2 - 25 * m->bone_scale, m->sac_D / 2 + 1,
              -(W / 2 + 28 * m->bone_scale), W / 2 + 28 * m->bone_scale, -m->sac_len, 0, sb);
    paint_box(p, sb, sacrum_fn, 0);
    for (int i = 0; i < PH_NV; i++) paint_box(p, m->v[i].bb, vert_fn, i);
}
