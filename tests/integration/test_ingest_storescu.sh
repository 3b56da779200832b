#!/usr/bin/env bash
# A generated 200-slice CT series sent with DCMTK's storescu: every instance on disk and
# recorded, the series completes, is selected, and its job loads a volume of the right size.
. "$(dirname "$0")/lib.sh"

phantom --out "$T/series" --slices 200 --rows 256 --cols 256 --pixel 1.4 --spacing 2.5 --thickness 2.5 --seed 7
start_daemon

storescu -to 30 +sd +sp '*.dcm' -aec "$AE" -aet TESTSCU 127.0.0.1 "$PORT" "$T/series" >"$T/storescu.log" 2>&1 \
  || { cat "$T/storescu.log"; fail "storescu failed"; }
[ "$(db_instances)" = 200 ] || fail "database holds $(db_instances) instances, expected 200"
[ "$(count_spool_files)" = 200 ] || fail "spool holds $(count_spool_files) files, expected 200"
[ "$(count_incoming_files)" = 0 ] || fail "files left in .incoming"
pass "200 instances stored and recorded"

# Files are private to the service user.
perm=$(find "$DATA/spool" -type f -name '*.dcm' -printf '%m\n' | sort -u)
[ "$perm" = 600 ] || fail "spool files have mode $perm, expected 600"
[ "$(stat -c %a "$DATA")" = 700 ] || fail "data dir mode $(stat -c %a "$DATA")"
pass "spool files are private (0600, data dir 0700)"

# Bit-preserving: the stored file's data set equals the sent one byte for byte.
sent=$(ls "$T/series"/IM0100.dcm)
sop=$(dcmdump +P SOPInstanceUID "$sent" | sed -n 's/.*\[\(.*\)\].*/\1/p')
stored=$(find "$DATA/spool" -name "$sop.dcm")
cmp <(python3 -c "import sys,struct;r=open(sys.argv[1],'rb').read();print(r[144+struct.unpack('<I',r[140:144])[0]:].hex())" "$sent") \
    <(python3 -c "import sys,struct;r=open(sys.argv[1],'rb').read();print(r[144+struct.unpack('<I',r[140:144])[0]:].hex())" "$stored") \
  || fail "stored data set differs from the one sent"
pass "stored data set is bit-identical"

wait_until 60 job_state_is done || { cli jobs; fail "job did not finish"; }
cli series --json | json "[s['state'] for s in j]" | grep -q selected || fail "series not selected"
job=$(cli jobs --json | json "j[0]['id']")
cli show "$job" --json > "$T/show.json"
dims=$(json "j['results']['analysis']['volume']['dimensions']" < "$T/show.json")
[ "$dims" = "[256, 256, 200]" ] || fail "volume dimensions $dims"
zext=$(json "round(j['results']['analysis']['volume']['z_extent_mm'],1)" < "$T/show.json")
[ "$zext" = "497.5" ] || fail "z extent $zext, expected 497.5"
hu=$(json "j['results']['analysis']['volume']['hu']" < "$T/show.json")
json "j['min'] <= -990 and j['max'] >= 600" <<<"$hu" | grep -qx True || fail "HU range implausible: $hu"
pass "job done: 256x256x200, z extent 497.5 mm, HU $hu"

# A re-send of the same series changes nothing: no new rows, no second job.
storescu -to 30 +sd +sp '*.dcm' -aec "$AE" -aet TESTSCU 127.0.0.1 "$PORT" "$T/series" >"$T/storescu2.log" 2>&1 \
  || fail "re-send failed"
sleep 3
[ "$(db_instances)" = 200 ] || fail "re-send added rows"
[ "$(cli jobs --json | json 'len(j)')" = 1 ] || { cli jobs; fail "re-send created another job"; }
pass "re-sent instances are idempotent"

stop_daemon
pass "SIGTERM exits 0"
grep -q "SYNTHETIC" "$T/daemon.log" && fail "patient name in the log"
grep -q "$sop" "$T/daemon.log" && fail "SOP Instance UID in clear in the log"
pass "no patient data in the log"
