#!/usr/bin/env bash
# The risk-model table on SYNTHETIC cohorts, in one command, and the shipped demo model:
#   1. model/cohort.py: a development cohort and an "external" one with a site shift
#      (phantoms written by `osteoscout phantom`, labels with a known hazard, censoring);
#   2. `osteoscout analyze --csv --export-inputs`: measurements (L1 HU) and the model inputs,
#      built by the C pipeline exactly as the node serves them (docs/model-inputs.md);
#   3. model/train.py: bone + muscle multitask, bone-only multitask, bone + muscle single-task
#      prediction (one train/val/test split of the development cohort, early stopping on the
#      validation c-index); model/export.py: TorchScript + model card each;
#   4. model/predict.py on the development test split and the external cohort (the TorchScript
#      files, as served); model/scores.py adds the L1 HU baseline and a clinical Cox model
#      (age, sex) fitted on the development train + val rows;
#   5. `osteoscout evaluate` on each cohort's scores (detection: DeLong; prediction: Harrell's
#      and Uno's C, time-dependent AUROC at 2/3/5 years, bootstrap CIs) and model/table.py
#      prints the table in the paper's layout; model/effect.py tests, on each whole cohort,
#      whether the measured muscle adds to age, sex, prevalent fracture and L1 HU (nested Cox),
#      and whether the bone + muscle network's risk adds to the bone-only one's and back;
#   6. the bone + muscle multitask model goes to models/demo/ with its card (synthetic, not for
#      clinical use, the table's figures as its validation).
# Everything is synthetic: the figures say whether the pipeline learns what the generator put
# in, nothing about patients.
# usage: bench/model_table.sh [BUILD_DIR]
#   env: N_DEV=300 N_EXT=400 SEED=2 JOBS=2 OUT=BUILD_DIR/model_table EPOCHS=20 WIDTH=16
#        NASH=0 (1: also train the multitask model with Nash-MTL weights)
#        DEMO=1 (0: leave models/demo alone)  KEEP_PHANTOMS=0 (1: keep the DICOM files)
#        FRESH=0 (1: start again; otherwise finished steps are reused)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
build=${1:-build-py}
N_DEV=${N_DEV:-300}
N_EXT=${N_EXT:-400}
SEED=${SEED:-2}
JOBS=${JOBS:-2}
EPOCHS=${EPOCHS:-20}
WIDTH=${WIDTH:-16}
NASH=${NASH:-0}
DEMO=${DEMO:-1}
KEEP_PHANTOMS=${KEEP_PHANTOMS:-0}
OUT=${OUT:-$build/model_table}
PY=/usr/bin/python3
"$PY" -c 'import torch, numpy' 2>/dev/null || PY=python3
"$PY" -c 'import torch, numpy' || { echo "needs python3-torch and python3-numpy" >&2; exit 2; }

if [ ! -x "$build/bin/osteoscout" ] || [ ! -f "$build/lib/osteoscout/plugins/multitask.so" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j"$JOBS" --target osteoscout multitask l1hu >/dev/null
fi
OSC=$ROOT/$build/bin/osteoscout
[ "${build:0:1}" = / ] && OSC=$build/bin/osteoscout
"$OSC" evaluate --help >/dev/null 2>&1 || echo "note: 'osteoscout evaluate' is not in this build yet; the table step will fail"
[ "${FRESH:-0}" = 1 ] && rm -rf "$OUT"
mkdir -p "$OUT"
: > "$OUT/empty.conf" # no [model] sections: analyze measures and exports, runs no model
T0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - T0 )) s] $*"; echo "$(( $(date +%s) - T0 )) $*" >> "$OUT/timing.txt"; }
: > "$OUT/timing.txt"

