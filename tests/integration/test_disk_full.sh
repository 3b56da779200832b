#!/usr/bin/env bash
# A full disk is answered with 0xA700 (out of resources) and leaves no partial file; what
# was acknowledged before stays. The spool sits on a 3 MB tmpfs (needs root to mount).
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/small"
if ! mount -t tmpfs -o size=3m,mode=0700 tmpfs "$T/small" 2>"$T/mount.err"; then
  echo "SKIP: cannot mount a tmpfs here ($(cat "$T/mount.err"))"; exit 0
fi
trap 'rc=$?; umount -l "$T/small" 2>/dev/null; (exit $rc); cleanup' EXIT
DATA="$T/small/data"
make_config
DAEMON_ARGS+=(--set "database.path=$T/osteoscout.db")

phantom --out "$T/big" --slices 12 --rows 512 --cols 512 --seed 5
start_daemon
storescu -v -to 30 +sd +sp '*.dcm' -aec "$AE" -aet TESTSCU 127.0.0.1 "$PORT" "$T/big" >"$T/send.log" 2>&1 || true
ok=$(grep -c 'Received Store Response (Success)' "$T/send.log" || true)
grep -qE "OutOfResources|0xa7|0xA7" "$T/send.log" || { cat "$T/send.log"; fail "no 0xA700 when the disk filled"; }
[ "$ok" -ge 1 ] && [ "$ok" -lt 12 ] || fail "$ok of 12 acknowledged on a 3 MB disk"
[ "$(count_incoming_files)" = 0 ] || fail "partial file left in .incoming"
[ "$(db_instances)" = "$ok" ] || fail "$(db_instances) recorded but $ok acknowledged"
[ "$(count_spool_files)" = "$ok" ] || fail "$(count_spool_files) files but $ok acknowledged"
echo "  $ok instances fitted, the rest got: $(grep -m1 -oE "Refused: OutOfResources" "$T/send.log" || true)"
pass "disk full answered with 0xA700, no partial file, acknowledged ones intact"
echoscu -to 5 127.0.0.1 "$PORT" -aec "$AE" -aet TESTSCU >/dev/null 2>&1 || fail "node unresponsive after disk full"
pass "node still answers after the disk filled"
stop_daemon
