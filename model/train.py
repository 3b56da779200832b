#!/usr/bin/python3
"""Trains the bone + muscle multitask risk model (after Kong et al.) on exported model inputs.

    model/train.py --labels LABELS.csv --inputs EXPORT_DIR [--inputs DIR2 ...] --out RUN_DIR
                   [--variant bone+muscle|bone] [--task multitask|prediction] [--seed 1] ...

LABELS.csv: `study`, `prevalent_vf` (0/1), `time_years`, `event` (0/1), `age`, `sex`, optional
clinical factors, optional `study_instance_uid` (the join key when `study` names differ),
optional `fractured_levels` ("L1 T12": the levels of the prevalent fractures) and optional
`split` (train/val/test). EXPORT_DIR is what `osteoscout analyze --export-inputs` writes
(docs/model-inputs.md). Rows without exported inputs are reported and left out.

Training follows the paper: the detection task is shown intact vertebrae only (levels listed in
`fractured_levels` are marked absent in training passes), each pass reads a random subset of
the present levels (--levels-per-pass, 3 of 5 as published) and, to save CPU, of the planes
(--planes-per-pass); validation and serving read everything. Early stopping on the validation
Harrell's C of the cumulative risk at the last horizon. Writes RUN_DIR/checkpoint.pt,
train_log.csv, split.csv and metrics.json; model/export.py turns the checkpoint into TorchScript
and a model card.
"""
import argparse
import csv
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import contract  # noqa: E402
import metrics  # noqa: E402
from net import MultitaskNet, cumulative_risk, hazard_loss, hazard_targets  # noqa: E402


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--labels", required=True)
    ap.add_argument("--inputs", required=True, action="append", help="export directory (repeatable)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--variant", choices=["bone+muscle", "bone"], default="bone+muscle")
    ap.add_argument("--task", choices=["multitask", "prediction"], default="multitask",
                    help="prediction: the single-task variant (hazard head only)")
    ap.add_argument("--horizons", type=int, default=5, help="yearly hazards for years 1..K")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--val-frac", type=float, default=0.2)
    ap.add_argument("--test-frac", type=float, default=0.0, help="held out, never seen (see split.csv)")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--patience", type=int, default=8)
    ap.add_argument("--min-epochs", type=int, default=5,
                    help="epochs before one can be chosen as best (a barely trained model can win a "
                         "small validation set by chance)")
    ap.add_argument("--max-steps", type=int, default=0, help="stop after N optimiser steps (smoke tests)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--weight-decay", type=float, default=1e-4)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--dropout", type=float, default=0.2)
    ap.add_argument("--weighting", choices=["fixed", "nash"], default="fixed",
                    help="task weights: fixed (--det-weight, --haz-weight) or Nash-MTL bargaining")
    ap.add_argument("--det-weight", type=float, default=1.0)
    ap.add_argument("--haz-weight", type=float, default=1.0)
    ap.add_argument("--levels-per-pass", type=int, default=3)
    ap.add_argument("--planes-per-pass", type=int, default=6, help="0: all 12")
    ap.add_argument("--no-mask-fractured", action="store_true",
                    help="show fractured vertebrae to the training passes too")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quiet", action="store_true")
    return ap.parse_args(argv)


def log(args, msg):
    if not args.quiet:
        print(msg, flush=True)


# ---- data ----

