#!/usr/bin/python3
"""SYNTHETIC cohort generator for the risk models: every patient, image and label it makes is
synthetic and carries no clinical meaning.

Each patient has latent variables (age, sex, height, habitus, trabecular HU, muscle attenuation
and muscle size) that drive both a prevalent vertebral fracture and a known hazard of a new
fracture, with censoring. The phantom CT is written by the C CLI (`osteoscout phantom`) from the
same latent variables, so what the images show is what the labels depend on. The hazard depends
on muscle attenuation and muscle area independently of bone density (the effect the bone +
muscle model should find beyond bone alone).

Sites: `dev` (development) and `external` (a site shift: older population with more women and
more obesity, noisier images, thicker slices (4 mm), another pixel size (1.8 mm), mixed
contrast phases and a +10 HU scanner calibration offset in bone that does not change risk).

    model/cohort.py --out DIR --site dev --n 300 --seed 1 [--osteoscout build-py/bin/osteoscout]
writes DIR/phantoms/<study>/ (DICOM + truth.json), DIR/labels.csv and DIR/cohort.json.
"""
import argparse
import concurrent.futures
import csv
import json
import math
import os
import subprocess
import sys

import numpy as np

LEVELS8 = ["T10", "T11", "T12", "L1", "L2", "L3", "L4", "L5"]
MODEL_LEVELS = ["T12", "L1", "L2", "L3", "L4"]
LEVEL_OFFSET_HU = {"T10": 10, "T11": 7, "T12": 4, "L1": 0, "L2": -3, "L3": -6, "L4": -8, "L5": -10}

# The generating model (also written to cohort.json).
SITES = {
    "dev": {
        "age": [50, 80], "p_female": 0.6, "habitus": [0.25, 0.45, 0.30],
        "pixel_mm": 2.0, "matrix": 192, "spacing_mm": 3.0, "thickness_mm": 3.0, "noise_hu": [12, 20],
        "phases": {"portal": 1.0}, "kernel": "B30f", "bone_calibration_hu": 0, "uid_root": 1,
    },
    "external": {
        "age": [55, 85], "p_female": 0.7, "habitus": [0.15, 0.45, 0.40],
        "pixel_mm": 1.8, "matrix": 216, "spacing_mm": 4.0, "thickness_mm": 4.0, "noise_hu": [25, 35],
        "phases": {"portal": 0.5, "noncontrast": 0.5}, "kernel": "B60f", "bone_calibration_hu": 10, "uid_root": 2,
    },
}
HAZARD = {  # log hazard ratios per unit of the standardised latents
    "bone": -0.75,          # per +1 z of L1 trabecular HU ((HU - 150) / 40)
    "muscle_hu": -0.45,     # per +1 z of muscle attenuation shift (shift / 8 HU)
    "muscle_area": -0.40,   # per +1 z of muscle size (log(scale) / 0.09)
    "age_per_10y": 0.25,
    "female": 0.15,
    "prevalent_vf": 0.50,
    "baseline_per_year": 0.016,
}
PREVALENT = {"intercept": -2.0, "bone": -1.1, "muscle_hu": -0.35, "muscle_area": -0.35, "age_per_10y": 0.2}
FOLLOW_UP = {"admin_years": [1.0, 8.0], "dropout_mean_years": 15.0}


def latent_z(trab_l1, muscle_shift, muscle_scale):
    return (trab_l1 - 150.0) / 40.0, muscle_shift / 8.0, math.log(muscle_scale) / 0.09


