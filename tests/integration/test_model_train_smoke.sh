#!/usr/bin/env bash
# The training path end to end on a tiny SYNTHETIC cohort: model/fake_inputs.py writes random
# drawings in the model-input contract's format (docs/model-inputs.md) with labels,
# model/train.py trains a few steps (bone + muscle multitask with Nash-MTL weights, then the
# bone-only single-task variant), model/export.py writes TorchScript + model card, and the
# export is checked: it loads (Python and, through the multitask plugin, libtorch C++ in
# `osteoscout analyze`) and gives probabilities and monotone cumulative risks in [0, 1]. The
# shipped demo model (models/demo/) is served the same way when present.
. "$(dirname "$0")/lib.sh"

PY=""
for p in /usr/bin/python3 python3; do
  if "$p" -c 'import torch, numpy' 2>/dev/null; then PY=$p; break; fi
done
[ -n "$PY" ] || { echo "SKIP: no python3 with torch and numpy (python3-torch)"; exit 0; }
M="$OS_SOURCE_DIR/model"
W="$T/work"
start=$(date +%s)

"$PY" "$M/fake_inputs.py" --out "$W" --n 10 --seed 7 > "$T/fake.log" || fail "fake_inputs: $(cat "$T/fake.log")"
[ "$(wc -l < "$W/inputs/manifest.csv")" = 11 ] || fail "manifest rows: $(cat "$W/inputs/manifest.csv")"
head -1 "$W/labels.csv" | grep -q '^study,study_instance_uid,site,prevalent_vf,fractured_levels,time_years,event,age,sex' \
  || fail "labels header: $(head -1 "$W/labels.csv")"
pass "tiny synthetic cohort written in the contract format"

small=(--epochs 2 --max-steps 3 --batch 2 --width 4 --hidden 8 --val-frac 0.3 --min-epochs 1 --threads 2 --quiet)
"$PY" "$M/train.py" --labels "$W/labels.csv" --inputs "$W/inputs" --out "$W/mt" --weighting nash --seed 3 \
  "${small[@]}" > "$T/train_mt.log" 2>&1 || fail "train (multitask): $(tail -20 "$T/train_mt.log")"
"$PY" "$M/train.py" --labels "$W/labels.csv" --inputs "$W/inputs" --out "$W/st" --variant bone --task prediction \
  "${small[@]}" > "$T/train_st.log" 2>&1 || fail "train (bone-only prediction): $(tail -20 "$T/train_st.log")"
for r in mt st; do
  for f in checkpoint.pt metrics.json train_log.csv split.csv; do [ -s "$W/$r/$f" ] || fail "$r: no $f"; done
done
pass "trained: bone+muscle multitask (Nash-MTL) and bone-only single-task, a few steps each"

"$PY" "$M/export.py" --checkpoint "$W/mt/checkpoint.pt" --out "$W/export/mt.pt" --name smoke-mt --version 0.0.1 \
  > "$T/export.log" 2>&1 || fail "export (multitask): $(tail -20 "$T/export.log")"
"$PY" "$M/export.py" --checkpoint "$W/st/checkpoint.pt" --out "$W/export/st.pt" \
  >> "$T/export.log" 2>&1 || fail "export (prediction): $(tail -20 "$T/export.log")"
json "j['synthetic'] is True and j['clinical_use'] == 'NOT FOR CLINICAL USE' and j['inputs']['format'] == 'osteoscout-model-inputs' and j['inputs']['version'] == 1 and j['inputs']['variant'] == 'bone+muscle' and j['horizons_years'] == [1, 2, 3, 4, 5] and j['inputs']['hu_clip'] == [0.0, 1000.0] and j['inputs']['spacing_mm'] == [3.0, 1.0, 1.0] and j['training']['cohort']['synthetic'] is True and 'development_validation_split' in j['validation'] and 'NOT FOR CLINICAL USE' in j['intended_use']" \
  < "$W/export/mt.json" | grep -qx True || fail "model card: $(cat "$W/export/mt.json")"
json "j['inputs']['variant'] == 'bone' and j['training']['task'] == 'prediction'" < "$W/export/st.json" | grep -qx True \
  || fail "prediction card: $(cat "$W/export/st.json")"
