#!/usr/bin/python3
"""Exports a trained checkpoint (model/train.py) as TorchScript with its JSON model card.

    model/export.py --checkpoint RUN/checkpoint.pt --out models/demo/osteoscout-demo.pt
                    [--name NAME] [--version V] [--metrics NAME=FILE.json]... [--intended-use TEXT]

Writes OUT (torch.jit.script of the network: forward(bone, muscle, present) -> (prob [B],
cumulative [B,K]) as docs/model-inputs.md requires) and the card next to it (OUT with .json),
the file the `multitask` plugin reads. Before writing, the scripted module is reloaded and
checked: same outputs as the eager network, probabilities and monotone cumulative risks inside
[0, 1], absent levels ignored. A model trained on synthetic data says so on its card
("synthetic": true, not for clinical use).
"""
import argparse
import datetime
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import contract  # noqa: E402
from net import MultitaskNet  # noqa: E402

SYNTHETIC_USE = ("Demonstration and testing of the OsteoScout serving path only. Trained on SYNTHETIC "
                 "phantoms with synthetic labels: NOT FOR CLINICAL USE; its outputs have no clinical meaning.")


def build(ckpt):
    n = ckpt["net"]
    net = MultitaskNet(n["variant"], width=n["width"], horizons=n["horizons"], hidden=n["hidden"],
                       detection=n["detection"], dropout=n.get("dropout", 0.0))
    net.load_state_dict(ckpt["state_dict"])
    net.eval()
    return net


def check(scripted, eager, horizons):
    """Raises AssertionError when the TorchScript module breaks the contract."""
    g = torch.Generator().manual_seed(0)
    bone = torch.rand(2, 5, 12, 160, 160, generator=g) * 0.3
    muscle = torch.rand(2, 5, 12, 160, 160, generator=g) * 0.07
    present = torch.tensor([[1, 1, 1, 1, 1], [1, 0, 1, 1, 0]], dtype=torch.float32)
    with torch.no_grad():
        p1, c1 = scripted(bone, muscle, present)
        p2, c2 = eager(bone, muscle, present)
        assert p1.shape == (2,) and c1.shape == (2, horizons), "output shapes %s %s" % (p1.shape, c1.shape)
        both = torch.isfinite(p1)
        assert torch.equal(both, torch.isfinite(p2))
        assert torch.allclose(p1[both], p2[both], atol=1e-5) and torch.allclose(c1, c2, atol=1e-5)
        assert bool(((p1[both] >= 0) & (p1[both] <= 1)).all()), "probability outside [0, 1]"
        assert bool(((c1 >= 0) & (c1 <= 1)).all()), "cumulative risk outside [0, 1]"
        assert bool((c1[:, 1:] >= c1[:, :-1]).all()), "cumulative risk not monotone"
        # an absent level's arrays do not matter
        b2 = bone.clone()
        b2[1, 1] = 1.0
        p3, c3 = scripted(b2, muscle, present)
        assert torch.allclose(c3[1], c1[1], atol=1e-6), "an absent level changed the output"
        zero = torch.zeros(1, 5, 12, 160, 160)
        p4, c4 = scripted(zero, zero, torch.zeros(1, 5))
        assert bool(torch.isfinite(c4).all()), "no level present gives non-finite risks"


