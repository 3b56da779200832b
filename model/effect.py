#!/usr/bin/python3
"""Does what the pipeline measures carry the muscle effect the generator put in? Nested Cox
models on a whole cohort (SYNTHETIC labels from model/cohort.py, measurements from
`osteoscout analyze --csv`):

    base: age, sex, measured prevalent fracture (Genant grade >= 1 at T12-L4), measured L1 HU
    full: base + measured L3 muscle attenuation (HU) + L3 skeletal muscle index (cm2/m2)

and the likelihood-ratio test of full against base (2 degrees of freedom). The same test on the
generator's own latent variables (true L1 HU, muscle shift and scale) is printed beside it: the
effect that exists, against the effect the measurements recover. Hazard ratios are per standard
deviation of each covariate with Wald 95 % CIs. The networks' own comparison (bone + muscle
against bone only) is in the table; this test has the power of the whole cohort.

With --scores, the same question is put to the networks: on a cohort's scores (model/scores.py),
does one model's 5-year risk add to another's (nested Cox on each risk's complementary log-log,
the proportional-hazards scale), and the other way round? A network that learnt something from
muscle adds to the bone-only one; the bone-only one adds little to it.

    model/effect.py --labels LABELS.csv --analyze ANALYZE.csv [...] [--name NAME] [--json OUT]
    model/effect.py --scores SCORES.csv --pair A B [--pair ...] [--name NAME] [--json OUT]
"""
import argparse
import json
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import contract  # noqa: E402
from cox import Cox  # noqa: E402

MODEL_LEVELS = ("T12", "L1", "L2", "L3", "L4")


def measured_prevalent(fractures):
    """1 when `analyze` graded any of T12-L4 >= 1 ("L1:2 L3:1"), else 0."""
    for item in (fractures or "").split():
        level, _, grade = item.partition(":")
        if level in MODEL_LEVELS and grade.isdigit() and int(grade) >= 1:
            return 1.0
    return 0.0


def covariates(lab, an, source):
    """(base, muscle) covariate lists of one study, or None when one is missing."""
    age = contract.num(lab.get("age"))
    female = 1.0 if lab.get("sex") == "F" else 0.0
    if source == "measured":
        prev = measured_prevalent(an.get("fractures"))
        bone = contract.num(an.get("l1_hu_mean"))
        mus = [contract.num(an.get("l3_muscle_mean_hu")), contract.num(an.get("l3_muscle_index_cm2_m2"))]
    else:  # the generator's latents
        prev = float(lab.get("prevalent_vf") or 0)
        bone = contract.num(lab.get("trab_hu_L1"))
        scale = contract.num(lab.get("muscle_scale"))
        mus = [contract.num(lab.get("muscle_hu_shift")), math.log(scale) if scale and scale > 0 else None]
    base = [age, female, prev, bone]
    if any(v is None or not math.isfinite(v) for v in base + mus):
        return None
    return base, mus


def wald(cox, X, t, e):
    """Standard errors of the standardised coefficients from the observed information."""
    Xs = (X - cox.mean_) / cox.sd_
    _, hess = cox._grad_hess(Xs, t, e, cox.beta_std_)
    return np.sqrt(np.diag(np.linalg.inv(hess)))


def chi2_sf(x, df):
    """Survival of the chi-square distribution for 1 or 2 degrees of freedom."""
    return math.erfc(math.sqrt(x / 2)) if df == 1 else math.exp(-x / 2)


def lr_test(Xb, Xa, t, e, names):
    """Likelihood-ratio test of the Cox model on [Xb, Xa] against the one on Xb."""
    Xf = np.hstack([Xb, Xa])
    t, e = np.array(t, float), np.array(e, int)
    fb = Cox().fit(Xb, t, e)
    ff = Cox().fit(Xf, t, e)
    lr = max(2.0 * (ff.loglik_ - fb.loglik_), 0.0)
    df = Xa.shape[1]
    se = wald(ff, Xf, t, e)
    hr = {n: {"hr_per_sd": math.exp(b), "ci95": [math.exp(b - 1.96 * s), math.exp(b + 1.96 * s)]}
          for n, b, s in zip(names, ff.beta_std_, se)}
    return {"n": int(len(t)), "events": int(e.sum()), "lr_chi2": lr, "df": df, "p": chi2_sf(lr, df),
            "hazard_ratios_full": hr}


