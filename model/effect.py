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

    model/effect.py --labels LABELS.csv --analyze ANALYZE.csv [...] [--name NAME] [--json OUT]
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
    Xb, Xm = np.array(base, float), np.array(mus, float)
    Xf = np.hstack([Xb, Xm])
    t, e = np.array(t), np.array(e)
    fb = Cox().fit(Xb, t, e)
    ff = Cox().fit(Xf, t, e)
    lr = max(2.0 * (ff.loglik_ - fb.loglik_), 0.0)
    se = wald(ff, Xf, t, e)
    names = ["age", "female", "prevalent_vf", "l1_hu", "muscle_hu", "muscle_size"]
    hr = {n: {"hr_per_sd": math.exp(b), "ci95": [math.exp(b - 1.96 * s), math.exp(b + 1.96 * s)]}
          for n, b, s in zip(names, ff.beta_std_, se)}
    # chi-square survival with 2 degrees of freedom is exp(-x / 2)
    return {"n": int(len(t)), "events": int(e.sum()), "lr_chi2": lr, "df": 2, "p": math.exp(-lr / 2),
            "hazard_ratios_full": hr}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--labels", required=True)
    ap.add_argument("--analyze", nargs="+", action="extend", default=[])
    ap.add_argument("--name", default="cohort")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
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
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