pass "exported TorchScript and model cards (synthetic, not for clinical use, inputs version 1)"

# The exported TorchScript, loaded afresh as the node would, on every study of the cohort.
"$PY" - "$W/mt_preds.csv" "$W/export/st.pt" "$W/inputs" "$M" "$W/export/mt.pt" "$W/labels.csv" <<'PY' || fail "TorchScript outputs"
import csv, sys, os, torch
sys.path.insert(0, sys.argv[4])
import predict  # model/predict.py: what the bench uses to score cohorts
predict.main(["--model", sys.argv[5], "--inputs", sys.argv[3], "--labels", sys.argv[6], "--prefix", "mt",
              "--out", sys.argv[1]])
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 10, len(rows)
for r in rows:
    p = float(r["mt_prob"])
    cum = [float(r["mt_risk_%dy" % k]) for k in range(1, 6)]
    assert 0.0 <= p <= 1.0, r
    assert all(0.0 <= c <= 1.0 for c in cum), r
    assert all(b >= a for a, b in zip(cum, cum[1:])), ("not monotone", r)
m = torch.jit.load(sys.argv[2])
x = torch.rand(3, 5, 12, 160, 160) * 0.3
prob, cum = m(x, torch.zeros_like(x), torch.tensor([[1., 1, 1, 1, 1], [0, 1, 0, 1, 0], [0, 0, 0, 0, 0]]))
assert prob.shape == (3,) and cum.shape == (3, 5)
assert torch.isnan(prob).all(), "a single-task model reports no detection probability"
assert bool(((cum >= 0) & (cum <= 1)).all()) and bool((cum[:, 1:] >= cum[:, :-1]).all()), cum
try:
    m(x[:, :4], x[:, :4], torch.ones(3, 4))
    raise SystemExit("a wrong input shape was accepted")
except torch.jit.Error as e:
    assert "bone must be [B,5,12,160,160]" in str(e), e
PY
pass "TorchScript reloads: probabilities and monotone cumulative risks in [0, 1]; bad shapes refused"

# libtorch C++: the multitask plugin serves the exported model (and the shipped demo model).
PLUGINS="${OS_BUILD_DIR:?run through ctest}/lib/osteoscout/plugins"
if [ -f "$PLUGINS/multitask.so" ]; then
  cat >> "$CONF" <<EOF

[model smoke]
plugin = multitask
weights = $W/export/mt.pt
threads = 2
EOF
  demo=$(ls "$OS_SOURCE_DIR"/models/demo/*.pt 2>/dev/null | head -1 || true)
  if [ -n "$demo" ]; then
    cat >> "$CONF" <<EOF
[model demo]
plugin = multitask
weights = $demo
threads = 2
EOF
  fi
  DAEMON_ARGS+=(--set "node.plugin_dir=$PLUGINS")
  phantom --out "$T/ct" --seed 5 --pixel 2 --rows 192 --cols 192 --spacing 3 --thickness 3
  cli analyze "$T/ct" --json > "$T/an.json" 2> "$T/an.err" || fail "analyze with the models: $(cat "$T/an.err")"
  for name in smoke ${demo:+demo}; do
    json "j[0]['result']['models']['$name']" < "$T/an.json" > "$T/m.json"
    [ "$(json "j['status']" < "$T/m.json")" = ok ] || fail "$name model in the node: $(cat "$T/m.json")"
    json "[j['cumulative_risk'][str(k)] for k in range(1, 6)] == sorted(j['cumulative_risk'].values()) and all(0 <= v <= 1 for v in j['cumulative_risk'].values()) and 0 <= j['prevalent_fracture_probability'] <= 1 and j['synthetic'] is True" \
      < "$T/m.json" | grep -qx True || fail "$name model outputs in the node: $(cat "$T/m.json")"
  done
  pass "libtorch C++ (multitask plugin) serves the export${demo:+ and models/demo/$(basename "$demo")}: monotone risks in [0, 1]"
else
  echo "note: libtorch C++ load not exercised (no multitask.so in $PLUGINS: built without OS_WITH_TORCH)"
fi
echo "took $(( $(date +%s) - start )) s"
