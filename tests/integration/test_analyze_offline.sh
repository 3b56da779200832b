#!/usr/bin/env bash
# `osteoscout analyze` offline: files grouped into studies, the daemon's series choice, one
# result per study in JSON and CSV, SR/SC written with --dicom, and an exit status that says
# whether every study succeeded.
. "$(dirname "$0")/lib.sh"

IN="$T/in"
# Two studies: a coarse phantom with an L1 fracture, and one whose only series is too short.
phantom --out "$IN/a" --seed 11 --pixel 2 --spacing 3 --thickness 3 --fracture L1:wedge:0.35
phantom --out "$IN/b" --seed 12 --pixel 2 --slices 12
echo "not dicom" > "$IN/readme.txt"

set +e
cli analyze "$IN" --json > "$T/all.json" 2> "$T/err.txt"
rc=$?
set -e
[ $rc -eq 1 ] || fail "exit status $rc with one unusable study, expected 1"
grep -q "files skipped: not readable DICOM" "$T/err.txt" || fail "skipped file not reported: $(cat "$T/err.txt")"
[ "$(json "len(j)" < "$T/all.json")" = 2 ] || fail "expected 2 studies"
json "sorted(s['status'] for s in j)" < "$T/all.json" | grep -qx "\[\"no usable series\", \"ok\"\]" \
  || fail "statuses $(json "[s['status'] for s in j]" < "$T/all.json")"
json "[s for s in j if s['status'] != 'ok'][0]['error']" < "$T/all.json" | grep -q "slices" \
  || fail "no reason for the unusable study"
ok="[s for s in j if s['status'] == 'ok'][0]['result']"
json "$ok['synthetic'] and any(v['label'] == 'L1' and v['genant_grade'] >= 1 for v in $ok['vertebrae'])" \
  < "$T/all.json" | grep -qx True || fail "L1 fracture not graded: $(json "[(v['label'], v['genant_grade']) for v in $ok['vertebrae']]" < "$T/all.json")"
json "all('reference' in v for v in $ok['vertebrae'] if v['label'] != '?')" < "$T/all.json" | grep -qx True \
  || fail "vertebrae without a slice reference"
pass "JSON: one item per study, reasons, fracture graded"

cli analyze "$IN/a" --csv --out "$T/out" --dicom > "$T/a.csv" || fail "analyze of a good study failed"
[ "$(wc -l < "$T/a.csv")" = 2 ] || fail "CSV: expected a header and one row"
head -1 "$T/a.csv" | grep -q "^study_uid,series_uid,status" || fail "CSV header"
python3 - "$T/a.csv" <<'PY' || fail "CSV row"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
r = rows[0]
assert r["status"] == "ok" and r["synthetic"] == "true", r
assert "L1:" in r["fractures"], r["fractures"]
assert float(r["l1_hu_mean"]) > 0, r
PY
study=$(ls "$T/out" | grep -v '\.json$')
[ -f "$T/out/$study.json" ] || fail "--out did not write the result"
n_sc=$(ls "$T/out/$study"/sc-*.dcm | wc -l)
[ "$n_sc" = 3 ] || fail "expected 3 SC pages, found $n_sc"
dcmdump +P SOPClassUID "$T/out/$study/sr.dcm" | grep -q "ComprehensiveSRStorage" || fail "SR is not Comprehensive SR"
pass "CSV row, result file, SR and 3 SC pages written"

set +e
cli analyze "$T/nowhere" > /dev/null 2>&1; rc=$?
set -e
[ $rc -eq 1 ] || fail "missing path: exit $rc"
set +e
cli analyze --json --csv "$IN" > /dev/null 2>&1; rc=$?
set -e
[ $rc -eq 2 ] || fail "bad usage: exit $rc"
pass "exit statuses"
