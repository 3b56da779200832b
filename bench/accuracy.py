#!/usr/bin/env python3
"""Anatomy and measurement accuracy against known truth, over random synthetic phantoms.

Renders N phantoms (SYNTHETIC data: noise SD 10-30 HU, slices 1-5 mm, pixels 0.6-3 mm, random
habitus, bone density and fractures of Genant grade 0-3 at random levels), runs
`osteoscout analyze` on them (the daemon's pipeline) and prints, against the goals of issue 3:
level labelling accuracy, trabecular HU MAE, height MAE, Genant agreement, muscle area and HU
error at L3 and L1. Then times one 512x512x300 series and reports its peak memory.

usage: bench/accuracy.py [--build build] [--n 50] [--seed 1] [--keep DIR]"""
import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

LEVELS = ["T10", "T11", "T12", "L1", "L2", "L3", "L4", "L5"]
GRADE_LOSS = {1: (0.21, 0.24), 2: (0.27, 0.38), 3: (0.43, 0.55)}


def phantom_args(rng, i):
    pixel = rng.uniform(0.6, 3.0)
    spacing = rng.uniform(1.0, 5.0)
    matrix = max(128, min(512, int(round(380 / pixel))))
    args = ["--seed", str(1000 + i), "--random", "--pixel", "%.3f" % pixel, "--rows", str(matrix),
            "--cols", str(matrix), "--spacing", "%.2f" % spacing, "--thickness", "%.2f" % spacing,
            "--noise", "%.1f" % rng.uniform(10, 30), "--z-from", "T11", "--z-to", "S1"]
    for level in rng.sample(["T12", "L1", "L2", "L3", "L4"], rng.choice([0, 1, 1, 2])):
        grade = rng.choice([1, 2, 3])
        kind = rng.choice(["wedge", "biconcave", "crush"])
        args += ["--fracture", "%s:%s:%.3f" % (level, kind, rng.uniform(*GRADE_LOSS[grade]))]
    return args


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def dist(p, q):
    return sum((a - b) ** 2 for a, b in zip(p, q)) ** 0.5