def load_cohort(args):
    rows = []
    missing = []
    seen = set()
    for d in args.inputs:
        r, m = contract.join_labels(args.labels, d)
        for x in r:
            if x["study"] not in seen:
                seen.add(x["study"])
                rows.append(x)
        missing.append(set(m))
    missing = sorted(set.intersection(*missing)) if missing else []
    if not rows:
        raise SystemExit("no labelled study has exported inputs (labels %s, inputs %s)" % (args.labels, args.inputs))
    n = len(rows)
    want_muscle = args.variant == "bone+muscle"
    bone = torch.empty((n,) + contract.SHAPE, dtype=torch.float16)
    muscle = torch.empty((n,) + contract.SHAPE, dtype=torch.float16) if want_muscle else None
    present = torch.zeros(n, contract.L)
    train_present = torch.zeros(n, contract.L)
    synthetic = []
    for i, r in enumerate(rows):
        b, m, p, meta = contract.read_study(r["_folder"], want_muscle=want_muscle)
        bone[i] = torch.from_numpy(b)
        if want_muscle:
            muscle[i] = torch.from_numpy(m)
        present[i] = torch.from_numpy(p)
        tp = p.copy()
        if not args.no_mask_fractured:
            for lv in (r.get("fractured_levels") or "").split():
                if lv in contract.LEVELS:
                    tp[contract.LEVELS.index(lv)] = 0
        train_present[i] = torch.from_numpy(tp)
        synthetic.append(bool(meta.get("synthetic")))
    time_y = np.array([contract.num(r["time_years"]) for r in rows])
    event = np.array([int(contract.num(r["event"], 0)) for r in rows])
    prev = np.array([contract.num(r.get("prevalent_vf")) for r in rows])
    if np.any(~np.isfinite(time_y)):
        raise SystemExit("time_years is missing for %d studies" % int(np.sum(~np.isfinite(time_y))))
    return {"rows": rows, "missing": missing, "bone": bone, "muscle": muscle, "present": present,
            "train_present": train_present, "time": time_y, "event": event, "prevalent": prev,
            "synthetic": synthetic}


def make_split(rows, event, prev, args):
    """train/val/test indices: the `split` column when given, else stratified by event and
    prevalent fracture, seeded."""
    n = len(rows)
    if all(r.get("split") in ("train", "val", "test") for r in rows):
        s = [r["split"] for r in rows]
    else:
        rng = random.Random(args.seed)
        s = ["train"] * n
        strata = {}
        for i in range(n):
            key = (int(event[i]), int(prev[i]) if np.isfinite(prev[i]) else -1)
            strata.setdefault(key, []).append(i)
        for key in sorted(strata):
            idx = strata[key]
            rng.shuffle(idx)
            n_test = int(round(args.test_frac * len(idx)))
            n_val = int(round(args.val_frac * len(idx)))
            for i in idx[:n_test]:
                s[i] = "test"
            for i in idx[n_test:n_test + n_val]:
                s[i] = "val"
    idx = {k: [i for i in range(n) if s[i] == k] for k in ("train", "val", "test")}
    return s, idx


def batch_tensors(data, idx, train, args, gen):
    """bone, muscle, present of the studies idx, float32; in training a random subset of the
    present levels and of the planes, a random left-right flip and a small shift."""
    bone = data["bone"][idx].float()
    muscle = data["muscle"][idx].float() if data["muscle"] is not None else None
    if not train:
        present = data["present"][idx]
        return bone, (muscle if muscle is not None else bone), present
    present = data["train_present"][idx].clone()
    lp = args.levels_per_pass
    if 0 < lp < contract.L:
        sel_b, sel_m, sel_p = [], [], []
        for j in range(len(idx)):
            avail = torch.nonzero(present[j] > 0).flatten().tolist()
            if not avail:
                avail = list(range(contract.L))
            chosen = sorted(torch.randperm(len(avail), generator=gen)[:lp].tolist())
            lv = [avail[c] for c in chosen]
            while len(lv) < lp:  # fewer present than lp: pad with absent levels
                lv.append(lv[-1])
            pj = present[j, lv].clone()
            seen = set()
            for k, l in enumerate(lv):  # a padded duplicate counts once
                if l in seen:
                    pj[k] = 0
                seen.add(l)
            sel_b.append(bone[j, lv])
            if muscle is not None:
                sel_m.append(muscle[j, lv])
            sel_p.append(pj)
        bone = torch.stack(sel_b)
        muscle = torch.stack(sel_m) if muscle is not None else None
        present = torch.stack(sel_p)
    pp = args.planes_per_pass
    if 0 < pp < contract.D:
        step = contract.D // pp
        off = int(torch.randint(0, step, (1,), generator=gen))
        planes = list(range(off, contract.D, step))[:pp]
        bone = bone[:, :, planes]
        muscle = muscle[:, :, planes] if muscle is not None else None
    if torch.rand(1, generator=gen).item() < 0.5:
        bone = bone.flip(-1)
        muscle = muscle.flip(-1) if muscle is not None else None
    dy, dx = [int(v) for v in torch.randint(-6, 7, (2,), generator=gen)]
    bone = torch.roll(bone, (dy, dx), (-2, -1))
    muscle = torch.roll(muscle, (dy, dx), (-2, -1)) if muscle is not None else None
    return bone, (muscle if muscle is not None else bone), present