def nested_test(rows, source):
    base, mus, t, e = [], [], [], []
    for lab, an in rows:
        c = covariates(lab, an, source)
        if c is None:
            continue
        base.append(c[0])
        mus.append(c[1])
        t.append(float(lab["time_years"]))
        e.append(int(lab["event"]))
    return lr_test(np.array(base, float), np.array(mus, float), t, e,
                   ["age", "female", "prevalent_vf", "l1_hu", "muscle_hu", "muscle_size"])


def cloglog(risk):
    r = contract.num(risk)
    return math.log(-math.log(1 - r)) if r is not None and 0 < r < 1 else None


def network_tests(path, a, b):
    """Does model a's 5-year risk add to model b's, and b's to a's?"""
    xa, xb, t, e = [], [], [], []
    for r in contract.read_csv(path):
        va, vb = cloglog(r.get(a + "_risk_5y")), cloglog(r.get(b + "_risk_5y"))
        if va is None or vb is None:
            continue
        xa.append([va])
        xb.append([vb])
        t.append(float(r["time_years"]))
        e.append(int(r["event"]))
    Xa, Xb = np.array(xa, float), np.array(xb, float)
    return {"%s beyond %s" % (a, b): lr_test(Xb, Xa, t, e, [b, a]),
            "%s beyond %s" % (b, a): lr_test(Xa, Xb, t, e, [a, b])}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--labels")
    ap.add_argument("--analyze", nargs="+", action="extend", default=[])
    ap.add_argument("--scores", help="a cohort's scores CSV (model/scores.py): test the networks")
    ap.add_argument("--pair", nargs=2, action="append", default=[], metavar=("A", "B"),
                    help="with --scores: does A's risk add to B's, and B's to A's")
    ap.add_argument("--name", default="cohort")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    if args.scores:
        out = {"cohort": args.name, "synthetic": True, "networks": {}}
        for a, b in args.pair:
            for what, r in network_tests(args.scores, a, b).items():
                out["networks"][what] = r
                print("%s: %s (5-year risk, nested Cox): n = %d, events %d; LR chi2 = %.2f (1 df), p = %.2g"
                      % (args.name, what, r["n"], r["events"], r["lr_chi2"], r["p"]))
    elif args.labels:
        measured = {}
        for path in args.analyze:
            for r in contract.read_csv(path):
                if r.get("status") == "ok":
                    measured[r["study_uid"]] = r
        rows = [(lab, measured[lab["study_instance_uid"]]) for lab in contract.read_csv(args.labels)
                if lab["study_instance_uid"] in measured]
        out = {"cohort": args.name, "synthetic": True,
               "measured": nested_test(rows, "measured"), "generator_latents": nested_test(rows, "latent")}
        for key, what in (("measured", "measured by the pipeline"), ("generator_latents", "generator's latents")):
            r = out[key]
            hr = r["hazard_ratios_full"]
            print("%s, %s: n = %d, events %d; muscle beyond age, sex, prevalent fracture and L1 HU: "
                  "LR chi2 = %.2f (2 df), p = %.2g; HR per SD muscle HU %.2f (%.2f-%.2f), muscle size %.2f (%.2f-%.2f)"
                  % (args.name, what, r["n"], r["events"], r["lr_chi2"], r["p"],
                     hr["muscle_hu"]["hr_per_sd"], *hr["muscle_hu"]["ci95"],
                     hr["muscle_size"]["hr_per_sd"], *hr["muscle_size"]["ci95"]))
    else:
        ap.error("give --labels (measurements) or --scores (networks)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
