/* Bones outside the vertebral column proper: ribs on the thoracic vertebrae (curved tubes
 * from the transverse processes round the body wall, T11/T12 floating), the iliac wings with
 * the gluteal and iliacus muscles beside them, and the generic tube painter that ribs and
 * colon share. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

static double sq(double x) { return x * x; }
static double clampd(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }

static int is_cavity(int lab) {
    return lab == L_VAT || lab == L_BOWEL_WALL || lab == L_BOWEL_FLUID || lab == L_GAS ||
           lab == L_FECES;
}

/* A tube is painted as the union of spheres on its centre line, so a tube that runs
 * obliquely through the plane shows the elongated section it should. */
void ph_paint_tube(ph_plane *p, const ph_tube *t) {
    if (p->z < t->bb[4] - t->r || p->z > t->bb[5] + t->r) return;
    double r = t->r, ri = r - t->wall;
    for (int k = 0; k < t->n; k++) {
        double dz = p->z - t->p[k][2];
        if (fabs(dz) >= r) continue;
        double rr = sqrt(r * r - dz * dz), cx = t->p[k][0], cy = t->p[k][1];
        int i0, i1, j0, j1;
        ph_span(cx - rr, cx + rr, p->x0, p->d, p->nx, &i0, &i1);
        ph_span(cy - rr, cy + rr, p->y0, p->d, p->ny, &j0, &j1);
        for (int j = j0; j <= j1; j++) {
            double y = p->y0 + j * p->d;
            uint8_t *row = p->lab + (size_t)j * p->nx;
            for (int i = i0; i <= i1; i++) {
                double x = p->x0 + i * p->d, d2 = sq(x - cx) + sq(y - cy) + dz * dz;
                if (d2 >= r * r) continue;
                int cur = row[i];
                if (t->gas_top && !is_cavity(cur)) continue;
                if (d2 < ri * ri) {
                    row[i] = (uint8_t)(t->gas_top && y < cy - 0.25 * r ? L_GAS : t->inner);
                } else if (cur != t->inner && cur != L_GAS && t->shell) {
                    row[i] = (uint8_t)t->shell;
                }
            }
        }
    }
}

void ph_tube_bounds(ph_tube *t) {
    t->bb[0] = t->bb[2] = t->bb[4] = 1e9;
    t->bb[1] = t->bb[3] = t->bb[5] = -1e9;
    for (int k = 0; k < t->n; k++)
        for (int i = 0; i < 3; i++) {
            if (t->p[k][i] < t->bb[2 * i]) t->bb[2 * i] = t->p[k][i];
            if (t->p[k][i] > t->bb[2 * i + 1]) t->bb[2 * i + 1] = t->p[k][i];
        }
}

static void to_global(const ph_vertebra *v, double a, double l, double h, double q[3]) {
    q[0] = v->o[0] + l;
    q[1] = v->o[1] + a * v->ap[1] + h * v->ax[1];
    q[2] = v->o[2] + a * v->ap[2] + h * v->ax[2];
}

/* One rib pair per thoracic vertebra: head against the body's side, neck to the transverse
 * process tip, shaft on to the angle and round an oval just inside the fascia, dropping as it
 * goes forward; one continuous bone, as a real rib is. */
