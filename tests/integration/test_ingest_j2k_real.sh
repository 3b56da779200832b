#!/usr/bin/env bash
# The real Siemens JPEG 2000 lossless series (../shared/data/ct-siemens-j2k, 20 slices) sent
# with dcmsend, which proposes each file's own transfer syntax: stored as received, decoded
# with OpenJPEG by the job. Skips when the shared data is absent (it is not ours to commit).
. "$(dirname "$0")/lib.sh"

SRC="${OS_SHARED_DIR:-$OS_SOURCE_DIR/../shared}/data/ct-siemens-j2k"
if [ ! -d "$SRC" ]; then echo "SKIP: $SRC not present"; exit 0; fi
n=$(ls "$SRC" | wc -l)

# 20 slices 2 mm apart: below the production minimums, so this test lowers them.
DAEMON_ARGS+=(--set series.min_slices=10 --set series.min_z_coverage_mm=30)
start_daemon
dcmsend -to 30 +sd -aec "$AE" -aet TESTSCU 127.0.0.1 "$PORT" "$SRC" >"$T/dcmsend.log" 2>&1 \
  || { cat "$T/dcmsend.log"; fail "dcmsend failed"; }
[ "$(db_instances)" = "$n" ] || fail "database holds $(db_instances) instances, expected $n"
cli series --json | json "j[0]['n_instances']" | grep -qx "$n" || fail "series count"
for f in "$SRC"/*; do
  sop=$(dcmdump +P SOPInstanceUID "$f" | sed -n 's/.*\[\(.*\)\].*/\1/p')
  stored=$(find "$DATA/spool" -name "$sop.dcm")
  [ -n "$stored" ] || fail "instance $sop not in the spool"
  ts=$(dcmdump -M +P TransferSyntaxUID "$stored" | sed -n 's/.*=\([A-Za-z0-9]*\).*/\1/p')
  [ "$ts" = "JPEG2000LosslessOnly" ] || fail "stored transfer syntax $ts, expected JPEG 2000 lossless"
done
pass "$n JPEG 2000 instances stored as received"

wait_until 60 job_state_is done || { cli jobs; fail "job did not finish"; }
job=$(cli jobs --json | json "j[0]['id']")
cli show "$job" --json > "$T/show.json"
v="j['results']['analysis']['volume']"
[ "$(json "$v['dimensions']" < "$T/show.json")" = "[512, 512, $n]" ] || fail "dimensions"
json "$v['hu']['min'] <= -1000 and 1000 <= $v['hu']['max'] <= 4000" < "$T/show.json" | grep -qx True \
  || fail "HU range $(json "$v['hu']" < "$T/show.json")"
pass "job decoded the real J2K series: $(json "$v['dimensions']" < "$T/show.json"), HU $(json "[$v['hu']['min'], $v['hu']['max']]" < "$T/show.json")"
# Partial coverage (about T11–T12, no sacrum, last rib out of view): the pipeline must not
# invent anatomy. It names no level it cannot place and says which are missing.
a="j['results']['analysis']"
json "[v.get('label') for v in $a['vertebrae'] if v.get('label') not in (None, '?')]" < "$T/show.json" | grep -qx '\[\]' \
  || fail "levels invented on a partial scan: $(json "[v.get('label') for v in $a['vertebrae']]" < "$T/show.json")"
json "$a['anatomy']['levels_missing']" < "$T/show.json" | grep -q '"L1"' || fail "L1 not reported missing"
json "$a['muscle']['L3']['area_cm2'] is None and $a['bone_density']['category'] is None" < "$T/show.json" | grep -qx True \
  || fail "L3 muscle or L1 density reported on a scan that does not hold them"
json "any('not reported' in w for w in $a['warnings'])" < "$T/show.json" | grep -qx True || fail "no missing-level warning"
pass "partial real scan: no level invented, missing levels named"
stop_daemon