def init_output_biases(net, data, train_idx, args):
    """Output biases at the training set's prevalence and its yearly hazards, so the first
    epochs start calibrated instead of at 50 %."""
    with torch.no_grad():
        prev = data["prevalent"][train_idx]
        prev = prev[np.isfinite(prev)]
        if len(prev):
            p = float(np.clip(prev.mean(), 0.02, 0.98))
            net.det_head[-1].bias.fill_(math.log(p / (1 - p)))
        y, m = hazard_targets(data["time"][train_idx].tolist(), data["event"][train_idx].tolist(), args.horizons)
        h = (y.sum(0) + 0.5) / (m.sum(0) + 1.0)
        net.haz_head[-1].bias.copy_(torch.log(h / (1 - h)))


# ---- task weighting ----

def nash_weights(grads):
    """Nash-MTL (Navon et al. 2022) bargaining weights: alpha > 0 with (G G^T) alpha = 1/alpha,
    solved by Newton's method. G holds each task's gradient at the shared representation (the
    pooled features, as MGDA-UB does, so it costs no extra pass through the encoder). Scaled to
    sum to the number of tasks, so the learning rate keeps its meaning under Adam."""
    G = torch.stack([g.flatten() for g in grads]).double()
    M = G @ G.T
    k = M.size(0)
    d = torch.diagonal(M).clamp(min=1e-20)
    a = 1.0 / torch.sqrt(d)
    for _ in range(30):
        f = M @ a - 1.0 / a
        J = M + torch.diag(1.0 / a ** 2)
        step = torch.linalg.solve(J, f)
        new = a - step
        while bool((new <= 0).any()):
            step = step / 2
            new = a - step
        a = new
        if float(f.abs().max()) < 1e-8:
            break
    a = a / a.sum() * k
    return a.float()


# ---- evaluation ----

@torch.no_grad()
def recalibrate_norm(net, data, idx, args, n=48, batch=8):
    """Re-estimates the feature BatchNorm's statistics from full inputs (all levels and planes,
    as served) of up to n training studies. Training passes read subsets of levels and planes,
    whose pooled features sit a little apart; without this the served model would see
    features standardised with the subsets' statistics."""
    norm = net.norm
    momentum = norm.momentum
    norm.reset_running_stats()
    norm.momentum = None  # cumulative average over the batches below
    net.train()
    sel = idx[:n]
    if len(sel) % batch == 1 and len(sel) > 1:  # BatchNorm cannot train on a batch of one
        sel = sel[:-1]
    for s in range(0, len(sel), batch):
        b, m, p = batch_tensors(data, sel[s:s + batch], False, args, None)
        net.features_core(b, m, p)
    norm.momentum = momentum
    net.eval()


@torch.no_grad()
def predict(net, data, idx, args, batch=8):
    net.eval()
    probs, risks = [], []
    for s in range(0, len(idx), batch):
        b, m, p = batch_tensors(data, idx[s:s + batch], False, args, None)
        prob, cum = net(b, m, p)
        probs.append(prob)
        risks.append(cum)
    return torch.cat(probs).numpy(), torch.cat(risks).numpy()


def evaluate(net, data, idx, args):
    prob, risk = predict(net, data, idx, args)
    t, e, prev = data["time"][idx], data["event"][idx], data["prevalent"][idx]
    ok = np.isfinite(prev)
    m = metrics.summary(t, e, risk, prev[ok] if args.task == "multitask" else None,
                        prob[ok] if args.task == "multitask" else None,
                        horizons=[h for h in (1, 2, 3, 5) if h <= args.horizons])
    if args.task == "multitask" and np.any(ok):
        m["detection_auroc"] = metrics.auroc(prob[ok], prev[ok])
    return m, prob, risk