# ---- 1 + 2: cohorts, analysis, model inputs
cohort() { # NAME SITE N SPLIT
  local d=$OUT/$1
  if [ ! -f "$d/.analyzed" ]; then
    "$PY" model/cohort.py --out "$d" --site "$2" --n "$3" --seed "$SEED" --osteoscout "$OSC" --jobs "$JOBS" \
      ${4:+--split "$4"}
    stamp "$1: $3 phantoms written"
    rm -rf "$d"/inputs_* "$d"/analyze_*.csv
    local k=0 pids=()
    mapfile -t dirs < <(find "$d/phantoms" -mindepth 1 -maxdepth 1 -type d | sort)
    for k in $(seq 0 $((JOBS - 1))); do
      chunk=()
      for i in "${!dirs[@]}"; do [ $((i % JOBS)) = "$k" ] && chunk+=("${dirs[$i]}"); done
      [ ${#chunk[@]} -gt 0 ] || continue
      "$OSC" --config "$OUT/empty.conf" analyze "${chunk[@]}" --csv --export-inputs "$d/inputs_$k" \
        > "$d/analyze_$k.csv" 2> "$d/analyze_$k.err" &
      pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || true; done # a study that fails is reported, not fatal
    local n_ok; n_ok=$(cat "$d"/inputs_*/manifest.csv 2>/dev/null | grep -vc '^study,' || true)
    stamp "$1: analyzed, $n_ok of $3 studies with model inputs"
    if [ "$KEEP_PHANTOMS" != 1 ]; then find "$d/phantoms" -name '*.dcm' -delete; fi
    touch "$d/.analyzed"
  fi
}
cohort dev dev "$N_DEV" 0.6,0.2,0.2
cohort ext external "$N_EXT" ""
inputs_of() { for x in "$OUT/$1"/inputs_*; do printf -- '--inputs\n%s\n' "$x"; done; }
mapfile -t DEV_IN < <(inputs_of dev)
mapfile -t EXT_IN < <(inputs_of ext)

# ---- 3: training and export
models=(bm_mt bone_mt bm_st)
[ "$NASH" = 1 ] && models+=(bm_nash)
train() { # NAME ARGS...
  local name=$1; shift
  if [ ! -f "$OUT/runs/$name/checkpoint.pt" ]; then
    "$PY" model/train.py --labels "$OUT/dev/labels.csv" "${DEV_IN[@]}" --out "$OUT/runs/$name" --seed "$SEED" \
      --epochs "$EPOCHS" --width "$WIDTH" --threads "$JOBS" "$@" | tee "$OUT/runs/$name.log"
    stamp "trained $name"
  fi
  "$PY" model/export.py --checkpoint "$OUT/runs/$name/checkpoint.pt" --out "$OUT/models/$name.pt" >/dev/null
}
mkdir -p "$OUT/runs" "$OUT/models"
train bm_mt --variant bone+muscle --task multitask
train bone_mt --variant bone --task multitask
train bm_st --variant bone+muscle --task prediction
[ "$NASH" = 1 ] && train bm_nash --variant bone+muscle --task multitask --weighting nash

# ---- 4: predictions and scores
"$PY" - "$OUT/dev/labels.csv" "$OUT/dev/labels_test.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
with open(sys.argv[2], "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0].keys()), lineterminator="\n")
    w.writeheader()
    w.writerows(r for r in rows if r.get("split") == "test")
PY
for m in "${models[@]}"; do
  "$PY" model/predict.py --model "$OUT/models/$m.pt" "${DEV_IN[@]}" --labels "$OUT/dev/labels_test.csv" \
    --prefix "$m" --out "$OUT/dev/pred_$m.csv"
  "$PY" model/predict.py --model "$OUT/models/$m.pt" "${EXT_IN[@]}" --labels "$OUT/ext/labels.csv" \
    --prefix "$m" --out "$OUT/ext/pred_$m.csv"
done
stamp "predicted"
pred_args() { for m in "${models[@]}"; do printf -- '--pred\n%s\n' "$OUT/$1/pred_$m.csv"; done; }
mapfile -t DEV_PRED < <(pred_args dev)
mapfile -t EXT_PRED < <(pred_args ext)
"$PY" model/scores.py --labels "$OUT/dev/labels.csv" --rows test --analyze "$OUT"/dev/analyze_*.csv \
  "${DEV_PRED[@]}" --cox-json "$OUT/cox.json" --out "$OUT/scores_dev.csv"
"$PY" model/scores.py --labels "$OUT/ext/labels.csv" --cox-fit "$OUT/dev/labels.csv" --analyze "$OUT"/ext/analyze_*.csv \
  "${EXT_PRED[@]}" --out "$OUT/scores_ext.csv"

# ---- 5: evaluate and the table
pred_scores=(); det_scores=(); risk_cols=()
for m in "${models[@]}"; do
  pred_scores+=(--score "$m")
  [ "$m" = bm_st ] || det_scores+=(--score "${m}_det")
  for h in 2 3 5; do risk_cols+=(--risk-col "$m:$h=${m}_risk_${h}y"); done
done
for h in 2 3 5; do risk_cols+=(--risk-col "cox:$h=cox_risk_${h}y"); done
for c in dev ext; do
  "$OSC" evaluate "$OUT/scores_$c.csv" --time time_years --event event "${pred_scores[@]}" --score l1hu --score cox \
    --score oracle --horizons 2,3,5 --bootstrap 200 --seed "$SEED" "${risk_cols[@]}" --json > "$OUT/eval_pred_$c.json"
  "$OSC" evaluate "$OUT/scores_$c.csv" --time time_years --event event --label prevalent_vf "${det_scores[@]}" \
    --score l1hu --score cox --score oracle_det --bootstrap 0 --json > "$OUT/eval_det_$c.json"
  for h in 2 3 5; do # the k-year AUROC of each model's k-year risk
    k_scores=()
    for m in "${models[@]}"; do k_scores+=(--score "${m}_risk_${h}y"); done
    "$OSC" evaluate "$OUT/scores_$c.csv" --time time_years --event event "${k_scores[@]}" --horizons "$h" \
      --bootstrap 200 --seed "$SEED" --json > "$OUT/eval_pred_${c}_${h}y.json"
  done
done
stamp "evaluated"
per_h() { for h in 2 3 5; do printf '%s\n' "$h=$OUT/eval_pred_${1}_${h}y.json"; done; }
mapfile -t DEV_H < <(per_h dev)
mapfile -t EXT_H < <(per_h ext)
"$PY" model/table.py --cohort "Development cohort, test split" "$OUT/eval_det_dev.json" "$OUT/eval_pred_dev.json" \
  "$OUT/scores_dev.csv" "${DEV_H[@]}" --cohort "External cohort (site shift)" "$OUT/eval_det_ext.json" \
  "$OUT/eval_pred_ext.json" "$OUT/scores_ext.csv" "${EXT_H[@]}" --out "$OUT/table.md" --json-out "$OUT/table.json"

# ---- 5b: does what the pipeline measures carry the muscle effect? Nested Cox models on each whole
# cohort (model/effect.py): more power than the networks' paired comparison on the test split.
{
  echo
  echo "Muscle beyond bone in the pipeline's measurements (whole cohorts, nested Cox, likelihood-ratio test):"
  echo
  for c in dev ext; do
    "$PY" model/effect.py --labels "$OUT/$c/labels.csv" --analyze "$OUT"/$c/analyze_*.csv --name "$c" \
      --json "$OUT/effect_$c.json" | sed 's/^/- /'
  done
  echo
  echo "Muscle beyond bone in the networks (the same test on each cohort's scores: does one network's 5-year risk add to the other's?):"
  echo
  for c in dev ext; do
    "$PY" model/effect.py --scores "$OUT/scores_$c.csv" --pair bm_mt bone_mt --name "$c" \
      --json "$OUT/effect_net_$c.json" | sed 's/^/- /'
  done
} | tee -a "$OUT/table.md"
stamp "muscle effect tested"

# ---- 6: the demo model
if [ "$DEMO" = 1 ]; then
  mkdir -p models/demo
  "$PY" model/export.py --checkpoint "$OUT/runs/bm_mt/checkpoint.pt" --out models/demo/osteoscout-demo.pt \
    --name osteoscout-demo-synthetic --version "0.1.0-synthetic" --metrics "synthetic_table=$OUT/table.json" \
    --metrics "clinical_cox_baseline=$OUT/cox.json" --cohort-json "$OUT/dev/cohort.json"
fi
stamp "done"
echo "timing (s): $(tr '\n' ';' < "$OUT/timing.txt")"
echo "CPU time of this run (user, system; the shell, then its children):"
times
