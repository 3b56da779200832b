#!/usr/bin/env bash
# Nothing acknowledged is ever lost: the daemon is killed with SIGKILL in the middle of a
# transfer, during a job, and during a series' quiet period; after each restart every
# acknowledged instance is there, nothing half-written is, and each series yields one job.
. "$(dirname "$0")/lib.sh"

DAEMON_ARGS+=(--set series.quiet_seconds=3)

# --- 1. SIGKILL in the middle of a transfer --------------------------------------------
phantom --out "$T/a" --slices 300 --rows 256 --cols 256 --pixel 1.4 --spacing 1 --thickness 1 --seed 11
# SOP UIDs in sending order, read now: after the restart the checks must fit inside the quiet
# period, or the partial series completes (correctly) and its job is superseded by the re-send.
for f in $(ls "$T/a"/IM*.dcm | sort); do
  dcmdump +P SOPInstanceUID "$f" | sed -n 's/.*\[\(.*\)\].*/\1/p'
done > "$T/a.sops"
start_daemon
# Files named on the command line go in that order, so the first N acknowledged are known.
storescu -v -to 30 -aec "$AE" -aet TESTSCU 127.0.0.1 "$PORT" $(ls "$T/a"/IM*.dcm | sort) >"$T/send1.log" 2>&1 &
sender=$!
_cleanup_pids+=("$sender")
wait_until 30 bash -c "[ \$(grep -c 'Received Store Response (Success)' '$T/send1.log') -ge 60 ]" \
  || fail "transfer did not get going"
kill_daemon
wait "$sender" 2>/dev/null || true
acked=$(grep -c 'Received Store Response (Success)' "$T/send1.log")
[ "$acked" -lt 300 ] || fail "transfer finished before the kill; nothing tested"
echo "  killed after $acked acknowledged instances"

start_daemon
inst=$(db_instances)
files=$(count_spool_files)
[ "$inst" -ge "$acked" ] || fail "only $inst of $acked acknowledged instances survived"
[ "$inst" -le $((acked + 1)) ] || fail "$inst recorded but only $acked acknowledged"
[ "$files" = "$inst" ] || fail "$files spool files for $inst recorded instances"
[ "$(count_incoming_files)" = 0 ] || fail "partial files survived recovery"
find "$DATA/spool" -path "$DATA/spool/.incoming" -prune -o -name '*.dcm' -printf '%f\n' | sed 's/\.dcm$//' | sort > "$T/spooled"
lost=$(head -n "$acked" "$T/a.sops" | sort | comm -23 - "$T/spooled" | head -3)
[ -z "$lost" ] || fail "acknowledged instances lost: $lost"
pass "after SIGKILL mid-transfer: $acked acknowledged, $inst recorded, $files files, none partial"

storescu -to 30 +sd +sp '*.dcm' -aec "$AE" -aet TESTSCU 127.0.0.1 "$PORT" "$T/a" >"$T/send1b.log" 2>&1 \
  || fail "re-send after recovery failed"
[ "$(db_instances)" = 300 ] || fail "$(db_instances) instances after re-send"
wait_until 60 job_state_is done || { cli jobs; fail "job after recovery did not finish"; }
[ "$(cli jobs --json | json 'len(j)')" = 1 ] || { cli jobs; fail "more than one job"; }
pass "re-sent series completes with exactly one job"
stop_daemon

# --- 2. SIGKILL during a job --------------------------------------------------------------
rm -rf "$DATA"
# JPEG 2000 decoding makes the job long enough to be caught running.
phantom --out "$T/b" --slices 120 --rows 512 --cols 512 --pixel 0.7 --spacing 1 --thickness 1 --syntax j2k --seed 12
start_daemon
dcmsend -to 30 +sd +sp '*.dcm' -aec "$AE" -aet TESTSCU 127.0.0.1 "$PORT" "$T/b" >"$T/send2.log" 2>&1 || fail "dcmsend failed"
wait_until 60 job_state_is running || { cli jobs; fail "job never ran"; }
kill_daemon
[ "$(cli jobs --json | json "j[0]['state']")" = running ] || fail "job not left running by the crash"
start_daemon
wait_until 120 job_state_is done || { cli jobs; fail "job interrupted by SIGKILL did not finish"; }
jobs=$(cli jobs --json)
[ "$(json 'len(j)' <<<"$jobs")" = 1 ] || fail "more than one job"
[ "$(json "j[0]['attempts']" <<<"$jobs")" = 2 ] || fail "attempts $(json "j[0]['attempts']" <<<"$jobs"), expected 2"
grep -q "jobs_requeued=1" "$T/daemon.log" || fail "recovery not logged"
pass "job killed mid-run is requeued on restart and completes once (2 attempts)"
stop_daemon

# --- 3. Restart during the quiet period ---------------------------------------------------
rm -rf "$DATA"
DAEMON_ARGS+=(--set series.quiet_seconds=4)
phantom --out "$T/c" --slices 60 --rows 128 --cols 128 --pixel 3 --spacing 2 --thickness 2 --seed 13
start_daemon
storescu -to 30 +sd +sp '*.dcm' -aec "$AE" -aet TESTSCU 127.0.0.1 "$PORT" "$T/c" >/dev/null 2>&1 || fail "send"
[ "$(cli series --json | json "j[0]['state']")" = receiving ] || fail "series already complete"
kill_daemon
start_daemon
wait_until 30 job_state_is done || { cli jobs; fail "series not completed after restart"; }
sleep 5 # several scheduler periods: a second completion would show up now
[ "$(cli jobs --json | json 'len(j)')" = 1 ] || { cli jobs; fail "series completed twice"; }
pass "restart during the quiet period completes the series exactly once"
stop_daemon