def draw_patients(n, site, seed):
    """The latent variables and labels of n synthetic patients."""
    cfg = SITES[site]
    rng = np.random.default_rng([seed, cfg["uid_root"]])
    out = []
    for i in range(n):
        female = rng.random() < cfg["p_female"]
        age = float(rng.uniform(*cfg["age"]))
        height = float(np.clip(rng.normal(1.63, 0.06) if female else rng.normal(1.76, 0.07), 1.45, 2.0))
        habitus = ["slim", "average", "obese"][int(rng.choice(3, p=cfg["habitus"]))]
        trab_l1 = float(np.clip(226 - 2.5 * (age - 25) - 12 * female + rng.normal(0, 28), 45, 280))
        trab = {lv: float(np.clip(trab_l1 + LEVEL_OFFSET_HU[lv] + rng.normal(0, 6), 40, 300)) for lv in LEVELS8}
        trab["L1"] = trab_l1
        mshift = float(np.clip(-0.35 * (age - 65) - 6 * (habitus == "obese") + 3 * (habitus == "slim")
                               + rng.normal(0, 7), -35, 20))
        mscale = float(np.clip(math.exp(rng.normal(0, 0.09) - 0.004 * (age - 65)), 0.7, 1.35))
        zb, zmh, zma = latent_z(trab_l1, mshift, mscale)
        a10 = (age - 65) / 10
        lp_prev = (PREVALENT["intercept"] + PREVALENT["bone"] * zb + PREVALENT["muscle_hu"] * zmh
                   + PREVALENT["muscle_area"] * zma + PREVALENT["age_per_10y"] * a10)
        prevalent = int(rng.random() < 1 / (1 + math.exp(-lp_prev)))
        fractures = {}
        if prevalent:
            k = 1 if rng.random() < 0.7 else 2
            levels = list(rng.choice(MODEL_LEVELS, size=k, replace=False, p=[0.25, 0.3, 0.2, 0.15, 0.1]))
            for lv in levels:
                kind = ["wedge", "biconcave", "crush"][int(rng.choice(3, p=[0.6, 0.25, 0.15]))]
                fractures[str(lv)] = (kind, round(float(rng.uniform(0.22, 0.45)), 3))
        elif rng.random() < 0.1:  # a mild non-fracture deformity (Genant grade 0): a nuisance
            lv = str(rng.choice(MODEL_LEVELS))
            fractures[lv] = ("wedge", round(float(rng.uniform(0.08, 0.17)), 3))
        lp = (HAZARD["bone"] * zb + HAZARD["muscle_hu"] * zmh + HAZARD["muscle_area"] * zma
              + HAZARD["age_per_10y"] * a10 + HAZARD["female"] * female + HAZARD["prevalent_vf"] * prevalent)
        rate = HAZARD["baseline_per_year"] * math.exp(lp)
        t_event = float(rng.exponential(1 / rate))
        t_cens = min(float(rng.uniform(*FOLLOW_UP["admin_years"])),
                     float(rng.exponential(FOLLOW_UP["dropout_mean_years"])))
        time = max(min(t_event, t_cens), 0.01)
        phases = list(cfg["phases"].keys())
        phase = phases[int(rng.choice(len(phases), p=list(cfg["phases"].values())))]
        out.append({
            "study": "%s-%04d" % (site, i + 1),
            "study_instance_uid": "2.25.%d%03d%06d%04d" % (9137, cfg["uid_root"], seed % 1000000, i + 1),
            "site": site,
            "prevalent_vf": prevalent,
            "fractured_levels": " ".join(lv for lv, (kind, loss) in sorted(fractures.items()) if loss >= 0.2),
            "time_years": round(time, 4),
            "event": int(t_event <= t_cens),
            "age": round(age, 1),
            "sex": "F" if female else "M",
            "height_m": round(height, 2),
            "habitus": habitus,
            "trab_hu_L1": round(trab_l1, 1),
            "muscle_hu_shift": round(mshift, 1),
            "muscle_scale": round(mscale, 3),
            "true_lp": round(lp, 4),
            "true_risk_2y": round(1 - math.exp(-2 * rate), 4),
            "true_risk_3y": round(1 - math.exp(-3 * rate), 4),
            "true_risk_5y": round(1 - math.exp(-5 * rate), 4),
            "true_prevalent_p": round(1 / (1 + math.exp(-lp_prev)), 4),
            "synthetic": 1,
            # for the phantom only
            "_trab": trab, "_fractures": fractures, "_phase": phase,
            "_noise": round(float(rng.uniform(*cfg["noise_hu"])), 1), "_seed": int(rng.integers(1, 2**31)),
        })
    return out


