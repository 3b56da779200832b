# Shared helpers for the integration tests: a private temp directory, free loopback ports,
# starting and stopping osteoscoutd for real, and small assertions. Sourced, not run.
set -euo pipefail

: "${OS_BIN_DIR:?run through ctest (OS_BIN_DIR unset)}"
: "${OS_SOURCE_DIR:?run through ctest (OS_SOURCE_DIR unset)}"
OSD="$OS_BIN_DIR/osteoscoutd"
OSC="$OS_BIN_DIR/osteoscout"
RAWSTORE="python3 $OS_SOURCE_DIR/tests/tools/rawstore.py"
export TCP_NODELAY=1

T=$(mktemp -d /tmp/osteoscout-it.XXXXXX)
DAEMON_PID=""
_cleanup_pids=()
cleanup() {
  local rc=$?
  if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then kill -9 "$DAEMON_PID" 2>/dev/null || true; fi
  for p in "${_cleanup_pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  if [ $rc -ne 0 ] && [ -f "$T/daemon.log" ]; then
    echo "---- last daemon log lines ----"; tail -n 40 "$T/daemon.log"
  fi
  [ -n "${KEEP_TMP:-}" ] || rm -rf "$T" 2>/dev/null || true
  exit $rc
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# json EXPR: evaluates a Python expression over the JSON read from stdin, bound to `j`.
json() { python3 -c "import json,sys; j=json.load(sys.stdin); r=($1); print(r if not isinstance(r,(dict,list)) else json.dumps(r))"; }

PORT=$(free_port)
AE=OSTEOSCOUT
DATA="$T/data"
CONF="$T/osteoscout.conf"
# The shipped configuration with the test's port and data directory; tests add --set as needed.
make_config() {
  sed -e "s|^port = .*|port = $PORT|" -e "s|^data_dir = .*|data_dir = $DATA|" \
      -e "s|^min_free_mb = .*|min_free_mb = 0|" \
      "$OS_SOURCE_DIR/conf/osteoscout.conf" > "$CONF"
}
make_config
DAEMON_ARGS=(--set series.quiet_seconds=2)

cli() { "$OSC" --config "$CONF" "${DAEMON_ARGS[@]}" "$@"; }

start_daemon() {
  "$OSD" --config "$CONF" "${DAEMON_ARGS[@]}" "$@" >>"$T/daemon.log" 2>&1 &
  DAEMON_PID=$!
  for _ in $(seq 1 100); do
    if echoscu -to 2 127.0.0.1 "$PORT" -aec "$AE" -aet TESTSCU >/dev/null 2>&1; then return 0; fi
    kill -0 "$DAEMON_PID" 2>/dev/null || fail "osteoscoutd exited during start-up"
    sleep 0.1
  done
  fail "osteoscoutd did not answer C-ECHO within 10 s"
}

stop_daemon() { # SIGTERM drains and must exit 0
  kill -TERM "$DAEMON_PID"
  local rc=0
  wait "$DAEMON_PID" || rc=$?
  DAEMON_PID=""
  [ $rc -eq 0 ] || fail "osteoscoutd exited $rc after SIGTERM"
}

kill_daemon() { # SIGKILL: the crash case
  kill -9 "$DAEMON_PID"
  wait "$DAEMON_PID" 2>/dev/null || true
  DAEMON_PID=""
}

# wait_until SECONDS COMMAND...: polls every 0.2 s.
wait_until() {
  local limit=$1; shift
  local end=$(( $(date +%s) + limit ))
  while [ "$(date +%s)" -le "$end" ]; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  return 1
}

job_state_is() { # job_state_is STATE: true when every job is in STATE and there is at least one
  cli jobs --json | json "len(j)>0 and all(x['state']=='$1' for x in j)" | grep -qx True
}

count_spool_files() { find "$DATA/spool" -path "$DATA/spool/.incoming" -prune -o -type f -name '*.dcm' -print | wc -l; }
count_incoming_files() { find "$DATA/spool/.incoming" -type f 2>/dev/null | wc -l; }
db_instances() { cli status --json | json "j['instances']"; }

phantom() { "$OSC" phantom "$@" >/dev/null; }
