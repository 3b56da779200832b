# Orthanc as the PACS for the round-trip tests: a private instance on loopback ports (its own
# storage under the test's temp dir, no remote access, no authentication) that knows
# osteoscoutd as modality "osteoscout", and osteoscoutd configured to send its results to it.
# Sourced after lib.sh, which owns the temp dir and the clean-up trap.

ORTHANC_BIN=${ORTHANC_BIN:-/usr/sbin/Orthanc}
if [ ! -x "$ORTHANC_BIN" ]; then echo "SKIP: Orthanc is not installed ($ORTHANC_BIN; scripts/install-deps.sh installs it)"; exit 0; fi
command -v curl >/dev/null || { echo "SKIP: curl is not installed"; exit 0; }

ORTHANC_AE=ORTHANC
ORTHANC_HTTP=$(free_port)
ORTHANC_DICOM=$(free_port)
ORTHANC_DIR="$T/orthanc"
ORTHANC_URL="http://127.0.0.1:$ORTHANC_HTTP"
ORTHANC_PID=""
mkdir -p "$ORTHANC_DIR/db"
cat > "$ORTHANC_DIR/orthanc.json" <<EOF
{
  "Name": "osteoscout-it",
  "StorageDirectory": "$ORTHANC_DIR/db",
  "IndexDirectory": "$ORTHANC_DIR/db",
  "HttpPort": $ORTHANC_HTTP,
  "DicomPort": $ORTHANC_DICOM,
  "DicomAet": "$ORTHANC_AE",
  "RemoteAccessAllowed": false,
  "AuthenticationEnabled": false,
  "HttpDescribeErrors": true,
  "Plugins": [],
  "DicomModalities": { "osteoscout": [ "$AE", "127.0.0.1", $PORT ] },
  "DicomCheckCalledAet": true,
  "DicomAlwaysAllowStore": true,
  "DicomCheckModalityHost": false,
  "DicomScuTimeout": 30,
  "ConcurrentJobs": 1,
  "SaveJobs": false,
  "StableAge": 60,
  "StorageCompression": false
}
EOF

# Results go back to Orthanc; only Orthanc (and the tests' own echoscu) may send to the node.
cat >> "$CONF" <<EOF

[destination orthanc]
ae_title = $ORTHANC_AE
host = 127.0.0.1
port = $ORTHANC_DICOM
outputs = sr,sc
EOF
DAEMON_ARGS+=(--set "node.allowed_callers=$ORTHANC_AE@127.0.0.1,TESTSCU")

orthanc_up() { curl -sf "$ORTHANC_URL/system" >/dev/null 2>&1; }

start_orthanc() {
  "$ORTHANC_BIN" "$ORTHANC_DIR/orthanc.json" >>"$ORTHANC_DIR/orthanc.log" 2>&1 &
  ORTHANC_PID=$!
  _cleanup_pids+=("$ORTHANC_PID")
  for _ in $(seq 1 150); do
    orthanc_up && return 0
    kill -0 "$ORTHANC_PID" 2>/dev/null || { tail -n 20 "$ORTHANC_DIR/orthanc.log"; fail "Orthanc exited during start-up"; }
    sleep 0.1
  done
  fail "Orthanc did not answer on $ORTHANC_URL within 15 s"
}

stop_orthanc() {
  kill -TERM "$ORTHANC_PID" 2>/dev/null || true
  wait "$ORTHANC_PID" 2>/dev/null || true
  ORTHANC_PID=""
}

# orthanc GET|POST PATH [BODY]: the REST API; fails the test on an HTTP error.
orthanc() {
  local method=$1 path=$2
  if [ "$method" = GET ]; then curl -sfS "$ORTHANC_URL$path"
  else curl -sfS -X "$method" --data-binary "${3:-}" "$ORTHANC_URL$path"; fi
}

# Uploads every DICOM file of a folder (POST /instances).
orthanc_upload() {
  local f n=0
  for f in "$1"/*.dcm; do
    curl -sfS -X POST -H 'Content-Type: application/dicom' --data-binary "@$f" "$ORTHANC_URL/instances" >/dev/null \
      || fail "Orthanc refused $f"
    n=$((n + 1))
  done
  echo "$n"
}

# The Orthanc ID of the study with this Study Instance UID.
orthanc_study_id() {
  orthanc POST /tools/lookup "$1" | json "[x['ID'] for x in j if x['Type']=='Study'][0]"
}

# A summary of a study's series: [{"number", "modality", "uid", "instances": [IDs]}], by number.
orthanc_series() {
  orthanc GET "/studies/$1/series?expand" | json "sorted([{'number': int(s['MainDicomTags'].get('SeriesNumber','0') or 0),
    'modality': s['MainDicomTags'].get('Modality',''), 'uid': s['MainDicomTags'].get('SeriesInstanceUID',''),
    'instances': s['Instances']} for s in j], key=lambda s: s['number'])"
}

orthanc_instance_count() { orthanc GET /statistics | json "j['CountInstances']"; }

# The node's outbound rows for the orthanc destination: "sent:N pending:N dead:N attempts:[...]".
outbound_summary() {
  cli outbound --json | json "(lambda r: 'sent:%d pending:%d dead:%d attempts:%s' % (
    sum(x['state']=='sent' for x in r), sum(x['state']=='pending' for x in r), sum(x['state']=='dead' for x in r),
    sorted(x['attempts'] for x in r)))([x for x in j if x['destination']=='orthanc'])"
}

# check_sr_against_truth SR_TAGS_JSON TRUTH_JSON RESULT_JSON [--fracture LEVEL]: the SR's numbers
# (from Orthanc's simplified tags) against the phantom's truth and, exactly, the node's result.
check_sr_against_truth() {
  python3 "$OS_SOURCE_DIR/tests/tools/check_sr.py" "$@"
}
