#!/usr/bin/python3
"""SYNTHETIC model inputs written straight in the contract format (docs/model-inputs.md),
without CT: for the training smoke test and for developing the training code when no
`osteoscout analyze --export-inputs` output is at hand. Labels come from the same latent model
as model/cohort.py; the arrays are simple drawings (an elliptic vertebral body whose value is
the latent trabecular HU, erector spinae and psoas ellipses whose size and value follow the
latent muscle) plus noise, so a model can learn something from them. Not CT: never use these
to judge a model.

    model/fake_inputs.py --out DIR --n 16 --seed 1
writes DIR/inputs/<study>/{bone.f32,muscle.f32,inputs.json}, DIR/inputs/manifest.csv and
DIR/labels.csv.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cohort  # noqa: E402
import contract  # noqa: E402

YY, XX = np.mgrid[0:contract.H, 0:contract.W].astype(np.float32)


def ellipse(cy, cx, ry, rx):
    return ((YY - cy) / ry) ** 2 + ((XX - cx) / rx) ** 2 <= 1.0


def draw(p, rng, absent_p=0.05):
    bone = np.zeros(contract.SHAPE, np.float32)
    muscle = np.zeros(contract.SHAPE, np.float32)
    present = np.ones(contract.L, np.float32)
    noise = p["_noise"] / 1000.0
    ms = p["muscle_scale"] * (1.0 if p["sex"] == "M" else 0.82)
    mval = (45.0 + p["muscle_hu_shift"]) / 1000.0
    for li, lv in enumerate(contract.LEVELS):
        if rng.random() < absent_p:
            present[li] = 0
            continue
        size = 1.0 + 0.04 * li
        body = ellipse(45, 80, 14 * size, 19 * size)
        core = ellipse(45, 80, 12.5 * size, 17.5 * size)
        loss = p["_fractures"].get(lv, ("none", 0.0))[1]
        n_planes = max(2, int(round(8 * size * (1 - loss))))
        z0 = (contract.D - n_planes) // 2
        plane = np.where(core, p["_trab"][lv] / 1000.0, np.where(body, 0.8, 0.0)).astype(np.float32)
        es = ellipse(110, 80 - 22, 16 * ms, 13 * ms) | ellipse(110, 80 + 22, 16 * ms, 13 * ms)
        ps_r = (5 + 4 * li) * ms
        ps = ellipse(48, 80 - 34 - ps_r / 2, ps_r, ps_r) | ellipse(48, 80 + 34 + ps_r / 2, ps_r, ps_r)
        mplane = np.where(es | ps, mval, 0.0).astype(np.float32)
        for d in range(z0, z0 + n_planes):
            bone[li, d] = np.clip(plane + (plane > 0) * rng.normal(0, noise, plane.shape), 0, 1)
            muscle[li, d] = np.clip(mplane + (mplane > 0) * rng.normal(0, noise, plane.shape), 0, 1)
    return bone, muscle, present


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--site", choices=sorted(cohort.SITES), default="dev")
    args = ap.parse_args(argv)
    patients = cohort.draw_patients(args.n, args.site, args.seed)
    inputs = os.path.join(args.out, "inputs")
    os.makedirs(inputs, exist_ok=True)
    rng = np.random.default_rng(args.seed + 17)
    for p in patients:
        bone, muscle, present = draw(p, rng)
        contract.write_study(os.path.join(inputs, p["study"]), bone, muscle, present,
                             study_uid=p["study_instance_uid"], synthetic=True)
        contract.append_manifest(inputs, p["study"], p["study_instance_uid"], p["study"], present)
    cohort.write_labels(os.path.join(args.out, "labels.csv"), patients)
    print("wrote %d SYNTHETIC studies (contract-format drawings, not CT) to %s" % (len(patients), inputs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
