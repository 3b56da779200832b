#!/usr/bin/env bash
# Results back in the radiologist's viewer: Orthanc plays the PACS. A phantom CT with a known L1
# compression fracture and L1 trabecular bone at 95 HU is uploaded to Orthanc over REST; Orthanc C-STOREs the study to osteoscoutd
# (as a PACS routing rule would); the node analyses it and sends its SR and Secondary Capture
# pages back. Orthanc's REST API then shows them in the same study, and the SR's numbers, as
# Orthanc parsed them, equal the node's result and lie near the phantom's truth.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/orthanc.sh"
t0=$(date +%s)

phantom --out "$T/ct" --rows 256 --cols 256 --pixel 1.5 --spacing 2 --thickness 2 --seed 1 \
  --fracture L1:crush:0.35 --trab-hu L1:95
study=$(json "j['study_uid']" < "$T/ct/truth.json")
n_ct=$(ls "$T/ct"/*.dcm | wc -l)

start_orthanc
start_daemon
[ "$(orthanc_upload "$T/ct")" = "$n_ct" ] || fail "upload"
sid=$(orthanc_study_id "$study")
[ "$(orthanc_instance_count)" = "$n_ct" ] || fail "Orthanc holds $(orthanc_instance_count) instances, not $n_ct"
pass "phantom ($n_ct CT slices, L1 crushed by 35 %, L1 trabecular 95 HU) uploaded to Orthanc as study $sid"

# Orthanc sends the study to the node, as a routing rule would.
orthanc POST /modalities/osteoscout/store "$sid" > "$T/store.json" || fail "Orthanc could not C-STORE to the node"
[ "$(db_instances)" = "$n_ct" ] || fail "the node holds $(db_instances) instances, not $n_ct"
pass "Orthanc C-STOREd $n_ct instances to osteoscoutd"

wait_until 75 job_state_is done || { cli jobs; fail "job did not finish"; }
job=$(cli jobs --json | json "j[0]['id']")
cli show "$job" --json > "$T/show.json"
pass "job $job done"

# The SR (series 9002) and three SC pages (9001) arrive in the same study.
sc_sr_arrived() { orthanc_series "$sid" | json "sorted((s['number'], len(s['instances'])) for s in j if s['number'] in (9001, 9002)) == [(9001, 3), (9002, 1)]" | grep -qx True; }
wait_until 30 sc_sr_arrived || { orthanc_series "$sid"; cli outbound; fail "SR and SC pages did not arrive in Orthanc's study"; }
orthanc_series "$sid" > "$T/series.json"
json "[(s['number'], s['modality'], len(s['instances'])) for s in j]" < "$T/series.json"
[ "$(json "[s['modality'] for s in j if s['number']==9002][0]" < "$T/series.json")" = SR ] || fail "series 9002 is not SR"
[ "$(json "[s['modality'] for s in j if s['number']==9001][0]" < "$T/series.json")" = OT ] || fail "series 9001 is not OT"
[ "$(orthanc_instance_count)" = "$((n_ct + 4))" ] || fail "Orthanc holds $(orthanc_instance_count) instances, not $((n_ct + 4))"
pass "Orthanc's study now holds the CT, the SR (9002) and 3 Secondary Capture pages (9001)"

# The SC pages: RGB secondary captures that reference the study's CT.
for inst in $(json "' '.join([s for s in j if s['number']==9001][0]['instances'])" < "$T/series.json"); do
  orthanc GET "/instances/$inst/tags?simplify" > "$T/sc.json"
  json "j['SOPClassUID']=='1.2.840.10008.5.1.4.1.1.7' and j['StudyInstanceUID']=='$study' and j['PhotometricInterpretation']=='RGB' and j['BurnedInAnnotation']=='YES'" \
    < "$T/sc.json" | grep -qx True || fail "SC $inst: $(json "[j.get(k) for k in ('SOPClassUID','PhotometricInterpretation','BurnedInAnnotation')]" < "$T/sc.json")"
done
pass "SC pages are RGB Secondary Captures with burned-in annotation, in the phantom's study"

# The SR as Orthanc holds it: its file parses with DCMTK and validates; its numbers match.
sr=$(json "[s for s in j if s['number']==9002][0]['instances'][0]" < "$T/series.json")
orthanc GET "/instances/$sr/file" > "$T/sr.dcm"
dsrdump "$T/sr.dcm" > "$T/sr.txt" || fail "dsrdump cannot read the SR Orthanc holds"
grep -q "Imaging Measurement Report" "$T/sr.txt" || fail "the SR is not an Imaging Measurement Report"
if command -v dciodvfy >/dev/null; then
  dciodvfy "$T/sr.dcm" > "$T/dciodvfy.txt" 2>&1 || true
  ! grep -q "^Error" "$T/dciodvfy.txt" || { grep "^Error" "$T/dciodvfy.txt"; fail "dciodvfy finds errors in the SR"; }
fi
orthanc GET "/instances/$sr/tags?simplify" > "$T/sr.json"
check_sr_against_truth "$T/sr.json" "$T/ct/truth.json" "$T/show.json" --fracture L1 \
  || fail "the SR in Orthanc does not match the phantom"
pass "the SR in Orthanc carries the node's numbers, near the phantom's truth"

# Each file went once: 4 rows, all sent at the first attempt; nothing else in Orthanc.
[ "$(outbound_summary)" = "sent:4 pending:0 dead:0 attempts:[1, 1, 1, 1]" ] || { cli outbound; fail "outbound: $(outbound_summary)"; }
cli outbound | grep -q orthanc || fail "outbound text lacks the destination"
pass "osteoscout outbound: $(outbound_summary)"

stop_daemon
stop_orthanc
pass "round trip in $(( $(date +%s) - t0 )) s"
