#!/usr/bin/python3
"""Runs an exported TorchScript model (model/export.py) over exported model inputs, as the
`multitask` plugin does in the node, and writes one CSV row per study.

    model/predict.py --model models/demo/osteoscout-demo.pt --inputs EXPORT_DIR [--inputs DIR2]
                     --out preds.csv [--labels LABELS.csv] [--prefix NAME]

Columns: study, study_instance_uid, levels_present, NAME_prob (prevalent fracture) and
NAME_risk_1y ... NAME_risk_Ky (cumulative risk by year k). With --labels only labelled studies
are scored, keyed by the labels' `study`.
"""
import argparse
import csv
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import contract  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--inputs", required=True, action="append")
    ap.add_argument("--out", required=True)
    ap.add_argument("--labels", default=None)
    ap.add_argument("--prefix", default="model")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=4)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = torch.jit.load(args.model)
    model.eval()

    items = []  # (study key, uid, folder)
    if args.labels:
        seen = set()
        for d in args.inputs:
            rows, _ = contract.join_labels(args.labels, d)
            for r in rows:
                if r["study"] not in seen:
                    seen.add(r["study"])
                    items.append((r["study"], r.get("study_instance_uid", ""), r["_folder"]))
    else:
        for d in args.inputs:
            by_study, by_uid = contract.export_index(d)
            uid_of = {v: k for k, v in by_uid.items()}
            for s, folder in sorted(by_study.items()):
                items.append((s, uid_of.get(folder, ""), folder))

    out_rows, k_count, t_run = [], None, 0.0
    for s in range(0, len(items), args.batch):
        chunk = items[s:s + args.batch]
        bs, ms, ps = [], [], []
        for _, _, folder in chunk:
            b, m, p, _ = contract.read_study(folder)
            bs.append(torch.from_numpy(b))
            ms.append(torch.from_numpy(m))
            ps.append(torch.from_numpy(p))
        t = time.time()
        with torch.no_grad():
            prob, cum = model(torch.stack(bs), torch.stack(ms), torch.stack(ps))
        t_run += time.time() - t
        k_count = cum.shape[1]
        for j, (key, uid, _) in enumerate(chunk):
            row = {"study": key, "study_instance_uid": uid, "levels_present": int(ps[j].sum())}
            pv = float(prob[j])
            row[args.prefix + "_prob"] = "" if not np.isfinite(pv) else "%.6f" % pv
            for k in range(k_count):
                row["%s_risk_%dy" % (args.prefix, k + 1)] = "%.6f" % float(cum[j, k])
            out_rows.append(row)
    if not out_rows:
        raise SystemExit("no studies to score")
    with open(args.out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(out_rows[0].keys()), lineterminator="\n")
        w.writeheader()
        w.writerows(out_rows)
    print("scored %d studies with %s in %.1f s (%.2f s per study)"
          % (len(out_rows), args.model, t_run, t_run / len(out_rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