def portable(path):
    """A path as the card shows it: relative to the repository when inside it, else its name."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.path.abspath(path)
    return os.path.relpath(path, root) if path.startswith(root + os.sep) else os.path.basename(path)


def card_for(ckpt, name, version, extra_metrics, intended_use, weights_file, generator=None):
    cfg, res, n = ckpt["config"], ckpt["result"], ckpt["net"]
    cohort = dict(ckpt["cohort"])
    cohort["labels"] = portable(cohort["labels"])
    cohort["inputs"] = [portable(d) for d in cohort["inputs"]]
    if generator:
        cohort["generator"] = generator
    synthetic = bool(cohort.get("synthetic"))
    horizons = list(range(1, n["horizons"] + 1))
    variant = n["variant"]
    card = {
        "format": "osteoscout-model-card", "card_version": 1,
        "name": name, "version": version,
        "created": datetime.date.today().isoformat(),
        "weights": weights_file,
        "synthetic": synthetic,
        "clinical_use": "NOT FOR CLINICAL USE" if synthetic else "not validated for clinical use",
        "calibrated": False,
        "method": ("after Kong et al., Eur Radiol 2025: 2D CNN on the axial planes of T12-L4 patches, "
                   "shared across levels, features pooled over planes (mean, max) and present levels "
                   "(masked mean); detection head and yearly discrete-time hazard head (%s)"
                   % ("multitask" if n["detection"] else "single-task prediction: hazard head only")),
        "inputs": dict(contract.PREPROCESSING, variant=variant, min_present_levels=1,
                       muscle_used=variant == "bone+muscle"),
        "forward": "forward(bone: Tensor[B,5,12,160,160] float32, muscle: Tensor[B,5,12,160,160] float32, "
                   "present: Tensor[B,5] float32) -> Tuple[Tensor[B], Tensor[B,K]]",
        "outputs": {
            "prevalent_fracture_probability": ("P(prevalent vertebral fracture), trained on intact vertebrae "
                                               "only: fracture-prone bone and muscle, not fracture shape"
                                               if n["detection"] else
                                               "not provided: single-task prediction model (NaN)"),
            "cumulative_risk": "P(new vertebral fracture by year k), k = 1..K; monotone in k: "
                               "1 - prod_{j<=k} (1 - h_j) of yearly discrete-time hazards h_j",
        },
        "horizons_years": horizons,
        "training": {
            "cohort": cohort,
            "task": cfg["task"], "variant": variant,
            "loss": "BCE on detection + censoring-masked BCE on yearly hazards (a year counts only while "
                    "the patient was followed)",
            "task_weighting": cfg["weighting"] if cfg["task"] == "multitask" else "single task",
            "detection_shown_intact_vertebrae_only": not cfg.get("no_mask_fractured", False),
            "seed": cfg["seed"], "epochs_run": res["epochs_run"], "best_epoch": res["best_epoch"],
            "train_seconds": res["train_seconds"],
            "early_stopping": "validation Harrell's C of the cumulative risk at year %d" % n["horizons"],
            "network": {"width": n["width"], "hidden": n["hidden"], "levels_per_pass": cfg["levels_per_pass"],
                        "planes_per_pass": cfg["planes_per_pass"]},
        },
        "validation": {"development_validation_split": res.get("validation"),
                       "development_test_split": res.get("test")},
        "intended_use": intended_use or (SYNTHETIC_USE if synthetic else
                                         "Research use: opportunistic fracture-risk estimation on abdominal CT; "
                                         "findings to be reviewed by a radiologist."),
    }
    for k, v in extra_metrics.items():
        card["validation"][k] = v
    if synthetic:
        card["warning"] = "SYNTHETIC: trained and validated on synthetic phantoms only. Not for clinical use."
    return card


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--out", required=True, help="the .pt to write; the card goes next to it as .json")
    ap.add_argument("--name", default=None)
    ap.add_argument("--version", default="0.1.0")
    ap.add_argument("--metrics", action="append", default=[], help="NAME=FILE.json added to the card's validation")
    ap.add_argument("--intended-use", default=None)
    ap.add_argument("--cohort-json", default=None, help="model/cohort.py's cohort.json: how the synthetic "
                                                        "training cohort was generated")
    args = ap.parse_args(argv)

    torch.set_num_threads(2)
    ckpt = torch.load(args.checkpoint, map_location="cpu")
    eager = build(ckpt)
    scripted = torch.jit.script(eager)
    out = os.path.abspath(args.out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    tmp = out + ".tmp"
    scripted.save(tmp)
    reloaded = torch.jit.load(tmp)
    check(reloaded, eager, ckpt["net"]["horizons"])
    os.replace(tmp, out)

    extra = {}
    for m in args.metrics:
        k, _, path = m.partition("=")
        with open(path) as f:
            extra[k] = json.load(f)
    n = ckpt["net"]
    name = args.name or "osteoscout-%s-%s" % ("bm" if n["variant"] == "bone+muscle" else "bone",
                                               "multitask" if n["detection"] else "prediction")
    generator = None
    if args.cohort_json:
        with open(args.cohort_json) as f:
            generator = json.load(f)
    card = card_for(ckpt, name, args.version, extra, args.intended_use, os.path.basename(out), generator)
    card_path = os.path.splitext(out)[0] + ".json"
    with open(card_path + ".tmp", "w") as f:
        json.dump(card, f, indent=1, default=_json_default)
        f.write("\n")
    os.replace(card_path + ".tmp", card_path)
    print("wrote %s (%.2f MB) and %s" % (out, os.path.getsize(out) / 1e6, card_path))
    return 0


def _json_default(x):
    if hasattr(x, "item"):
        return x.item()
    raise TypeError(type(x))


if __name__ == "__main__":
    sys.exit(main())
