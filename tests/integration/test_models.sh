#!/usr/bin/env bash
# Risk models served through plugins: [model] sections with the l1hu baseline and the
# multitask plugin (running a tiny TorchScript model of docs/model-inputs.md's interface,
# written here by python3-torch). `analyze --export-inputs` writes each study's model inputs
# and DIR/manifest.csv and runs the models; the daemon opens the models in each worker at
# start-up, puts their outcome in the job's result, and refuses to start, saying why, when a
# model cannot load.
. "$(dirname "$0")/lib.sh"

PLUGINS="${OS_BUILD_DIR:?run through ctest}/lib/osteoscout/plugins"
[ -f "$PLUGINS/l1hu.so" ] || fail "l1hu.so is not in $PLUGINS"
have_mt=0
if [ -f "$PLUGINS/multitask.so" ] && /usr/bin/python3 -c 'import torch' 2>/dev/null; then have_mt=1; fi

cat >> "$CONF" <<EOF

[model baseline]
plugin = l1hu
EOF
if [ $have_mt = 1 ]; then
  mkdir -p "$T/model"
  # TorchScript reads the module's source: the script must be a file, not stdin.
  cat > "$T/model/make.py" <<'PY'
import json, sys, torch
from typing import Tuple
torch.manual_seed(0)
class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.det = torch.nn.Linear(10, 1)
        self.haz = torch.nn.Linear(10, 5)
    def forward(self, bone: torch.Tensor, muscle: torch.Tensor, present: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        w = present.clamp(0.0, 1.0)
        x = torch.cat([bone.mean(dim=(2, 3, 4)) * w, muscle.mean(dim=(2, 3, 4)) * w], 1) * 5.0
        cum = 1.0 - torch.cumprod(1.0 - torch.sigmoid(self.haz(x) - 2.0), dim=1)
        return torch.sigmoid(self.det(x)).squeeze(1), cum
torch.jit.script(Tiny()).save(sys.argv[1])
json.dump({"name": "tiny-multitask", "version": "0.0.1", "synthetic": True,
           "inputs": {"format": "osteoscout-model-inputs", "version": 1},
           "horizons_years": [1, 2, 3, 4, 5]}, open(sys.argv[2], "w"))
PY
  /usr/bin/python3 "$T/model/make.py" "$T/model/tiny.pt" "$T/model/tiny.json" || fail "cannot write the tiny model"
  cat >> "$CONF" <<EOF
[model multitask]
plugin = multitask
weights = $T/model/tiny.pt
threads = 1
EOF
else
  echo "note: multitask not exercised (no multitask.so or no python3 with torch)"
fi
DAEMON_ARGS+=(--set "node.plugin_dir=$PLUGINS")

IN="$T/in"
phantom --out "$IN/a" --seed 21 --pixel 1.5 --rows 280 --cols 280 --spacing 3 --thickness 3

# ---- offline: analyze --export-inputs runs the models and writes the inputs
cli analyze "$IN" --json --export-inputs "$T/inputs" > "$T/all.json" || fail "analyze failed"
r="j[0]['result']"
[ "$(json "$r['models']['baseline']['status']" < "$T/all.json")" = ok ] || fail "baseline: $(json "$r['models']" < "$T/all.json")"
if [ $have_mt = 1 ]; then
  json "$r['models']['multitask']" < "$T/all.json" > "$T/mt.json"
  [ "$(json "j['status']" < "$T/mt.json")" = ok ] || fail "multitask: $(cat "$T/mt.json")"
  json "[j['cumulative_risk'][str(k)] for k in range(1, 6)] == sorted(j['cumulative_risk'].values()) and 0 < j['prevalent_fracture_probability'] < 1" \
    < "$T/mt.json" | grep -qx True || fail "multitask outputs: $(cat "$T/mt.json")"
fi
pass "analyze: models ran ($( json "sorted($r['models'])" < "$T/all.json"))"

[ "$(wc -l < "$T/inputs/manifest.csv")" = 2 ] || fail "manifest: $(cat "$T/inputs/manifest.csv")"
head -1 "$T/inputs/manifest.csv" | grep -qx "study,study_instance_uid,path,present_levels" || fail "manifest header"
study=$(tail -1 "$T/inputs/manifest.csv" | cut -d, -f1)
uid=$(json "j[0]['study_uid']" < "$T/all.json")
tail -1 "$T/inputs/manifest.csv" | grep -q "^$study,$uid,$study," || fail "manifest row: $(tail -1 "$T/inputs/manifest.csv")"
/usr/bin/python3 - "$T/inputs/$study" <<'PY' || fail "exported inputs"
import json, os, sys
import numpy as np
d = sys.argv[1]
meta = json.load(open(os.path.join(d, "inputs.json")))
assert meta["format"] == "osteoscout-model-inputs" and meta["version"] == 1, meta
assert meta["shape"] == [5, 12, 160, 160] and meta["levels"] == ["T12", "L1", "L2", "L3", "L4"], meta
assert meta["synthetic"] is True and meta["study_instance_uid"], meta
assert sum(meta["present"]) >= 4, meta["present"]
for name in ("bone.f32", "muscle.f32"):
    a = np.fromfile(os.path.join(d, name), dtype="<f4").reshape(5, 12, 160, 160)
    assert 0 <= a.min() and a.max() <= 1, (name, a.min(), a.max())
    for l in range(5):
        nz = np.count_nonzero(a[l])
        assert (nz > 500) == bool(meta["present"][l]), (name, l, nz, meta["present"])
PY
pass "inputs written: manifest row, inputs.json, bone.f32 and muscle.f32 of the contract"

# ---- the daemon: each worker opens the models; the job's result carries them
start_daemon
grep -q "models=[12] opened in each of 2 workers" "$T/daemon.log" || fail "models not opened per worker"
storescu -to 30 +sd +sp '*.dcm' -aec "$AE" -aet TESTSCU 127.0.0.1 "$PORT" "$IN/a" >"$T/storescu.log" 2>&1 \
  || { cat "$T/storescu.log"; fail "storescu failed"; }
wait_until 120 job_state_is done || { cli jobs; fail "job did not finish"; }
job=$(cli jobs --json | json "j[0]['id']")
cli show "$job" --json > "$T/show.json"
json "{k: v['status'] for k, v in j['results']['analysis']['models'].items()}" < "$T/show.json" > "$T/status.json"
json "set(j.values()) == {'ok'} and len(j) == $(( 1 + have_mt ))" < "$T/status.json" | grep -qx True \
  || fail "job's models: $(cat "$T/status.json")"
stop_daemon
pass "daemon: models opened per worker, job result has them ($(cat "$T/status.json"))"

# ---- a model that cannot load: --check-config and the daemon refuse, saying why
if [ $have_mt = 1 ]; then
  bad=(--set "model multitask.weights=$T/model/missing.pt")
  want="missing.pt: No such file or directory"
else
  bad=(--set "model baseline.scale_hu=-1")
  want="scale_hu"
fi
set +e
"$OSD" --config "$CONF" "${DAEMON_ARGS[@]}" "${bad[@]}" --check-config > "$T/check.txt" 2>&1; rc=$?
set -e
[ $rc = 2 ] || fail "--check-config with a broken model: exit $rc"
grep -q "$want" "$T/check.txt" || fail "--check-config: $(cat "$T/check.txt")"
set +e
timeout 60 "$OSD" --config "$CONF" "${DAEMON_ARGS[@]}" "${bad[@]}" > "$T/refused.txt" 2>&1; rc=$?
set -e
[ $rc = 1 ] || fail "daemon with a broken model: exit $rc, expected 1"
grep -q "cannot start: model " "$T/refused.txt" || fail "no reason given: $(cat "$T/refused.txt")"
grep -q "$want" "$T/refused.txt" || fail "reason lacks the cause: $(cat "$T/refused.txt")"
pass "broken model refused: $(grep -m1 "cannot start" "$T/refused.txt")"
