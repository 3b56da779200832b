#!/usr/bin/env bash
# A database locked for too long (another writer holding it) is answered with 0xA700 and a
# reason; the instance leaves neither a file nor a row, and the node recovers once the lock goes.
. "$(dirname "$0")/lib.sh"

DAEMON_ARGS+=(--set database.busy_timeout_ms=300)
phantom --out "$T/s" --slices 3 --rows 64 --cols 64 --seed 41
start_daemon

# An operator's sqlite3 session holding the write lock for 4 seconds.
(echo "BEGIN IMMEDIATE;"; sleep 4; echo "COMMIT;") | sqlite3 "$DATA/osteoscout.db" &
locker=$!
_cleanup_pids+=("$locker")
sleep 0.5
storescu -v -to 30 -aec "$AE" -aet TESTSCU 127.0.0.1 "$PORT" "$T/s/IM0001.dcm" >"$T/send.log" 2>&1 || true
grep -q "OutOfResources" "$T/send.log" || { cat "$T/send.log"; fail "no 0xA700 while the database was locked"; }
grep -q "database busy" "$T/daemon.log" || fail "reason not logged"
[ "$(count_spool_files)" = 0 ] || fail "a file was left for an unrecorded instance"
[ "$(count_incoming_files)" = 0 ] || fail "a partial file was left"
pass "locked database -> 0xA700 \"$(grep -o 'database busy[^"]*' "$T/daemon.log" | head -1)\", nothing left"

wait "$locker"
storescu -to 30 +sd +sp '*.dcm' -aec "$AE" -aet TESTSCU 127.0.0.1 "$PORT" "$T/s" >/dev/null 2>&1 || fail "send after unlock"
[ "$(db_instances)" = 3 ] || fail "$(db_instances) instances after the lock went"
[ "$(count_spool_files)" = 3 ] || fail "spool and database disagree"
pass "after the lock is released the same instances are stored"
stop_daemon
