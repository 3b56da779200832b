/* lib/measure: Genant's semi-quantitative grade (Genant, JBMR 1993) from the three heights,
 * judged within the vertebra and against its neighbours. Within: shortest against tallest
 * height, so wedges and biconcave bodies show. Against neighbours: a uniformly crushed body
 * keeps its shape and shows only as smaller than the vertebrae above and below. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "measure_internal.h"

/* A body at most this share of its references' height is no reference itself. */
#define SUSPECT_RATIO 0.85

int os_measure_genant_grade(double reduction) {
    if (isnan(reduction)) return -1;
    return reduction < 0.20 ? 0 : reduction <= 0.25 ? 1 : reduction <= 0.40 ? 2 : 3;
}

/* Reduction within the vertebra, and which height is the short one (0 ant, 1 mid, 2 post):
 * the shortest height against the taller edge height, as issue 3 and TotalSegmentator's
 * spine report define it. Healthy endplates are a little concave, so a normal middle height
 * reads a few per cent short; that is far from the 20 % of a grade, and discounting it (an
 * earlier version judged the middle against 95 % of the edges) left biconcave fractures
 * graded one lower near every grade boundary. */
static double within(const os_vertebra_measure *v, int *which) {
    double ha = v->h_ant, hm = v->h_mid, hp = v->h_post;
    if (isnan(ha) || isnan(hm) || isnan(hp)) return NAN;
    double edge = fmax(ha, hp);
    if (!(edge > 0)) return NAN;
    double r_ant = 1 - ha / edge, r_post = 1 - hp / edge, r_mid = 1 - hm / edge;
    *which = r_ant >= r_post ? 0 : 2;
    double r = fmax(r_ant, r_post);
    if (r_mid > r) r = r_mid, *which = 1;
    return r < 0 ? 0 : r;
}

static double tallest(const os_vertebra_measure *v) {
    double h = fmax(v->h_ant, fmax(v->h_post, v->h_mid));
    return isnan(h) ? NAN : h;
}

/* A neighbour's posterior height is the reference: it survives wedge fractures, and a
 * neighbour that is itself fractured or cut by the field of view is no reference at all. */
static int usable_neighbour(const os_anatomy *a, const os_measurements *m, int j, const int *grade_within,
                            const int *fractured) {
    if (j < 0 || j >= m->n_vertebrae || j >= a->n_vertebrae) return 0;
    if (a->vertebrae[j].cut_by_fov || grade_within[j] != 0 || fractured[j]) return 0;
    return isfinite(m->vertebrae[j].h_post) && m->vertebrae[j].h_post > 0;
}

/* Not graded because it is S1; os_measure_genant_grade's -1 means not measurable. */
enum { GRADE_SACRUM = -2 };

/* Grades every vertebra, within and against its neighbours, with the bodies marked in
 * `fractured` left out as references. */
static void grade_all(const os_anatomy *a, os_measurements *m, const int *gw, const int *which,
                      const int *fractured) {
    for (int i = 0; i < m->n_vertebrae; i++) {
        os_vertebra_measure *v = &m->vertebrae[i];
        v->ratio_neighbours = NAN;
        /* vertebrae[] runs cranial → caudal. The reference is the nearest intact body on
         * each side, up to 3 levels away when the next one is itself fractured, and the
         * two are interpolated by level: heights grow caudally by several per cent a
         * level, so comparing with one side alone, or with a far body unweighted, reads
         * that growth as a loss. One side alone is used only when it is adjacent. */
        double href[2] = {NAN, NAN};
        int dist[2] = {0, 0};
        for (int side = 0; side < 2; side++) {
            int d = side ? 1 : -1;
            for (int step = 1; step <= 3; step++) {
                int j = i + d * step;
                if (j < 0 || j >= m->n_vertebrae || j >= a->n_vertebrae) break;
                if (a->vertebrae[i].level >= 0 && a->vertebrae[j].level >= 0 &&
                    abs(a->vertebrae[j].level - a->vertebrae[i].level) != step)
                    break; /* a gap in the labels: not the next vertebrae */
                if (!usable_neighbour(a, m, j, gw, fractured)) continue;
                href[side] = m->vertebrae[j].h_post, dist[side] = step;
                break;
            }
        }
        double ref = NAN;
        if (isfinite(href[0]) && isfinite(href[1]))
            ref = (href[0] * dist[1] + href[1] * dist[0]) / (dist[0] + dist[1]);
        /* A cranial body alone may be up to 3 levels away: heights grow caudally, so its
         * error can only hide a loss, never invent one (L5 with L4 fractured and S1 no
         * reference is judged against L3). A caudal one alone only when adjacent. */
        else if (isfinite(href[0])) ref = href[0];
        else if (isfinite(href[1]) && dist[1] == 1) ref = href[1];
        double t = tallest(v);
        if (isfinite(ref) && isfinite(t)) v->ratio_neighbours = t / ref;
        double rn = isfinite(v->ratio_neighbours) ? 1 - v->ratio_neighbours : NAN;
        int gn = os_measure_genant_grade(rn < 0 ? 0 : rn);
        if (gw[i] < 0) {
            v->genant_grade = -1;
            snprintf(v->genant_basis, sizeof v->genant_basis, gw[i] == GRADE_SACRUM ? "not graded (sacrum)" : "not measurable");
            snprintf(v->deformity, sizeof v->deformity, "none");
            continue;
        }
        v->genant_grade = gn > gw[i] ? gn : gw[i];
        if (v->genant_grade == 0)
            snprintf(v->genant_basis, sizeof v->genant_basis, gn == 0 ? "both" : "within vertebra");
        else if (gn == gw[i])
            snprintf(v->genant_basis, sizeof v->genant_basis, "both");
        else
            snprintf(v->genant_basis, sizeof v->genant_basis, gn > gw[i] ? "against neighbours" : "within vertebra");
        const char *def = "none";
        if (v->genant_grade > 0) {
            if (gw[i] >= gn) def = which[i] == 0 ? "wedge" : which[i] == 1 ? "biconcave" : "crush";
            else def = "crush";
        }
        snprintf(v->deformity, sizeof v->deformity, "%s", def);
    }
}

void mx_genant_all(const os_anatomy *a, os_measurements *m) {
    int gw[OS_MAX_VERTEBRAE], which[OS_MAX_VERTEBRAE], fractured[OS_MAX_VERTEBRAE] = {0};
    for (int i = 0; i < m->n_vertebrae; i++) {
        which[i] = -1;
        gw[i] = os_measure_genant_grade(within(&m->vertebrae[i], &which[i]));
        /* Genant grades vertebral bodies; S1 is fused into the sacrum and wedged by nature,
         * so it is neither graded nor a reference for L5. */
        if (i < a->n_vertebrae && a->vertebrae[i].level == OS_S1) gw[i] = GRADE_SACRUM;
    }
    grade_all(a, m, gw, which, fractured);
    /* A uniformly crushed body keeps its shape, so only the first pass against its
     * neighbours shows it; two crushed neighbours would otherwise each be the other's
     * reference and both pass as normal or mild. The bodies that pass found moderately or
     * severely fractured, or clearly shorter than their references even if not yet by a
     * grade (two adjacent 30 % crushes each read 19 % short against the other), are left
     * out as references, and all are graded again. */
    int again = 0;
    for (int i = 0; i < m->n_vertebrae; i++)
        if ((m->vertebrae[i].genant_grade >= 2 || m->vertebrae[i].ratio_neighbours < SUSPECT_RATIO) && gw[i] == 0)
            fractured[i] = again = 1;
    if (again) grade_all(a, m, gw, which, fractured);
}
