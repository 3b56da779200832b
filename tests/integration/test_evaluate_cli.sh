#!/usr/bin/env bash
# `osteoscout evaluate` as a user meets it: exit status 2 for bad usage and 1 for bad data,
# with messages that name the column and line; a seeded bootstrap that repeats exactly;
# --risk-col calibration; the readable table. The numbers themselves are checked against R in
# test_evaluate_reference.sh and by hand in tests/unit/test_eval.c.
. "$(dirname "$0")/lib.sh"

csv="$T/c.csv"
cat >"$csv" <<'EOF'
id,"follow, years",event,label,score,p2
a,1,1,1,0.9,0.8
b,2,0,0,0.1,0.1
c,2,1,1,0.7,0.6
"d ""quoted""",3,0,0,0.4,0.3
e,4,1,0,0.6,NA
f,5,0,1,0.8,0.7
g,6,0,0,,0.2
h,2.5,1,1,0.5,0.5
i,7,0,0,0.2,0.1
j,8,0,0,0.3,0.2
EOF
base=("$csv" --time "follow, years" --event event --score score)

expect_exit() { # expect_exit STATUS PATTERN COMMAND...
  local want=$1 pattern=$2; shift 2
  local rc=0
  "$@" >"$T/out" 2>"$T/err" || rc=$?
  [ "$rc" = "$want" ] || { cat "$T/out" "$T/err"; fail "exit $rc, expected $want: $*"; }
  grep -q -- "$pattern" "$T/err" || { cat "$T/err"; fail "message lacks '$pattern': $*"; }
}

expect_exit 2 "missing the cohort CSV" cli evaluate --time t --event e --score s
expect_exit 2 "--time COL is required" cli evaluate "$csv" --event event --score score
expect_exit 2 "at least one --score" cli evaluate "$csv" --time t --event event
expect_exit 2 "unknown option" cli evaluate "${base[@]}" --frobnicate
expect_exit 2 "positive number" cli evaluate "${base[@]}" --horizons 2,x
expect_exit 2 "names 2 twice" cli evaluate "${base[@]}" --horizons 2,2
expect_exit 2 "--bootstrap needs" cli evaluate "${base[@]}" --bootstrap -1
expect_exit 2 "must name its score" cli evaluate "${base[@]}" --score p2 --risk-col 2=p2
expect_exit 2 "not among --horizons" cli evaluate "${base[@]}" --risk-col 4=p2
expect_exit 2 "not a --score" cli evaluate "${base[@]}" --risk-col other:2=p2
pass "usage errors exit 2 with a reason"

expect_exit 1 "cannot open" cli evaluate "$T/nope.csv" --time t --event event --score score
expect_exit 1 "column 'nope' (--score) is not in the CSV header" cli evaluate "${base[@]}" --score nope
sed 's/^e,4,1,0/e,4,2,0/' "$csv" >"$T/bad_event.csv"
expect_exit 1 "column 'event' (--event), line 6: '2' is not 0 or 1" \
  cli evaluate "$T/bad_event.csv" --time "follow, years" --event event --score score
sed 's/^b,2,0,0,0.1/b,2,0,0,high/' "$csv" >"$T/bad_score.csv"
expect_exit 1 "column 'score' (--score), line 3: 'high' is not a number" \
  cli evaluate "$T/bad_score.csv" --time "follow, years" --event event --score score
sed 's/^c,2,/c,-2,/' "$csv" >"$T/bad_time.csv"
expect_exit 1 "line 4: '-2' is not a time" cli evaluate "$T/bad_time.csv" --time "follow, years" --event event --score score
printf 'id,t,e,s\n1,2,1\n' >"$T/short.csv"
expect_exit 1 "line 2 has 3 fields, the header has 4" cli evaluate "$T/short.csv" --time t --event e --score s
printf 'id,t,e,s\n"1,2,1,0.3\n' >"$T/open.csv"
expect_exit 1 "never closed" cli evaluate "$T/open.csv" --time t --event e --score s
expect_exit 1 "column 'follow, years' (--risk-col), line 3: '2' is not a probability" \
  cli evaluate "${base[@]}" --risk-col "2=follow, years"
printf 't,e,y,s\n1,1,0,0.2\n2,0,0,0.4\n' >"$T/one_class.csv"
expect_exit 1 "needs positives and negatives" cli evaluate "$T/one_class.csv" --time t --event e --label y --score s
pass "data errors exit 1 naming the column and line"

# JSON: the counts, the dropped row, null where a figure is undefined.
cli evaluate "${base[@]}" --label label --score p2 --risk-col p2:2=p2 --bootstrap 30 --seed 11 --json >"$T/a.json" ||
  fail "evaluate --json failed"
cli evaluate "${base[@]}" --label label --score p2 --risk-col p2:2=p2 --bootstrap 30 --seed 11 --json >"$T/b.json"
cmp -s "$T/a.json" "$T/b.json" || fail "the same seed gave different output"
cli evaluate "${base[@]}" --label label --score p2 --bootstrap 30 --seed 12 --json >"$T/c.json"
cmp -s "$T/a.json" "$T/c.json" && fail "a different seed gave identical bootstrap intervals"
json "j['n'], j['events'], j['scores']['score']['n'], j['scores']['score']['dropped'], j['scores']['p2']['dropped']" \
  <"$T/a.json" | grep -qx "(10, 4, 9, 1, 1)" || { cat "$T/a.json"; fail "wrong counts"; }
json "j['scores']['p2']['calibration']['2']['source'], j['scores']['p2']['calibration']['2']['column']" <"$T/a.json" |
  grep -qx "('risk column', 'p2')" || fail "--risk-col not used for calibration"
json "j['scores']['score']['calibration']['2']['source']" <"$T/a.json" | grep -qx "score taken as a probability" ||
  fail "a score within [0, 1] is not calibrated as a probability"
json "len(j['paired']), j['paired'][0]['n']" <"$T/a.json" | grep -qx "(1, 8)" || fail "paired test rows"
json "j['scores']['score']['td_auroc']['5'] is None or 0 <= j['scores']['score']['td_auroc']['5'] <= 1" \
  <"$T/a.json" | grep -qx True || fail "td-AUROC out of range"
pass "JSON counts, calibration sources, paired rows; the bootstrap repeats with its seed"

# A score outside [0, 1] without --risk-col: calibration is said to be missing, not invented.
sed 's/,0\.\([0-9]\),/,\1,/' "$csv" >"$T/big.csv"
cli evaluate "$T/big.csv" --time "follow, years" --event event --score score --bootstrap 0 --json >"$T/big.json"
json "'note' in j['scores']['score']['calibration']['3']" <"$T/big.json" | grep -qx True ||
  { cat "$T/big.json"; fail "calibration reported for a score outside [0, 1]"; }

# The readable table.
cli evaluate "${base[@]}" --label label --bootstrap 20 >"$T/text" || fail "text output failed"
for want in "Harrell's C" "Uno's C" "detection AUROC" "TD-AUROC (IPCW)" "paper-compatible" "1 rows dropped"; do
  grep -q "$want" "$T/text" || { cat "$T/text"; fail "text output lacks '$want'"; }
done
cli evaluate --help | grep -q "risk-col" || fail "--help does not describe --risk-col"
pass "readable output and --help"
