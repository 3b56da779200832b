#!/usr/bin/env bash
# The admin CLI against a running node, and what a hospital sees when a series is bad:
# a missing slice is a warning in the result; an unloadable series fails after max_attempts
# with a sentence; retry and cancel steer the queue; every command speaks --json.
. "$(dirname "$0")/lib.sh"

DAEMON_ARGS+=(--set workers.max_attempts=2 --set workers.retry_delay_seconds=0 --set series.min_slices=20 \
              --set series.min_z_coverage_mm=40)
study=$(python3 -c 'import uuid; print("2.25.%d" % uuid.uuid4().int)')

# Series 1: a missing slice in the middle.
phantom --out "$T/gap" --slices 40 --rows 96 --cols 96 --pixel 4 --spacing 2 --thickness 2 --seed 31 --study-uid "$study" --series-number 2
rm "$T/gap/IM0020.dcm"
# Series 2 (another study): two matrix sizes under one series UID, which no volume can hold.
series=$(python3 -c 'import uuid; print("2.25.%d" % uuid.uuid4().int)')
phantom --out "$T/mixed" --slices 30 --rows 96 --cols 96 --pixel 4 --spacing 2 --thickness 2 --seed 32 --series-uid "$series" --study-uid 2.25.77
phantom --out "$T/mixed2" --slices 30 --rows 64 --cols 64 --pixel 6 --spacing 2 --thickness 2 --seed 33 --series-uid "$series" --study-uid 2.25.77

start_daemon
cli status >/dev/null || fail "status on an empty node"
storescu -to 30 +sd +sp '*.dcm' -aec "$AE" -aet TESTSCU 127.0.0.1 "$PORT" "$T/gap" "$T/mixed" "$T/mixed2" >/dev/null 2>&1 \
  || fail "send"
wait_until 60 bash -c "'$OSC' --config '$CONF' jobs --json | python3 -c 'import json,sys; j=json.load(sys.stdin); sys.exit(0 if len(j)==2 and all(x[\"state\"] in (\"done\",\"failed\") for x in j) else 1)'" \
  || { cli jobs; fail "jobs did not settle"; }

jobs=$(cli jobs --json)
for key in id state study_uid series_uid error; do
  json "all('$key' in x for x in j)" <<<"$jobs" | grep -qx True || fail "jobs --json lacks $key"
done
gap_job=$(json "[x['id'] for x in j if x['study_uid']=='$study'][0]" <<<"$jobs")
bad_job=$(json "[x['id'] for x in j if x['series_uid']=='$series'][0]" <<<"$jobs")

cli show "$gap_job" --json > "$T/gap.json"
[ "$(json "j['state']" < "$T/gap.json")" = done ] || fail "series with a missing slice did not load"
json "any('gap' in w for w in j['results']['analysis']['volume']['warnings'])" < "$T/gap.json" | grep -qx True \
  || fail "missing slice not reported: $(json "j['results']['analysis']['volume']['warnings']" < "$T/gap.json")"
pass "missing slice: loaded with warning \"$(json "[w for w in j['results']['analysis']['volume']['warnings'] if 'gap' in w][0]" < "$T/gap.json")\""

cli show "$bad_job" --json > "$T/bad.json"
[ "$(json "j['state']" < "$T/bad.json")" = failed ] || fail "mixed-size series did not fail"
[ "$(json "j['attempts']" < "$T/bad.json")" = 2 ] || fail "failed after $(json "j['attempts']" < "$T/bad.json") attempts, not max_attempts=2"
err=$(json "j['error']" < "$T/bad.json")
echo "$err" | grep -qiE "size|matrix|rows|columns" || fail "error does not say why: $err"
pass "unloadable series failed after 2 attempts: \"$err\""

status=$(cli status --json)
for key in instances series jobs oldest_queued_age_s done_last_hour last_errors disk_free_bytes; do
  json "'$key' in j" <<<"$status" | grep -qx True || fail "status --json lacks $key"
done
[ "$(json "j['instances']" <<<"$status")" = 99 ] || fail "instances $(json "j['instances']" <<<"$status")"
[ "$(json "j['jobs'].get('failed')" <<<"$status")" = 1 ] || fail "failed count"
json "len(j['last_errors'])>0" <<<"$status" | grep -qx True || fail "status shows no last errors"
cli status | grep -qi failed || fail "text status lacks failed jobs"
cli series | grep -q selected || fail "text series listing"
cli jobs --state failed --json | json "len(j)" | grep -qx 1 || fail "jobs --state failed"
pass "status, series, jobs (text and --json)"

cli cancel "$bad_job" 2>"$T/cancel.err" && fail "cancel of a failed job succeeded"
grep -q "osteoscout:" "$T/cancel.err" || fail "cancel refusal has no message"
n_events=$(cli show "$bad_job" --json | json "len(j['events'])")
# The state is read back in the retry's own call: the daemon may pick the job up (and fail it
# again, it is quick) before a second command could look.
[ "$(cli retry "$bad_job" --json | json "j['state']")" = queued ] || fail "retry did not requeue"
wait_until 30 bash -c "'$OSC' --config '$CONF' show $bad_job --json | python3 -c 'import json,sys; j=json.load(sys.stdin); sys.exit(0 if j[\"state\"]==\"failed\" and len(j[\"events\"])>$n_events else 1)'" \
  || fail "retried job did not run"
pass "retry requeues a failed job, which runs again"
cli show 99999 >/dev/null 2>&1 && fail "show of a missing job succeeded"
cli jobs --state nonsense >/dev/null 2>&1 && fail "jobs --state nonsense accepted"
rc=0; cli frobnicate >/dev/null 2>&1 || rc=$?
[ $rc -eq 2 ] || fail "unknown command exits $rc, not 2"
pass "bad admin input is refused"
stop_daemon

# Cancel a queued job: with no workers free (daemon stopped), queue one by hand via retry.
cli retry "$gap_job" >/dev/null || fail "retry of a done job"
[ "$(cli show "$gap_job" --json | json "j['state']")" = queued ] || fail "not queued"
cli cancel "$gap_job" >/dev/null || fail "cancel of a queued job"
[ "$(cli show "$gap_job" --json | json "j['state']")" = cancelled ] || fail "not cancelled"
start_daemon
sleep 2
[ "$(cli show "$gap_job" --json | json "j['state']")" = cancelled ] || fail "cancelled job ran"
pass "cancel stops a queued job; the CLI works with the daemon stopped or running"
stop_daemon
