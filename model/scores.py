#!/usr/bin/python3
"""Builds the per-cohort scores CSV that `osteoscout evaluate` reads: the trained models'
predictions (model/predict.py), the L1 trabecular HU baseline (from `osteoscout analyze --csv`),
a clinical Cox model on age and sex (fitted on the development cohort's train + val rows,
model/cox.py) and, for synthetic cohorts, the generating model's own hazard (the oracle).

    model/scores.py --labels DEV_LABELS.csv --analyze DEV_ANALYZE.csv --pred P1.csv --pred P2.csv
                    --rows test --out scores_dev.csv
                    [--cox-fit DEV_LABELS.csv --cox-rows train,val] [--cox-json cox.json]

Columns: study, time_years, event, prevalent_vf, then per model NAME (prediction score =
cumulative risk at the last year), NAME_det (P(prevalent fracture)) and NAME_risk_Ky; l1hu
(= -L1 trabecular HU: higher = more risk; the 110 / 135 / 160 HU thresholds are cut points of
it); cox and cox_risk_Ky; oracle (the synthetic generating log hazard). Only studies every model
scored are kept, so paired comparisons use the same rows.
"""
import argparse
import csv
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import contract  # noqa: E402
from cox import Cox  # noqa: E402

CLINICAL = ["age", "female"]


def clinical_matrix(rows):
    X = []
    for r in rows:
        X.append([contract.num(r.get("age")), 1.0 if r.get("sex") == "F" else 0.0])
    return np.array(X, float)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--labels", required=True)
    ap.add_argument("--analyze", nargs="+", action="extend", default=[], help="`osteoscout analyze --csv` output(s)")
    ap.add_argument("--pred", action="append", default=[], help="model/predict.py output(s)")
    ap.add_argument("--rows", default="all", help="splits to keep (e.g. test), or all")
    ap.add_argument("--cox-fit", default=None, help="labels to fit the clinical Cox model on (default --labels)")
    ap.add_argument("--cox-rows", default="train,val")
    ap.add_argument("--cox-json", default=None, help="write the fitted Cox model here")
    ap.add_argument("--horizons", default="2,3,5")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    horizons = [int(h) for h in args.horizons.split(",")]

    labels = contract.read_csv(args.labels)
    if args.rows != "all":
        keep = set(args.rows.split(","))
        labels = [r for r in labels if r.get("split") in keep]

    # Cox on age and sex
    fit_rows = contract.read_csv(args.cox_fit or args.labels)
    if args.cox_rows != "all" and all("split" in r for r in fit_rows):
        keep = set(args.cox_rows.split(","))
        fit_rows = [r for r in fit_rows if r.get("split") in keep]
    Xf = clinical_matrix(fit_rows)
    tf = np.array([contract.num(r["time_years"]) for r in fit_rows])
    ef = np.array([int(contract.num(r["event"], 0)) for r in fit_rows])
    ok = np.all(np.isfinite(Xf), axis=1) & np.isfinite(tf)
    cox = Cox().fit(Xf[ok], tf[ok], ef[ok])
    if args.cox_json:
        with open(args.cox_json, "w") as f:
            json.dump({"covariates": CLINICAL, "coef_per_unit": cox.coef_.tolist(),
                       "hazard_ratio_per_unit": np.exp(cox.coef_).tolist(), "n": int(ok.sum()),
                       "events": int(ef[ok].sum()), "loglik": cox.loglik_,
                       "ties": "Breslow", "fitted_on": os.path.basename(os.path.dirname(os.path.abspath(args.cox_fit or args.labels))) + "/" + os.path.basename(args.cox_fit or args.labels),
                       "rows": args.cox_rows}, f, indent=1)

    # L1 HU by Study Instance UID
    l1 = {}
    for path in args.analyze:
        for r in contract.read_csv(path):
            if r.get("status") == "ok":
                l1[r["study_uid"]] = contract.num(r.get("l1_hu_mean"))

    preds = []  # (prefix, {study: row})
    for path in args.pred:
        rows = contract.read_csv(path)
        if not rows:
            continue
        prefix = [k[:-5] for k in rows[0] if k.endswith("_prob")][0]
        preds.append((prefix, {r["study"]: r for r in rows}))

    out, dropped = [], 0
    for r in labels:
        s = r["study"]
        if any(s not in p for _, p in preds):
            dropped += 1
            continue
        row = {"study": s, "time_years": r["time_years"], "event": r["event"], "prevalent_vf": r.get("prevalent_vf", "")}
        for prefix, p in preds:
            pr = p[s]
            ks = sorted(int(k[len(prefix) + 6:-1]) for k in pr if k.startswith(prefix + "_risk_"))
            row[prefix] = pr["%s_risk_%dy" % (prefix, ks[-1])]
            row[prefix + "_det"] = pr[prefix + "_prob"]
            for h in horizons:
                row["%s_risk_%dy" % (prefix, h)] = pr.get("%s_risk_%dy" % (prefix, h), "")
        hu = l1.get(r.get("study_instance_uid", ""), float("nan"))
        row["l1hu"] = "" if not np.isfinite(hu) else "%.1f" % -hu
        x = clinical_matrix([r])
        if np.all(np.isfinite(x)):
            row["cox"] = "%.6f" % cox.linear_predictor(x)[0]
            risk = cox.cumulative_risk(x, horizons)[0]
            for h, v in zip(horizons, risk):
                row["cox_risk_%dy" % h] = "%.6f" % v
        else:
            row["cox"] = ""
            for h in horizons:
                row["cox_risk_%dy" % h] = ""
        if "true_lp" in r:
            row["oracle"] = r["true_lp"]
            row["oracle_det"] = r.get("true_prevalent_p", "")
        out.append(row)
    if not out:
        raise SystemExit("no study has every model's prediction")
    cols = list(out[0].keys())
    with open(args.out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        w.writerows(out)
    print("%s: %d studies (%d dropped: not scored by every model), %d with L1 HU; Cox age+sex HR/10y %.2f, "
          "female %.2f" % (args.out, len(out), dropped, sum(1 for r in out if r["l1hu"]),
                           float(np.exp(cox.coef_[0] * 10)), float(np.exp(cox.coef_[1]))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
