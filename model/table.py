#!/usr/bin/python3
"""Prints the results table in the paper's layout (Kong et al.: detection AUROC, c-index and
2/3/5-year AUROC for the development and external test sets) from `osteoscout evaluate --json`
outputs, which compute every metric and its CI (lib/eval, matched to R). The one figure added
here is a paired bootstrap test of the c-index difference between the bone + muscle model and
each other score (evaluate pairs detection AUROCs by DeLong, not c-indices).

    model/table.py --cohort "Development (test split)" DET.json PRED.json SCORES.csv \
                   --cohort "External" DET.json PRED.json SCORES.csv [--ref bm_mt] [--out table.md]
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import contract  # noqa: E402
import metrics  # noqa: E402

NAMES = {
    "bm_mt": "Bone + muscle, multitask",
    "bm_nash": "Bone + muscle, multitask (Nash-MTL)",
    "bone_mt": "Bone only, multitask",
    "bm_st": "Bone + muscle, prediction only",
    "l1hu": "L1 trabecular HU (-HU)",
    "cox": "Clinical Cox (age, sex)",
    "oracle": "Generating model (synthetic truth)",
}


def name(k):
    base = k[:-4] if k.endswith("_det") else k
    return NAMES.get(base, base)


def fmt(v, ci=None):
    if v is None:
        return "-"
    s = "%.3f" % v
    if ci and ci[0] is not None and ci[1] is not None:
        s += " (%.2f-%.2f)" % (ci[0], ci[1])
    return s


def paired_c(scores_csv, ref, others, n_boot=500, seed=1):
    rows = contract.read_csv(scores_csv)
    t = np.array([contract.num(r["time_years"]) for r in rows])
    e = np.array([int(contract.num(r["event"], 0)) for r in rows])
    out = []
    rng = np.random.default_rng(seed)
    boots = [rng.integers(0, len(rows), len(rows)) for _ in range(n_boot)]
    a = np.array([contract.num(r.get(ref)) for r in rows])
    for o in others:
        b = np.array([contract.num(r.get(o)) for r in rows])
        ok = np.isfinite(a) & np.isfinite(b)
        if ok.sum() < 10:
            continue
        d0 = metrics.harrell_c(t[ok], e[ok], a[ok]) - metrics.harrell_c(t[ok], e[ok], b[ok])
        idx_ok = np.nonzero(ok)[0]
        ds = []
        for bi in boots:
            bi = bi[np.isin(bi, idx_ok)]
            ds.append(metrics.harrell_c(t[bi], e[bi], a[bi]) - metrics.harrell_c(t[bi], e[bi], b[bi]))
        ds = np.array([d for d in ds if np.isfinite(d)])
        p = min(1.0, 2 * min(np.mean(ds <= 0), np.mean(ds >= 0))) if len(ds) else float("nan")
        out.append({"a": ref, "b": o, "n": int(ok.sum()), "difference": d0, "n_boot": len(ds),
                    "ci": [float(np.percentile(ds, 2.5)), float(np.percentile(ds, 97.5))], "p": p,
                    "method": "paired bootstrap, %d resamples, percentile CI" % n_boot})
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cohort", nargs="+", action="append", required=True,
                    metavar="LABEL DET_JSON PRED_JSON SCORES_CSV [K=HORIZON_JSON ...]",
                    help="K=FILE: an evaluate run whose scores are NAME_risk_Ky: the k-year AUROC of "
                         "NAME is then that of its k-year risk")
    ap.add_argument("--ref", default="bm_mt")
    ap.add_argument("--out", default=None, help="also write the table (markdown) here")
    ap.add_argument("--json-out", default=None)
    args = ap.parse_args(argv)

    lines = ["OsteoScout risk models on SYNTHETIC cohorts (phantoms; no clinical meaning)", ""]
    summary = {}
    for spec in args.cohort:
        if len(spec) < 4:
            ap.error("--cohort needs LABEL DET_JSON PRED_JSON SCORES_CSV")
        label, det_path, pred_path, scores_csv = spec[:4]
        det = json.load(open(det_path))
        pred = json.load(open(pred_path))
        ps = pred["scores"]
        by_horizon = {}  # k -> {score name: (auroc, ci)} from the k-year risks
        for extra in spec[4:]:
            k, _, path = extra.partition("=")
            hj = json.load(open(path))
            for name_k, v in hj["scores"].items():
                base = name_k[:-len("_risk_%sy" % k)] if name_k.endswith("_risk_%sy" % k) else name_k
                by_horizon.setdefault(k, {})[base] = (v["td_auroc"].get(k), v["ci"]["td_auroc"].get(k),
                                                       v["paper_auroc"].get(k))
        n_prev = None
        for k, v in det["scores"].items():
            n_prev = v.get("positives", n_prev)
        lines.append("## %s: n = %d, new fractures %d, prevalent fractures %s; CIs: detection DeLong, "
                     "others %s" % (label, pred["n_with_outcome"], pred["events"], n_prev,
                                    next(iter(ps.values()))["ci"]["method"]))
        lines.append("")
        lines.append("C-index of each model's cumulative risk at its last year; k-year AUROC of its k-year "
                     "risk%s (cumulative/dynamic, IPCW)." % ("" if by_horizon else " (here: of the same score)"))
        lines.append("")
        head = ["Model", "Detection AUROC", "Harrell's C", "2-year AUROC", "3-year AUROC", "5-year AUROC"]
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "|".join(["---"] * len(head)) + "|")
        order = [k for k in ps]
        det_of = {}
        for k in det["scores"]:
            base = k[:-4] if k.endswith("_det") else k
            det_of[base] = det["scores"][k]
        cohort_sum = {}
        for k in order:
            s = ps[k]
            d = det_of.get(k)
            td, tci, paper = dict(s["td_auroc"]), dict(s["ci"]["td_auroc"]), dict(s["paper_auroc"])
            for hk, res in by_horizon.items():
                if k in res:
                    td[hk], tci[hk], paper[hk] = res[k]
            cells = [name(k),
                     fmt(d["auroc"], d["auroc_ci"]) if d and "auroc" in d else "-",
                     fmt(s["c_harrell"], s["ci"]["c_harrell"]),
                     fmt(td.get("2"), tci.get("2")), fmt(td.get("3"), tci.get("3")), fmt(td.get("5"), tci.get("5"))]
            lines.append("| " + " | ".join(cells) + " |")
            cohort_sum[k] = {"detection_auroc": d.get("auroc") if d else None,
                             "detection_auroc_ci": d.get("auroc_ci") if d else None,
                             "c_harrell": s["c_harrell"], "c_harrell_ci": s["ci"]["c_harrell"],
                             "c_uno": s["c_uno"], "td_auroc": td, "td_auroc_ci": tci,
                             "paper_auroc": paper}
        lines.append("")
        lines.append("Uno's C and the paper-compatible k-year AUROC (no censoring weights):")
        lines.append("")
        lines.append("| Model | Uno's C | paper 2-y | paper 3-y | paper 5-y |")
        lines.append("|---|---|---|---|---|")
        for k in order:
            s, pa = ps[k], cohort_sum[k]["paper_auroc"]
            lines.append("| %s | %s | %s | %s | %s |" % (name(k), fmt(s["c_uno"]), fmt(pa.get("2")),
                                                       fmt(pa.get("3")), fmt(pa.get("5"))))
        lines.append("")
        lines.append("Paired tests against %s:" % name(args.ref))
        lines.append("")
        ref_det = args.ref + "_det"
        for p in det.get("paired", []):
            if ref_det in (p["a"], p["b"]) or args.ref in (p["a"], p["b"]):
                other = p["b"] if p["a"] in (ref_det, args.ref) else p["a"]
                sign = 1 if p["a"] in (ref_det, args.ref) else -1
                lines.append("- detection AUROC vs %s: difference %+.3f, DeLong p = %.3g (n = %d)"
                             % (name(other), sign * p["difference"], p["p"], p["n"]))
        others = [k for k in order if k != args.ref]
        pc = paired_c(scores_csv, args.ref, others)
        for p in pc:
            # no resample crossing zero: p is below what this many resamples can show
            pv = "< %.2g" % (2.0 / p["n_boot"]) if p["p"] == 0 else "= %.3g" % p["p"]
            lines.append("- Harrell's C vs %s: difference %+.3f (95%% CI %.3f to %.3f), paired bootstrap p %s"
                         % (name(p["b"]), p["difference"], p["ci"][0], p["ci"][1], pv))
        lines.append("")
        summary[label] = {"n": pred["n_with_outcome"], "events": pred["events"], "prevalent": n_prev,
                          "scores": cohort_sum, "paired_detection_delong": det.get("paired", []),
                          "paired_c_bootstrap": pc}
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(summary, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
