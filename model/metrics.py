"""Survival and detection metrics in numpy, for early stopping, the training log and the model
card. The table itself is computed by `osteoscout evaluate` (lib/eval), which matches R; these
follow the same definitions (docs: ../shared/notes/clinical.md, "Evaluation definitions").
"""
import numpy as np


def harrell_c(time, event, score):
    """Harrell's C. A pair is comparable when the earlier time is an event (an event at t against
    a censoring at t counts; event-event ties in time are excluded); concordant when the earlier
    has the higher score; tied scores count 1/2. NaN when no pair is comparable. As R
    survival::concordance(Surv(time, event) ~ score, reverse = TRUE)."""
    t = np.asarray(time, float)
    e = np.asarray(event, int).astype(bool)
    s = np.asarray(score, float)
    ok = np.isfinite(t) & np.isfinite(s)
    t, e, s = t[ok], e[ok], s[ok]
    num = den = 0.0
    for i in np.nonzero(e)[0]:
        comp = (t > t[i]) | ((t == t[i]) & ~e)
        if not comp.any():
            continue
        sj = s[comp]
        num += np.sum(sj < s[i]) + 0.5 * np.sum(sj == s[i])
        den += sj.size
    return num / den if den > 0 else float("nan")


def auroc(score, label):
    """P(score of a positive > score of a negative), ties 1/2 (Mann-Whitney). NaN without both."""
    s = np.asarray(score, float)
    y = np.asarray(label, float)
    ok = np.isfinite(s) & np.isfinite(y)
    s, y = s[ok], y[ok].astype(int)
    npos, nneg = int(y.sum()), int((1 - y).sum())
    if npos == 0 or nneg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), float)
    ss = s[order]
    i = 0
    while i < len(ss):  # mid-ranks for ties
        j = i
        while j + 1 < len(ss) and ss[j + 1] == ss[i]:
            j += 1
        ranks[order[i:j + 1]] = 0.5 * (i + j) + 1
        i = j + 1
    return (ranks[y == 1].sum() - npos * (npos + 1) / 2) / (npos * nneg)


def km_censoring(time, event):
    """Kaplan-Meier of the censoring distribution G; returns G(t-) as a function."""
    t = np.asarray(time, float)
    c = 1 - np.asarray(event, int)
    ut = np.unique(t)
    g, steps = 1.0, []
    for u in ut:
        at_risk = np.sum(t >= u)
        d_event = np.sum((t == u) & (c == 0))
        d_cens = np.sum((t == u) & (c == 1))
        # events leave the risk set first at a tied time (as survival and prodlim)
        n = at_risk - d_event
        if n > 0 and d_cens > 0:
            g *= 1 - d_cens / n
        steps.append((u, g))
    times = np.array([u for u, _ in steps])
    vals = np.array([v for _, v in steps])

    def before(x):
        k = np.searchsorted(times, x, side="left") - 1
        return 1.0 if k < 0 else float(vals[k])

    return before


def td_auroc(time, event, score, h):
    """Cumulative/dynamic AUROC at horizon h with IPCW: cases T <= h with an event weighted
    1/G(T-), controls T > h (riskRegression::Score, cens.model "km")."""
    t = np.asarray(time, float)
    e = np.asarray(event, int)
    s = np.asarray(score, float)
    G = km_censoring(t, e)
    cases = np.nonzero((t <= h) & (e == 1))[0]
    controls = np.nonzero(t > h)[0]
    if len(cases) == 0 or len(controls) == 0:
        return float("nan")
    sc = s[controls]
    num = den = 0.0
    for i in cases:
        w = 1.0 / max(G(t[i]), 1e-12)
        num += w * (np.sum(sc < s[i]) + 0.5 * np.sum(sc == s[i]))
        den += w * len(sc)
    return num / den


def paper_auroc(time, event, score, k):
    """The paper's k-year AUROC without censoring weights: cases event by k; controls followed
    >= k without an event by k; censored before k dropped. Labelled as such wherever shown."""
    t = np.asarray(time, float)
    e = np.asarray(event, int)
    y = np.where((t <= k) & (e == 1), 1.0, np.where(t >= k, 0.0, np.nan))
    return auroc(score, y)


def summary(time, event, risk_by_year, prevalent=None, prob=None, horizons=(2, 3, 5)):
    """Metrics of one model on one set: risk_by_year [N,K] (cumulative risk by year 1..K)."""
    r = np.asarray(risk_by_year, float)
    K = r.shape[1]
    out = {"n": int(len(time)), "events": int(np.sum(event)),
           "harrell_c": harrell_c(time, event, r[:, K - 1])}
    for h in horizons:
        if h <= K:
            out["td_auroc_%dy" % h] = td_auroc(time, event, r[:, h - 1], h)
    if prevalent is not None and prob is not None:
        out["detection_auroc"] = auroc(prob, prevalent)
    return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in out.items()}