def mae(xs):
    return statistics.mean(abs(x) for x in xs) if xs else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep")
    ap.add_argument("--details", action="store_true", help="one line per study")
    ap.add_argument("--no-speed", action="store_true", help="skip the 512x512x300 timing")
    a = ap.parse_args()
    osc = os.path.join(a.build, "bin", "osteoscout")
    work = a.keep or tempfile.mkdtemp(prefix="osteoscout-accuracy.")
    os.makedirs(work, exist_ok=True)
    rng = random.Random(a.seed)

    truths = {}
    t0 = time.time()
    for i in range(a.n):
        d = os.path.join(work, "p%03d" % i)
        shutil.rmtree(d, ignore_errors=True)
        run([osc, "phantom", "--out", d] + phantom_args(rng, i))
        t = json.load(open(os.path.join(d, "truth.json")))
        t["_dir"] = os.path.basename(d)
        truths[t["study_uid"]] = t
    render_s = time.time() - t0
    t0 = time.time()
    out = subprocess.run([osc, "analyze", work, "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    analyse_s = time.time() - t0
    studies = json.loads(out.stdout) if out.stdout.strip() else []

    labels_ok = labels_total = invented = 0
    hu_err, h_err, grade_pairs, area_err, mhu_err = [], [], [], [], []
    failed, details = [], []
    for s in studies:
        t = truths.get(s["study_uid"])
        if t is None:
            continue
        if s["status"] != "ok":
            failed.append(s["error"])
            continue
        r = s["result"]
        found = {v["label"]: v for v in r.get("vertebrae", []) if v.get("label") not in (None, "?")}
        in_scan = [v for v in t["vertebrae"] if v["in_scan"]]
        # A found label is wrong when the truth body nearest to its centre has another label.
        # S1 has no truth entry (the phantom's truth covers T10-L5), so it is not judged.
        bad = []
        for label, fv in found.items():
            if label not in LEVELS or fv.get("center_lps_mm") is None:
                continue
            near = min(t["vertebrae"], key=lambda tv: dist(fv["center_lps_mm"], tv["center_lps_mm"]))
            if near["label"] != label:
                bad.append(label)
        invented += len(bad)
        ok_here = 0
        worst_h = 0.0
        for tv in in_scan:
            labels_total += 1
            fv = found.get(tv["label"])
            if fv is None or fv.get("center_lps_mm") is None:
                continue
            if dist(fv["center_lps_mm"], tv["center_lps_mm"]) > 10:
                continue
            labels_ok += 1
            ok_here += 1
            if fv.get("trabecular_hu_mean") is not None:
                hu_err.append(fv["trabecular_hu_mean"] - tv["trabecular_hu"])
            for k in ("height_anterior_mm", "height_middle_mm", "height_posterior_mm"):
                if fv.get(k) is not None:
                    h_err.append(fv[k] - tv[k])
                    worst_h = max(worst_h, abs(fv[k] - tv[k]))
            if fv.get("genant_grade") is not None and fv["genant_grade"] >= 0:
                grade_pairs.append((fv["genant_grade"], tv["genant_grade"]))
        mus = []
        for level in ("L3", "L1"):
            tm = t.get("muscle", {}).get(level)
            fm = r.get("muscle", {}).get(level)
            if not tm:
                continue
            if not fm or fm.get("area_cm2") is None:
                area_err.append(float("nan"))
                mus.append("%s missing" % level)
                continue
            area_err.append(100 * (fm["area_cm2"] - tm["area_cm2"]) / tm["area_cm2"])
            mhu_err.append(fm["mean_hu"] - tm["mean_hu"])
            mus.append("%s %+.1f%% %+.1fHU" % (level, area_err[-1], mhu_err[-1]))
        details.append("%s px %.2f sl %.2f sd %4.1f: labels %d/%d%s, worst height %.2f mm, %s" % (
            t["_dir"], t["pixel_mm"],
            t["slice_spacing_mm"], t["noise_sd_hu"], ok_here, len(in_scan),
            (" WRONG " + ",".join(bad)) if bad else "", worst_h, "; ".join(mus)))

    agree = sum(1 for f, t in grade_pairs if f == t)
    worst = max((abs(f - t) for f, t in grade_pairs), default=0)
    fractured = [(f, t) for f, t in grade_pairs if t > 0]
    area_ok = [x for x in area_err if x == x]
    rows = [
        ("studies analysed", "%d of %d" % (len(studies) - len(failed), a.n), "all", len(failed) == 0 and len(studies) == a.n),
        ("level labelling accuracy", "%.1f %% (%d/%d), %d mislabelled" % (100 * labels_ok / max(labels_total, 1), labels_ok, labels_total, invented),
         "100 %", labels_ok == labels_total and invented == 0),
        ("trabecular HU MAE", "%.2f HU (n=%d)" % (mae(hu_err), len(hu_err)), "<= 5 HU", mae(hu_err) <= 5),
        ("height MAE", "%.2f mm (n=%d)" % (mae(h_err), len(h_err)), "<= 1 mm", mae(h_err) <= 1),
        ("Genant exact agreement", "%.1f %% (%d/%d), worst off by %d; fractured %d/%d exact" % (
            100 * agree / max(len(grade_pairs), 1), agree, len(grade_pairs), worst,
            sum(1 for f, t in fractured if f == t), len(fractured)), ">= 95 %, off by <= 1",
         agree >= 0.95 * len(grade_pairs) and worst <= 1),
        ("muscle area error (L3, L1)", "%.2f %% MAE, max %.2f %% (n=%d, %d missing)" % (
            mae(area_ok), max((abs(x) for x in area_ok), default=float("nan")), len(area_ok), len(area_err) - len(area_ok)),
         "<= 3 %", mae(area_ok) <= 3 and len(area_ok) == len(area_err)),
        ("muscle HU error (L3, L1)", "%.2f HU MAE (n=%d)" % (mae(mhu_err), len(mhu_err)), "<= 3 HU", mae(mhu_err) <= 3),
    ]
    print("\nAccuracy on %d random SYNTHETIC phantoms (seed %d; render %.0f s, analyse %.0f s = %.2f s/study)" % (
        a.n, a.seed, render_s, analyse_s, analyse_s / max(a.n, 1)))
    print("%-28s %-58s %-22s %s" % ("metric", "measured", "goal", "met"))
    for name, value, goal, ok in rows:
        print("%-28s %-58s %-22s %s" % (name, value, goal, "yes" if ok else "NO"))
    for e in failed[:5]:
        print("failed study: %s" % e)
    if a.details:
        print("\n".join(sorted(details)))
    if a.no_speed:
        return 0

    # Speed and memory on one 512x512x300 series.
    big = os.path.join(work, "big")
    shutil.rmtree(big, ignore_errors=True)
    run([osc, "phantom", "--out", big, "--seed", "7", "--rows", "512", "--cols", "512", "--pixel", "0.75",
         "--slices", "300", "--spacing", "1.5", "--thickness", "1.5"])
    times, peak_kb = [], 0
    for _ in range(3):
        t0 = time.time()
        p = subprocess.run(["/usr/bin/time", "-v", osc, "analyze", big], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        times.append(time.time() - t0)
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
        peak_kb = max(peak_kb, int(m.group(1)) if m else 0)
    vol_mb = 512 * 512 * 300 * 2 / 2 ** 20
    print("\n512x512x300 series, osteoscout analyze (read + volume + anatomy + measures), median of 3:")
    print("  %.2f s (goal <= 5 s); peak RSS %.0f MiB = %.2fx the int16 volume (%.0f MiB; goal <= 3x)" % (
        statistics.median(times), peak_kb / 1024, peak_kb / 1024 / vol_mb, vol_mb))
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
