#!/usr/bin/env bash
# End-to-end demo on a fresh Debian machine: installs, builds, starts osteoscoutd with the
# shipped configuration on a temporary directory (plus one destination: DCMTK's storescp
# standing in for PACS), sends a synthetic CT series with DCMTK's storescu, waits for the
# analysis and the delivery of its SR and Secondary Capture pages, and prints
# `osteoscout status`, the job and the outbound queue. Leaves nothing running.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh build

work=$(mktemp -d /tmp/osteoscout-demo.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
set_args=(--set "node.data_dir=$work/data" --set "node.port=$port" --set node.min_free_mb=0 --set series.quiet_seconds=3)
pacs_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
osd=build/bin/osteoscoutd
osc=build/bin/osteoscout
pid=""
pacs_pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; [ -n "$pacs_pid" ] && kill "$pacs_pid" 2>/dev/null; wait 2>/dev/null; echo "demo files kept in $work"' EXIT

conf="$work/osteoscout.conf"
cp conf/osteoscout.conf "$conf"
cat >> "$conf" <<EOF2

[destination demo_pacs]
ae_title = DEMO_PACS
host = 127.0.0.1
port = $pacs_port
outputs = sr,sc
EOF2

# The synthetic demo model (models/demo), when the multitask plugin was built (libtorch), so the
# SR and summary page carry its risks; its name, card and the pages say it is not clinical.
if [ -f build/lib/osteoscout/plugins/multitask.so ]; then
  set_args+=(--set "node.plugin_dir=$PWD/build/lib/osteoscout/plugins")
  cat >> "$conf" <<EOF2

[model demo]
plugin = multitask
weights = $PWD/models/demo/osteoscout-demo.pt
EOF2
fi

echo "== a stand-in PACS: DCMTK storescp (AE DEMO_PACS, port $pacs_port) =="
mkdir -p "$work/pacs"
storescp -aet DEMO_PACS -od "$work/pacs" +xa "$pacs_port" 2>"$work/pacs.log" &
pacs_pid=$!

echo "== generating a SYNTHETIC (phantom) CT series, T10-S1, 2.5 mm slices, L1 wedge fracture =="
"$osc" phantom --out "$work/series" --spacing 2.5 --thickness 2.5 --seed 1 --fracture L1:wedge:0.35

echo "== starting osteoscoutd (AE OSTEOSCOUT, port $port, data $work/data) =="
"$osd" --config "$conf" "${set_args[@]}" 2>"$work/osteoscoutd.log" &
pid=$!
for _ in $(seq 50); do echoscu -to 2 127.0.0.1 "$port" -aec OSTEOSCOUT >/dev/null 2>&1 && break; sleep 0.2; done

echo "== sending it with storescu =="
TCP_NODELAY=1 storescu -to 30 +sd +sp '*.dcm' -aec OSTEOSCOUT -aet DEMO_PACS 127.0.0.1 "$port" "$work/series"

echo "== waiting for the series to complete and its job to run =="
for _ in $(seq 120); do
  state=$("$osc" --config "$conf" "${set_args[@]}" jobs --json |
          python3 -c 'import json,sys; j=json.load(sys.stdin); print(j[0]["state"] if j else "none")')
  case "$state" in done|failed) break;; esac
  sleep 0.5
done
echo "== waiting for the SR and SC pages to reach the stand-in PACS =="
for _ in $(seq 60); do
  [ "$(ls "$work/pacs" | wc -l)" -ge 4 ] && break
  sleep 0.5
done
"$osc" --config "$conf" "${set_args[@]}" status
echo
"$osc" --config "$conf" "${set_args[@]}" jobs
echo
"$osc" --config "$conf" "${set_args[@]}" show 1
kill -TERM "$pid"; wait "$pid"; pid=""
echo
"$osc" --config "$conf" "${set_args[@]}" outbound
echo "== what the PACS received =="
ls -l "$work/pacs"
echo "== the SR as a radiologist's viewer reads it (dsrdump, first lines) =="
dsrdump "$work/pacs"/SR* 2>/dev/null | head -60 || true
echo "== osteoscoutd log =="
cat "$work/osteoscoutd.log"
[ "$state" = done ]