def phantom_args(p, site, out_dir):
    cfg = SITES[site]
    a = ["--out", out_dir, "--seed", str(p["_seed"]), "--pixel", str(cfg["pixel_mm"]),
         "--rows", str(cfg["matrix"]), "--cols", str(cfg["matrix"]), "--spacing", str(cfg["spacing_mm"]),
         "--thickness", str(cfg["thickness_mm"]), "--noise", str(p["_noise"]), "--kernel", cfg["kernel"],
         "--sex", p["sex"], "--height", str(p["height_m"]), "--habitus", p["habitus"], "--phase", p["_phase"],
         "--study-uid", p["study_instance_uid"],
         "--muscle-hu", str(p["muscle_hu_shift"]), "--muscle-scale", str(p["muscle_scale"])]
    for lv in LEVELS8:  # the image shows the latent HU plus the site's calibration offset
        a += ["--trab-hu", "%s:%.0f" % (lv, p["_trab"][lv] + cfg["bone_calibration_hu"])]
    for lv, (kind, loss) in sorted(p["_fractures"].items()):
        a += ["--fracture", "%s:%s:%s" % (lv, kind, loss)]
    return a


LABEL_COLUMNS = ["study", "study_instance_uid", "site", "prevalent_vf", "fractured_levels", "time_years", "event",
                 "age", "sex", "height_m", "habitus", "trab_hu_L1", "muscle_hu_shift", "muscle_scale", "true_lp",
                 "true_risk_2y", "true_risk_3y", "true_risk_5y", "true_prevalent_p", "synthetic"]


def assign_split(patients, fracs, seed):
    """p["split"] = train / val / test, stratified by (event, prevalent_vf), seeded."""
    rng = np.random.default_rng([seed, 99])
    strata = {}
    for i, p in enumerate(patients):
        strata.setdefault((p["event"], p["prevalent_vf"]), []).append(i)
    for key in sorted(strata):
        idx = list(strata[key])
        rng.shuffle(idx)
        n_val = int(round(fracs[1] * len(idx)))
        n_test = int(round(fracs[2] * len(idx)))
        for k, i in enumerate(idx):
            patients[i]["split"] = "test" if k < n_test else "val" if k < n_test + n_val else "train"


def write_labels(path, patients):
    cols = LABEL_COLUMNS + (["split"] if patients and "split" in patients[0] else [])
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for p in patients:
            w.writerow(p)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--site", choices=sorted(SITES), default="dev")
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--osteoscout", default=os.path.join(os.path.dirname(__file__), "..", "build-py", "bin",
                                                         "osteoscout"))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--labels-only", action="store_true", help="write labels.csv without phantoms")
    ap.add_argument("--split", default=None, metavar="TRAIN,VAL,TEST",
                    help="add a `split` column: fractions, stratified by event and prevalent fracture")
    args = ap.parse_args(argv)

    os.makedirs(args.out, exist_ok=True)
    patients = draw_patients(args.n, args.site, args.seed)
    if args.split:
        assign_split(patients, [float(x) for x in args.split.split(",")], args.seed)
    write_labels(os.path.join(args.out, "labels.csv"), patients)
    n_ev = sum(p["event"] for p in patients)
    n_prev = sum(p["prevalent_vf"] for p in patients)
    meta = {"synthetic": True, "note": "SYNTHETIC cohort: not patients, not for clinical use",
            "generator": "model/cohort.py", "site": args.site, "n": args.n, "seed": args.seed,
            "site_config": SITES[args.site], "hazard_log_hr": HAZARD, "prevalent_logit": PREVALENT,
            "follow_up": FOLLOW_UP, "events": n_ev, "prevalent": n_prev,
            "latents": "z_bone = (L1 HU - 150)/40; z_muscle_hu = shift/8; z_muscle_area = log(scale)/0.09"}
    with open(os.path.join(args.out, "cohort.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print("cohort %s: %d synthetic patients, %d prevalent fractures, %d new fractures during follow-up"
          % (args.site, args.n, n_prev, n_ev), flush=True)
    if args.labels_only:
        return 0

    ph_root = os.path.join(args.out, "phantoms")
    os.makedirs(ph_root, exist_ok=True)
    exe = os.path.abspath(args.osteoscout)

    def make(p):
        d = os.path.join(ph_root, p["study"])
        if os.path.exists(os.path.join(d, "truth.json")):
            return None  # already there (a rerun)
        r = subprocess.run([exe, "phantom"] + phantom_args(p, args.site, d), capture_output=True, text=True)
        return None if r.returncode == 0 else "%s: %s" % (p["study"], r.stderr.strip())

    errors = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as ex:
        for k, e in enumerate(ex.map(make, patients)):
            if e:
                errors.append(e)
            if (k + 1) % 50 == 0:
                print("  %d/%d phantoms" % (k + 1, len(patients)), flush=True)
    for e in errors[:10]:
        print("phantom failed: " + e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
