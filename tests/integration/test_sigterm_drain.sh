#!/usr/bin/env bash
# SIGTERM drains: the node stops accepting, a running job goes back to the queue (its attempt
# not counted), the process exits 0, and the next start finishes the job.
. "$(dirname "$0")/lib.sh"

phantom --out "$T/s" --slices 120 --rows 512 --cols 512 --pixel 0.7 --spacing 1 --thickness 1 --syntax j2k --seed 21
start_daemon
dcmsend -to 30 +sd +sp '*.dcm' -aec "$AE" -aet TESTSCU 127.0.0.1 "$PORT" "$T/s" >/dev/null 2>&1 || fail "dcmsend failed"
wait_until 60 job_state_is running || { cli jobs; fail "job never ran"; }
stop_daemon
jobs=$(cli jobs --json)
[ "$(json "j[0]['state']" <<<"$jobs")" = queued ] || fail "job is $(json "j[0]['state']" <<<"$jobs") after drain"
[ "$(json "j[0]['attempts']" <<<"$jobs")" = 0 ] || fail "drained attempt was counted"
grep -q "returned to the queue" "$T/daemon.log" || fail "requeue not logged"
echoscu -to 2 127.0.0.1 "$PORT" -aec "$AE" -aet TESTSCU >/dev/null 2>&1 && fail "still answering after exit"
pass "SIGTERM: job requeued, exit 0, port closed"
start_daemon
wait_until 120 job_state_is done || { cli jobs; fail "requeued job did not finish"; }
pass "requeued job completes after restart"
stop_daemon
