#!/usr/bin/env bash
# The PACS is down when the results are ready: they stay pending with a retry time and the
# reason, are tried again with backoff, and arrive once each when Orthanc is back (same
# storage): no duplicates in the study, and `osteoscout outbound` shows the attempts.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/orthanc.sh"
t0=$(date +%s)
# Retry quickly so the test takes seconds, not the default 30 s doubling to an hour.
DAEMON_ARGS+=(--set sender.backoff_first_seconds=2 --set sender.backoff_max_seconds=4 --set sender.acse_timeout=5)

phantom --out "$T/ct" --rows 256 --cols 256 --pixel 1.5 --spacing 3 --thickness 3 --seed 12 --fracture L1:wedge:0.35
study=$(json "j['study_uid']" < "$T/ct/truth.json")
n_ct=$(ls "$T/ct"/*.dcm | wc -l)

start_orthanc
start_daemon
[ "$(orthanc_upload "$T/ct")" = "$n_ct" ] || fail "upload"
sid=$(orthanc_study_id "$study")
orthanc POST /modalities/osteoscout/store "$sid" >/dev/null || fail "Orthanc could not C-STORE to the node"
[ "$(db_instances)" = "$n_ct" ] || fail "the node holds $(db_instances) instances, not $n_ct"
stop_orthanc
orthanc_up && fail "Orthanc still answers"
pass "study sent to the node ($n_ct slices); Orthanc stopped"

wait_until 75 job_state_is done || { cli jobs; fail "job did not finish"; }

# Pending, with a retry time in the future and why; tried again after the backoff.
retried() { cli outbound --json | json "len(j)==4 and all(x['state']=='pending' and x['attempts']>=2 for x in j)" | grep -qx True; }
wait_until 20 retried || { cli outbound; fail "results were not retried while Orthanc was down"; }
cli outbound --json > "$T/pending.json"
json "all(x['last_error'] for x in j)" < "$T/pending.json" | grep -qx True || fail "pending rows without an error"
json "all(x['next_try_at'] > $(date +%s) - 1 for x in j)" < "$T/pending.json" | grep -qx True || fail "pending rows without a retry time"
cli outbound > "$T/outbound.txt"
grep -q "retry in" "$T/outbound.txt" || grep -q "due" "$T/outbound.txt" || { cat "$T/outbound.txt"; fail "outbound text shows no retry time"; }
pass "results pending while Orthanc is down: $(outbound_summary), error \"$(json "j[0]['last_error']" < "$T/pending.json")\""
grep -q "sender: job=1 destination=orthanc files=4 sent=0 retry=4" "$T/daemon.log" || fail "no retry in the daemon's log"

# Orthanc back with the same storage: each file arrives once.
start_orthanc
all_sent() { cli outbound --json | json "len(j)==4 and all(x['state']=='sent' for x in j)" | grep -qx True; }
wait_until 20 all_sent || { cli outbound; fail "results were not delivered after Orthanc came back"; }
attempts=$(cli outbound --json | json "sorted(x['attempts'] for x in j)")
json "all(a > 1 for a in j)" <<<"$attempts" | grep -qx True || fail "attempts $attempts"
pass "delivered once Orthanc was back: $(outbound_summary)"

sleep 2 # a duplicate send, if any, would land now
orthanc_series "$sid" > "$T/series.json"
[ "$(json "sorted((s['number'], len(s['instances'])) for s in j)" < "$T/series.json")" = "[[2, $n_ct], [9001, 3], [9002, 1]]" ] \
  || fail "Orthanc's study: $(json "[(s['number'], len(s['instances'])) for s in j]" < "$T/series.json")"
[ "$(orthanc_instance_count)" = "$((n_ct + 4))" ] || fail "Orthanc holds $(orthanc_instance_count) instances, not $((n_ct + 4))"
pass "Orthanc's study holds CT + 1 SR + 3 SC: no duplicates"

stop_daemon
stop_orthanc
pass "PACS-down round trip in $(( $(date +%s) - t0 )) s"
