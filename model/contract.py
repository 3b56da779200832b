"""The model-input contract (docs/model-inputs.md, version 1) on the Python side.

Reads what `osteoscout analyze --export-inputs DIR` writes (DIR/<study>/{bone.f32, muscle.f32,
inputs.json} and DIR/manifest.csv), joins it to a labels manifest, and writes arrays in the same
format (for the training smoke test and for development without the C exporter). Nothing here
builds inputs from CT: that is lib/modelinput's job alone, so training and serving agree.
"""
import csv
import json
import math
import os

import numpy as np

FORMAT = "osteoscout-model-inputs"
VERSION = 1
LEVELS = ["T12", "L1", "L2", "L3", "L4"]
L, D, H, W = 5, 12, 160, 160
SHAPE = (L, D, H, W)
SPACING_MM = [3.0, 1.0, 1.0]
HU_CLIP = [0.0, 1000.0]
HU_SCALE = 1000.0
POSTERIOR_SHIFT_MM = 35.0

# What the model card says about the inputs: the numbers of docs/model-inputs.md version 1.
PREPROCESSING = {
    "document": "docs/model-inputs.md",
    "format": FORMAT,
    "version": VERSION,
    "levels": LEVELS,
    "shape": list(SHAPE),
    "axes": "[level][plane along the slice normal][row direction y][column direction x]",
    "spacing_mm": SPACING_MM,
    "resampling": "trilinear CT, nearest-neighbour masks",
    "patch_centre": "vertebral body centroid moved %g mm posteriorly; planes centred on it" % POSTERIOR_SHIFT_MM,
    "hu_clip": HU_CLIP,
    "scale": "HU clipped to [0, 1000] then divided by 1000",
    "bone_image": "value x vertebral body mask of the level",
    "muscle_image": "value x (erector spinae or psoas mask) within the vertebra's z-range",
    "present": "1 where the level was found whole, else 0 and its arrays are zero",
}


def read_study(folder, want_muscle=True, dtype=np.float32):
    """(bone, muscle, present, meta) of one exported study; muscle is None when not wanted."""
    with open(os.path.join(folder, "inputs.json")) as f:
        meta = json.load(f)
    if meta.get("format") != FORMAT or int(meta.get("version", -1)) != VERSION:
        raise ValueError("%s: not %s version %d" % (folder, FORMAT, VERSION))
    if list(meta.get("shape", [])) != list(SHAPE) or list(meta.get("levels", [])) != LEVELS:
        raise ValueError("%s: shape %s / levels %s, expected %s / %s"
                         % (folder, meta.get("shape"), meta.get("levels"), list(SHAPE), LEVELS))
    present = np.array([1.0 if p else 0.0 for p in meta["present"]], dtype=np.float32)

    def load(name):
        a = np.fromfile(os.path.join(folder, name), dtype="<f4")
        if a.size != L * D * H * W:
            raise ValueError("%s/%s: %d values, expected %d" % (folder, name, a.size, L * D * H * W))
        return a.reshape(SHAPE).astype(dtype, copy=False)

    bone = load("bone.f32")
    muscle = load("muscle.f32") if want_muscle else None
    return bone, muscle, present, meta


def write_study(folder, bone, muscle, present, study_uid=None, series_uid=None, synthetic=True):
    """Writes one study in the contract format (what lib/modelinput writes)."""
    os.makedirs(folder, exist_ok=True)
    for name, a in (("bone.f32", bone), ("muscle.f32", muscle)):
        a = np.ascontiguousarray(a, dtype="<f4")
        if a.shape != SHAPE:
            raise ValueError("%s has shape %s, expected %s" % (name, a.shape, SHAPE))
        tmp = os.path.join(folder, name + ".tmp")
        a.tofile(tmp)
        os.replace(tmp, os.path.join(folder, name))
    meta = {"format": FORMAT, "version": VERSION, "levels": LEVELS,
            "present": [1 if p else 0 for p in present], "shape": list(SHAPE), "spacing_mm": SPACING_MM,
            "dtype": "float32", "byte_order": "little", "files": "bone.f32 muscle.f32",
            "study_instance_uid": study_uid, "series_instance_uid": series_uid, "synthetic": bool(synthetic)}
    with open(os.path.join(folder, "inputs.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")


def append_manifest(export_dir, study, study_uid, path, present):
    """One row of DIR/manifest.csv, as os_model_inputs_manifest_append writes it."""
    mpath = os.path.join(export_dir, "manifest.csv")
    new = not os.path.exists(mpath) or os.path.getsize(mpath) == 0
    with open(mpath, "a", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        if new:
            w.writerow(["study", "study_instance_uid", "path", "present_levels"])
        w.writerow([study, study_uid or "", path, " ".join(LEVELS[i] for i in range(L) if present[i])])


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def num(s, default=float("nan")):
    """A CSV cell as a float; blank, NA and friends as default."""
    if s is None:
        return default
    s = str(s).strip()
    if s == "" or s.upper() in ("NA", "NAN", "NULL", "N/A", "NONE"):
        return default
    v = float(s)
    return v if math.isfinite(v) else default


def export_index(export_dir):
    """{study: folder} and {study_instance_uid: folder} of an export directory."""
    by_study, by_uid = {}, {}
    mpath = os.path.join(export_dir, "manifest.csv")
    if os.path.exists(mpath):
        for r in read_csv(mpath):
            p = r.get("path") or r["study"]
            folder = p if os.path.isabs(p) else os.path.join(export_dir, p)
            if not os.path.exists(os.path.join(folder, "inputs.json")):
                folder = os.path.join(export_dir, r["study"])
            by_study[r["study"]] = folder
            if r.get("study_instance_uid"):
                by_uid[r["study_instance_uid"]] = folder
    else:  # no manifest: every folder with an inputs.json
        for name in sorted(os.listdir(export_dir)):
            folder = os.path.join(export_dir, name)
            if os.path.exists(os.path.join(folder, "inputs.json")):
                by_study[name] = folder
    return by_study, by_uid


def join_labels(labels_csv, export_dir):
    """Rows of the labels manifest that have exported inputs, each with row['_folder'] set.
    Joined on `study`, else on `study_instance_uid`. Returns (rows, missing study names)."""
    by_study, by_uid = export_index(export_dir)
    rows, missing = [], []
    for r in read_csv(labels_csv):
        folder = by_study.get(r.get("study", ""))
        if folder is None and r.get("study_instance_uid"):
            folder = by_uid.get(r["study_instance_uid"])
        if folder is None:
            missing.append(r.get("study", "?"))
            continue
        r["_folder"] = folder
        rows.append(r)
    return rows, missing
