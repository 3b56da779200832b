#!/usr/bin/env bash
# Inference benchmark: what serving the multitask model costs per study on this machine, through
# the daemon's own calls (os_models_open, os_models_run: plugin, model inputs, TorchScript).
# Prints the load time (first worker: plugin + libtorch + model; each further worker: the model)
# and the time for one study's inference with the model load excluded (first call and median).
#
# The model: MODEL=path.pt (its card next to it) when given; else, when model/net.py exists, an
# untrained network of the shipped architecture (model/net.py MultitaskNet, scripted here: same
# cost as trained weights); else the tiny test model. The first line says which.
# usage: bench/inference.sh [BUILD_DIR]   env: MODEL=… THREADS=1 RUNS=5
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
THREADS=${THREADS:-1}
RUNS=${RUNS:-5}
tool=$build/bin/os_bench_inference
[ -x "$tool" ] || { echo "build first: cmake --build $build (target os_bench_inference)" >&2; exit 2; }
[ -f "$build/lib/osteoscout/plugins/multitask.so" ] || { echo "multitask.so not built (OS_WITH_TORCH=OFF?)" >&2; exit 2; }
PY=/usr/bin/python3
work=$(mktemp -d /tmp/osteoscout-bench-infer.XXXXXX)
trap 'rm -rf "$work"' EXIT

if [ -n "${MODEL:-}" ]; then
  echo "model: given, $MODEL"
  weights=$MODEL
elif [ -f model/net.py ]; then
  echo "model: shipped architecture (model/net.py MultitaskNet, untrained weights: timing only)"
  weights=$work/arch.pt
  cat > "$work/make.py" <<'PY'
import json, sys, torch
sys.path.insert(0, "model")
from net import MultitaskNet
torch.manual_seed(0)
net = MultitaskNet().eval()
torch.jit.script(net).save(sys.argv[1])
json.dump({"name": "multitask-architecture-untrained", "version": "bench",
           "inputs": {"format": "osteoscout-model-inputs", "version": 1, "variant": net.variant},
           "horizons_years": list(range(1, net.horizons + 1)), "synthetic": True,
           "parameters": sum(p.numel() for p in net.parameters())}, open(sys.argv[2], "w"))
print("parameters: %d" % sum(p.numel() for p in net.parameters()))
PY
  "$PY" "$work/make.py" "$weights" "${weights%.pt}.json"
else
  echo "model: the tiny test model (model/ absent): not the shipped architecture"
  weights=$work/tiny_mt.pt
  cat > "$work/make.py" <<'PY'
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
           "inputs": {"format": "osteoscout-model-inputs", "version": 1}}, open(sys.argv[2], "w"))
PY
  "$PY" "$work/make.py" "$weights" "${weights%.pt}.json"
fi
echo "cpu: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
"$tool" --weights "$weights" --threads "$THREADS" --runs "$RUNS" --plugin-dir "$build/lib/osteoscout/plugins"
