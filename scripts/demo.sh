#!/usr/bin/env bash
# End-to-end demo on a fresh Debian machine: installs, builds, starts osteoscoutd with the
# shipped configuration on a temporary directory, sends a synthetic CT series with DCMTK's
# storescu, waits for the analysis and prints `osteoscout status`. Leaves nothing running.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh build

work=$(mktemp -d /tmp/osteoscout-demo.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
set_args=(--set "node.data_dir=$work/data" --set "node.port=$port" --set node.min_free_mb=0 --set series.quiet_seconds=3)
osd=build/bin/osteoscoutd
osc=build/bin/osteoscout
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; echo "demo files kept in $work"' EXIT

echo "== generating a synthetic (phantom) CT series: 120 slices, 512x512 =="
"$osc" phantom --out "$work/series" --slices 120 --spacing 2.5 --thickness 2.5 --seed 1

echo "== starting osteoscoutd (AE OSTEOSCOUT, port $port, data $work/data) =="
"$osd" --config conf/osteoscout.conf "${set_args[@]}" 2>"$work/osteoscoutd.log" &
pid=$!
for _ in $(seq 50); do echoscu -to 2 127.0.0.1 "$port" -aec OSTEOSCOUT >/dev/null 2>&1 && break; sleep 0.2; done

echo "== sending it with storescu =="
TCP_NODELAY=1 storescu -to 30 +sd +sp '*.dcm' -aec OSTEOSCOUT -aet DEMO_PACS 127.0.0.1 "$port" "$work/series"

echo "== waiting for the series to complete and its job to run =="
for _ in $(seq 120); do
  state=$("$osc" --config conf/osteoscout.conf "${set_args[@]}" jobs --json |
          python3 -c 'import json,sys; j=json.load(sys.stdin); print(j[0]["state"] if j else "none")')
  case "$state" in done|failed) break;; esac
  sleep 0.5
done
"$osc" --config conf/osteoscout.conf "${set_args[@]}" status
echo
"$osc" --config conf/osteoscout.conf "${set_args[@]}" jobs
echo
"$osc" --config conf/osteoscout.conf "${set_args[@]}" show 1
kill -TERM "$pid"; wait "$pid"; pid=""
echo "== osteoscoutd log =="
cat "$work/osteoscoutd.log"
[ "$state" = done ]