int ph_ribs_build(ph_model *m) {
    static const double reach[5] = {2.45, 2.35, 2.2, 1.7, 1.15}; /* T8 … T12, radians */
    static const double drop[5] = {45, 45, 42, 30, 18};
    for (int vi = 0; vi < 5; vi++) {
        const ph_vertebra *v = &m->v[vi];
        double hc = v->H / 2 - 1.5 - 0.25 * v->H;
        ph_plane pl;
        memset(&pl, 0, sizeof pl);
        pl.m = m;
        pl.z = v->o[2];
        ph_plane_setup(&pl);
        for (int side = -1; side <= 1; side += 2) {
            if (m->n_tubes >= (int)(sizeof m->tubes / sizeof m->tubes[0])) return 0;
            ph_tube *t = &m->tubes[m->n_tubes];
            memset(t, 0, sizeof *t);
            t->p = malloc(600 * sizeof *t->p);
            if (!t->p) return -1;
            m->n_tubes++;
            t->r = 4.5 * m->bone_scale;
            t->wall = 1.3;
            t->inner = L_TRAB_OTHER;
            t->shell = L_CORTICAL;
            double a0[3], a1[3];
            to_global(v, v->canal_a + v->canal_ra, side * (v->W / 2 + 1), hc, a0);
            double atp = v->canal_a - 0.45 * (v->tp_tip - v->canal_rl);
            to_global(v, atp - 2, side * (v->tp_tip + 2), hc, a1);
            for (int k = 0; k <= 12; k++) {
                double f = k / 12.0;
                for (int i = 0; i < 3; i++) t->p[t->n][i] = a0[i] + f * (a1[i] - a0[i]);
                t->n++;
            }
            double rx = pl.fx - 7, cy = pl.f_cy, rp = pl.f_back - 9 - cy, ra = cy - pl.f_front - 9;
            double psi0 = asin(clampd((fabs(a1[0]) + 12) / rx, 0, 1)), psi1 = reach[vi];
            /* The shaft runs on from the tubercle to the rib's angle without a break: a real
             * rib is one bone from head to tip, so the centre line is bridged from the
             * transverse process tip to where the oval starts, in steps under 1 mm. */
            double b1[3] = {side * rx * sin(psi0), cy + (cos(psi0) > 0 ? rp : ra) * cos(psi0), a1[2]};
            double gap = sqrt(sq(b1[0] - a1[0]) + sq(b1[1] - a1[1]));
            int nb = (int)ceil(gap / 0.8);
            for (int k = 1; k < nb && t->n < 600; k++) {
                double f = k / (double)nb;
                for (int i = 0; i < 3; i++) t->p[t->n][i] = a1[i] + f * (b1[i] - a1[i]);
                t->n++;
            }
            int steps = 500;
            for (int k = 0; k <= steps && t->n < 600; k++) {
                double f = k / (double)steps, psi = psi0 + f * (psi1 - psi0);
                double ry = cos(psi) > 0 ? rp : ra;
                double x = side * rx * sin(psi), y = cy + ry * cos(psi);
                if (k % 2) continue; /* about 1.2 mm apart along the rib */
                t->p[t->n][0] = x;
                t->p[t->n][1] = y;
                t->p[t->n][2] = a1[2] - drop[vi] * m->bone_scale * pow(f, 1.2);
                t->n++;
            }
            ph_tube_bounds(t);
        }
        m->rib_of[vi] = 1;
    }
    return 0;
}

/* Iliac wings: an oval band round the pelvis from the sacroiliac joints to the anterior
 * superior spines, topped by a crest that peaks at L4. */
void ph_paint_pelvis(ph_plane *p) {
    const ph_model *m = p->m;
    double bs = m->bone_scale, z = p->z, zc = m->v[PH_NV - 2].o[2];
    if (z > zc + 1) return;
    double zs = m->sacrum.o[2], ys = m->sacrum.o[1];
    double wide = m->sex == 'F' ? 1.06 : 1.0, dz = fmax(0, zs - 40 - z);
    double Rx = 112 * bs * wide * fmax(0.55, 1 - 0.004 * dz), Ry = 62 * bs;
    double yc = ys - 32 * bs;
    double sac_half = (m->sac_W / 2 + 27 * bs) + 2;
    double pmin = asin(clampd(sac_half / Rx, 0, 0.99)), pmax = 2.05 - 0.006 * dz;
    if (pmax <= pmin + 0.1) return;
    double pmid = (pmin + pmax) / 2, phalf = (pmax - pmin) / 2;
    double glute = 22 * bs, iliac = 15 * bs, reach = glute + 12;
    int i0, i1, j0, j1;
    ph_span(-Rx - reach, Rx + reach, p->x0, p->d, p->nx, &i0, &i1);
    ph_span(yc - Ry - reach, yc + Ry + reach, p->y0, p->d, p->ny, &j0, &j1);
    for (int j = j0; j <= j1; j++) {
        double y = p->y0 + j * p->d, cy = (y - yc) / Ry;
        uint8_t *row = p->lab + (size_t)j * p->nx;
        for (int i = i0; i <= i1; i++) {
            double ax = fabs(p->x0 + i * p->d), cx = ax / Rx;
            double psi = atan2(cx, cy);
            if (psi < pmin || psi > pmax) continue;
            double crest = zc - 28 * bs * sq((psi - pmid) / phalf);
            if (z > crest) continue;
            double rho = sqrt(cx * cx + cy * cy);
            double Rm = sqrt(sq(Rx * sin(psi)) + sq(Ry * cos(psi))), d = (rho - 1) * Rm;
            double tk = (7 + 9 * exp(-(psi - pmin) / 0.25) + 4 * exp(-(crest - z) / 6)) * bs;
            if (fabs(d) <= tk / 2) {
                double dep = fmin(tk / 2 - fabs(d), crest - z);
                dep = fmin(dep, fmin(psi - pmin, pmax - psi) * Rm);
                row[i] = dep < 1.5 ? L_CORTICAL : L_TRAB_OTHER;
            } else if (d > tk / 2 && d < tk / 2 + glute && z < crest - 3) {
                row[i] = L_MUSCLE_OTHER;
            } else if (d < -tk / 2 && d > -tk / 2 - iliac && psi > pmin + 0.35 && z < crest - 5) {
                row[i] = L_MUSCLE_OTHER;
            }
        }
    }
}
