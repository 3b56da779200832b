#!/usr/bin/env bash
# Ingest benchmark: one 300-slice 512×512 CT series (explicit VR little endian, ~150 MB) sent
# with DCMTK's storescu to three receivers on loopback, one after another in this one run:
#   OsteoScout  (fsync of file and directory + SQLite commit, synchronous=FULL, per instance)
#   storescp    (DCMTK's reference SCP: writes files, no fsync, no database)
#   Orthanc     (Debian's package, its default storage and SQLite index)
# Prints instances/s (median of REPEAT runs) and OsteoScout's ratio to each.
# The sender runs with TCP_NODELAY=1 (Nagle off) for every receiver.
# usage: bench/ingest.sh [BUILD_DIR]   env: SLICES=300 REPEAT=3
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
SLICES=${SLICES:-300}
REPEAT=${REPEAT:-3}
osd=$build/bin/osteoscoutd
osc=$build/bin/osteoscout
[ -x "$osd" ] || { echo "build first: scripts/build.sh $build" >&2; exit 2; }
export TCP_NODELAY=1
work=$(mktemp -d /tmp/osteoscout-bench.XXXXXX)
pid=""
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null; rm -rf "$work"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_echo() { for _ in $(seq 100); do echoscu -to 2 127.0.0.1 "$1" -aec "$2" >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }

"$osc" phantom --out "$work/series" --slices "$SLICES" --rows 512 --cols 512 --spacing 1 --thickness 1 --seed 1 >/dev/null
bytes=$(du -sb "$work/series" | cut -f1)

# send PORT AE: prints seconds taken by storescu for the whole series
send() {
  local t0 t1
  t0=$(date +%s.%N)
  storescu -to 60 +sd +sp '*.dcm' -aec "$2" -aet BENCH 127.0.0.1 "$1" "$work/series" >/dev/null 2>&1 || { echo "send to $2 failed" >&2; exit 1; }
  t1=$(date +%s.%N)
  python3 -c "print($t1-$t0)"
}
median() { python3 -c "import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))" "$@"; }

run_osteoscout() {
  local p; p=$(port)
  rm -rf "$work/os"
  "$osd" --config conf/osteoscout.conf --set "node.data_dir=$work/os" --set "node.port=$p" --set node.min_free_mb=0 \
         --set series.quiet_seconds=3600 --set log.level=warning 2>>"$work/os.log" &
  pid=$!
  wait_echo "$p" OSTEOSCOUT
  send "$p" OSTEOSCOUT
  kill -TERM $pid; wait $pid; pid=""
}
run_storescp() {
  local p; p=$(port)
  rm -rf "$work/scp"; mkdir -p "$work/scp"
  storescp -aet STORESCP -od "$work/scp" "$p" 2>>"$work/scp.log" &
  pid=$!
  wait_echo "$p" STORESCP
  send "$p" STORESCP
  kill $pid; wait $pid 2>/dev/null || true; pid=""
}
run_orthanc() {
  local p h; p=$(port); h=$(port)
  rm -rf "$work/orthanc"; mkdir -p "$work/orthanc"
  cat > "$work/orthanc.json" <<JSON
{ "Name": "bench", "StorageDirectory": "$work/orthanc", "IndexDirectory": "$work/orthanc",
  "DicomAet": "ORTHANC", "DicomPort": $p, "HttpPort": $h, "RemoteAccessAllowed": false,
  "DicomCheckCalledAet": false, "Plugins": [] }
JSON
  Orthanc "$work/orthanc.json" >>"$work/orthanc.log" 2>&1 &
  pid=$!
  wait_echo "$p" ORTHANC
  send "$p" ORTHANC
  kill $pid; wait $pid 2>/dev/null || true; pid=""
}

declare -A secs
receivers=(osteoscout storescp)
command -v Orthanc >/dev/null && receivers+=(orthanc) || echo "Orthanc not installed: skipped (apt-get install orthanc)"
for r in "${receivers[@]}"; do
  runs=()
  for _ in $(seq "$REPEAT"); do runs+=("$(run_$r)"); done
  secs[$r]=$(median "${runs[@]}")
done

printf '\nIngest of one %d-slice 512x512 CT series (%.0f MB), storescu sender with TCP_NODELAY=1, median of %d runs\n' \
  "$SLICES" "$(python3 -c "print($bytes/1e6)")" "$REPEAT"
printf '%-12s %10s %14s %10s\n' receiver seconds instances/s MB/s
for r in "${receivers[@]}"; do
  python3 -c "s=${secs[$r]}; print('%-12s %10.2f %14.1f %10.1f' % ('$r', s, $SLICES/s, $bytes/1e6/s))"
done
for r in "${receivers[@]}"; do
  [ "$r" = osteoscout ] && continue
  python3 -c "print('osteoscout / %s = %.2f (instances/s ratio)' % ('$r', ${secs[$r]}/${secs[osteoscout]}))"
done