# ---- training ----

def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    random.seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    t0 = time.time()
    data = load_cohort(args)
    rows = data["rows"]
    split, idx = make_split(rows, data["event"], data["prevalent"], args)
    log(args, "loaded %d studies in %.1f s (%d labelled studies without inputs); train %d, val %d, test %d"
        % (len(rows), time.time() - t0, len(data["missing"]), len(idx["train"]), len(idx["val"]), len(idx["test"])))
    if not idx["train"]:
        raise SystemExit("no training studies")
    with open(os.path.join(args.out, "split.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["study", "study_instance_uid", "split"])
        for r, s in zip(rows, split):
            w.writerow([r["study"], r.get("study_instance_uid", ""), s])

    net = MultitaskNet(args.variant, width=args.width, horizons=args.horizons, hidden=args.hidden,
                       detection=args.task == "multitask", dropout=args.dropout)
    init_output_biases(net, data, idx["train"], args)
    net = net.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    y_all, m_all = hazard_targets(data["time"].tolist(), data["event"].tolist(), args.horizons)
    prev_t = torch.tensor(np.nan_to_num(data["prevalent"], nan=0.0), dtype=torch.float32)
    prev_ok = torch.tensor(np.isfinite(data["prevalent"]), dtype=torch.float32)
    gen = torch.Generator().manual_seed(args.seed)
    steps_per_epoch = max(1, math.ceil(len(idx["train"]) / args.batch))
    total_steps = args.epochs * steps_per_epoch if not args.max_steps else args.max_steps
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=max(total_steps, 2),
                                                pct_start=0.15)
    val_idx = idx["val"] if idx["val"] else idx["train"]
    calib_idx = [idx["train"][k] for k in torch.randperm(len(idx["train"]), generator=torch.Generator().manual_seed(
        args.seed + 1)).tolist()]
    best = {"c": -1.0, "epoch": -1, "state": None, "metrics": None}
    log_rows = []
    step, stale = 0, 0
    t_train = time.time()
    for epoch in range(1, args.epochs + 1):
        net.train()
        order = torch.randperm(len(idx["train"]), generator=gen).tolist()
        if len(order) % args.batch == 1 and len(order) > 1:  # no batch of one (BatchNorm)
            order = order[:-1]
        tot = {"det": 0.0, "haz": 0.0, "n": 0, "w_det": 0.0}
        for s in range(0, len(order), args.batch):
            bi = [idx["train"][k] for k in order[s:s + args.batch]]
            b, m, p = batch_tensors(data, bi, True, args, gen)
            z = net.features_core(b, m, p)
            det_logit, haz_logit = net.heads(z)
            l_haz = hazard_loss(haz_logit, y_all[bi], m_all[bi])
            if args.task == "multitask":
                w_ok = prev_ok[bi]
                bce = torch.nn.functional.binary_cross_entropy_with_logits(det_logit, prev_t[bi], reduction="none")
                l_det = (bce * w_ok).sum() / w_ok.sum().clamp(min=1.0)
                if args.weighting == "nash":
                    g_det = torch.autograd.grad(l_det, z, retain_graph=True)[0]
                    g_haz = torch.autograd.grad(l_haz, z, retain_graph=True)[0]
                    alpha = nash_weights([g_det, g_haz])
                    w_det, w_haz = float(alpha[0]), float(alpha[1])
                else:
                    w_det, w_haz = args.det_weight, args.haz_weight
                loss = w_det * l_det + w_haz * l_haz
                tot["det"] += float(l_det) * len(bi)
                tot["w_det"] += w_det * len(bi)
            else:
                loss = l_haz
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            opt.step()
            if step < total_steps - 1:
                sched.step()
            step += 1
            tot["haz"] += float(l_haz) * len(bi)
            tot["n"] += len(bi)
            if args.max_steps and step >= args.max_steps:
                break
        recalibrate_norm(net, data, calib_idx, args)
        vm, _, _ = evaluate(net, data, val_idx, args)
        c = vm["harrell_c"] if vm["harrell_c"] is not None else 0.5
        row = {"epoch": epoch, "step": step, "seconds": round(time.time() - t_train, 1),
               "train_det_loss": round(tot["det"] / max(tot["n"], 1), 4),
               "train_haz_loss": round(tot["haz"] / max(tot["n"], 1), 4),
               "det_weight": round(tot["w_det"] / max(tot["n"], 1), 3),
               "val_harrell_c": vm["harrell_c"], "val_detection_auroc": vm.get("detection_auroc"),
               "lr": opt.param_groups[0]["lr"]}
        log_rows.append(row)
        log(args, "epoch %2d  step %4d  %6.1fs  det %.3f haz %.3f  val C %s  det AUROC %s"
            % (epoch, step, row["seconds"], row["train_det_loss"], row["train_haz_loss"],
               _fmt(vm["harrell_c"]), _fmt(vm.get("detection_auroc"))))
        if epoch >= min(args.min_epochs, args.epochs) and c > best["c"]:
            best = {"c": c, "epoch": epoch, "metrics": vm,
                    "state": {k: v.detach().clone() for k, v in net.state_dict().items()}}
            stale = 0
        else:
            stale += 1
        if best["state"] is None:
            stale = 0
        if (args.max_steps and step >= args.max_steps) or stale >= args.patience:
            break
    train_seconds = time.time() - t_train
    if best["state"] is None:  # stopped (max steps) before min_epochs: the last state
        best = {"c": c, "epoch": len(log_rows), "metrics": vm,
                "state": {k: v.detach().clone() for k, v in net.state_dict().items()}}
    net.load_state_dict(best["state"])

    result = {"best_epoch": best["epoch"], "epochs_run": len(log_rows), "steps": step,
              "train_seconds": round(train_seconds, 1), "validation": best["metrics"]}
    if idx["test"]:
        tm, _, _ = evaluate(net, data, idx["test"], args)
        result["test"] = tm
    n_tr = idx["train"]
    cohort = {
        "labels": os.path.abspath(args.labels), "inputs": [os.path.abspath(d) for d in args.inputs],
        "studies": len(rows), "without_inputs": len(data["missing"]),
        "synthetic": all(data["synthetic"]) and len(data["synthetic"]) > 0,
        "train": len(n_tr), "val": len(idx["val"]), "test": len(idx["test"]),
        "events": int(data["event"].sum()), "prevalent_vf": int(np.nansum(data["prevalent"])),
        "median_follow_up_years": float(np.median(data["time"])),
        "age_mean": _mean([contract.num(r.get("age")) for r in rows]),
        "female_fraction": _mean([1.0 if r.get("sex") == "F" else 0.0 if r.get("sex") == "M" else float("nan")
                                  for r in rows]),
    }
    config = {k: v for k, v in vars(args).items() if k not in ("quiet",)}
    torch.save({"state_dict": net.state_dict(), "config": config, "cohort": cohort, "result": result,
                "net": {"variant": args.variant, "width": args.width, "horizons": args.horizons,
                        "hidden": args.hidden, "detection": args.task == "multitask", "dropout": args.dropout}},
               os.path.join(args.out, "checkpoint.pt"))
    with open(os.path.join(args.out, "train_log.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(log_rows[0].keys()), lineterminator="\n")
        w.writeheader()
        w.writerows(log_rows)
    with open(os.path.join(args.out, "metrics.json"), "w") as f:
        json.dump({"config": config, "cohort": cohort, "result": result}, f, indent=1)
    log(args, "best epoch %d: validation %s; %.0f s training" % (best["epoch"], json.dumps(best["metrics"]),
                                                                   train_seconds))
    return 0


def _fmt(x):
    return "  -  " if x is None else "%.3f" % x


def _mean(v):
    v = [x for x in v if x == x]
    return float(np.mean(v)) if v else None


if __name__ == "__main__":
    sys.exit(main())
