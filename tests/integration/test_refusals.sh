#!/usr/bin/env bash
# Bad input gets a clear refusal and leaves nothing behind: empty UIDs (a real file),
# unknown and wrong AE titles, non-CT objects (discarded, or refused when configured),
# garbage and truncated data sets.
. "$(dirname "$0")/lib.sh"

DAEMON_ARGS+=(--set "node.allowed_callers=TESTSCU,RAW@127.0.0.1")
phantom --out "$T/one" --slices 2 --rows 64 --cols 64 --seed 3
good="$T/one/IM0001.dcm"
sop_class=1.2.840.10008.5.1.4.1.1.2
start_daemon

# Unknown calling AE, wrong called AE, allowed AE from the wrong host.
echoscu -to 5 127.0.0.1 "$PORT" -aec "$AE" -aet STRANGER >"$T/e1.log" 2>&1 && fail "unknown calling AE accepted"
grep -qi "reject" "$T/e1.log" || { cat "$T/e1.log"; fail "no association reject for an unknown AE"; }
grep -q 'calling_ae=STRANGER' "$T/daemon.log" || fail "rejection not logged"
echoscu -to 5 127.0.0.1 "$PORT" -aec NOTME -aet TESTSCU >/dev/null 2>&1 && fail "wrong called AE accepted"
echoscu -to 5 127.0.0.1 "$PORT" -aec "$AE" -aet TESTSCU >/dev/null 2>&1 || fail "allowed AE refused"
pass "unknown and wrong AE titles rejected, known one accepted"

# The real file with empty SOP Instance, Study and Series UIDs.
BAD="${OS_SHARED_DIR:-$OS_SOURCE_DIR/../shared}/data/ct-bad-empty-uids"
if [ -d "$BAD" ]; then
  # DCMTK's tools refuse to send it; a PACS would use the UID of the file meta header.
  meta_sop=$(dcmdump -M +P MediaStorageSOPInstanceUID "$BAD"/* | sed -n 's/.*\[\(.*\)\].*/\1/p')
  out=$($RAWSTORE 127.0.0.1 "$PORT" "$AE" RAW $sop_class "$meta_sop" --file "$BAD"/* --ts 1.2.840.10008.1.2.4.90 || true)
  case "$out" in 0xC*|0xA9*) ;; *) fail "empty-UID file answered '$out'";; esac
  echo "  empty UIDs -> $out"
  echo "$out" | grep -qi "empty" || fail "the refusal does not say the UIDs are empty: $out"
  [ "$(db_instances)" = 0 ] || fail "empty-UID file was stored"
  grep -q "status=0xC000" "$T/daemon.log" || fail "refusal not logged"
  pass "file with empty UIDs refused, nothing stored"
else
  echo "SKIP: $BAD not present"
fi

# Garbage bytes as a data set.
out=$($RAWSTORE 127.0.0.1 "$PORT" "$AE" RAW $sop_class 1.2.3.4.5 --garbage 5000) || fail "garbage: $out"
case "$out" in 0xC*|0xA9*) ;; *) fail "garbage answered '$out'";; esac
pass "garbage data set -> $out"

# A valid data set cut in the middle of its pixel data.
gsop=$(dcmdump +P SOPInstanceUID "$good" | sed -n 's/.*\[\(.*\)\].*/\1/p')
out=$($RAWSTORE 127.0.0.1 "$PORT" "$AE" RAW $sop_class "$gsop" --file "$good" --truncate 0.6) || fail "truncated: $out"
case "$out" in 0xC*|0xA9*) ;; *) fail "truncated data set answered '$out'";; esac
pass "truncated data set -> $out"

# The command's SOP Instance UID must match the data set's.
out=$($RAWSTORE 127.0.0.1 "$PORT" "$AE" RAW $sop_class 1.2.3.999 --file "$good") || fail "mismatch: $out"
case "$out" in 0xA9*|0xC*) ;; *) fail "mismatched UID answered '$out'";; esac
pass "mismatched SOP Instance UID -> $out"

[ "$(db_instances)" = 0 ] || fail "a refused instance was recorded"
[ "$(count_spool_files)" = 0 ] || fail "a refused instance left a file"
[ "$(count_incoming_files)" = 0 ] || fail "a refused instance left a partial file"

# The intact file is accepted by the same raw client (the refusals above are not the client's fault).
out=$($RAWSTORE 127.0.0.1 "$PORT" "$AE" RAW $sop_class "$gsop" --file "$good") || fail "good: $out"
case "$out" in 0x0000*) ;; *) fail "intact data set answered '$out'";; esac
[ "$(db_instances)" = 1 ] || fail "intact instance not recorded"
pass "intact data set through the same client -> success"

# A non-CT object (an X-ray radiation dose SR, as CT scanners send with the study).
cat > "$T/dose.dump" <<'DUMP'
(0002,0001) OB 00\01
(0002,0002) UI =XRayRadiationDoseSRStorage
(0002,0003) UI [1.2.826.0.1.3680043.9.7433.99.1]
(0002,0010) UI =LittleEndianExplicit
(0008,0016) UI =XRayRadiationDoseSRStorage
(0008,0018) UI [1.2.826.0.1.3680043.9.7433.99.1]
(0008,0060) CS [SR]
(0010,0010) PN [SYNTHETIC^DOSE]
(0020,000d) UI [1.2.826.0.1.3680043.9.7433.99.2]
(0020,000e) UI [1.2.826.0.1.3680043.9.7433.99.3]
(0040,a040) CS [CONTAINER]
DUMP
dump2dcm "$T/dose.dump" "$T/dose.dcm" || fail "dump2dcm"
storescu -to 10 -aec "$AE" -aet TESTSCU 127.0.0.1 "$PORT" "$T/dose.dcm" >"$T/dose.log" 2>&1 \
  || { cat "$T/dose.log"; fail "non-CT object not acknowledged in discard mode"; }
[ "$(db_instances)" = 1 ] || fail "discarded object was recorded"
[ "$(count_spool_files)" = 1 ] || fail "discarded object was kept"
pass "non-CT object acknowledged and discarded"
stop_daemon

DAEMON_ARGS+=(--set node.other_objects=reject)
start_daemon
storescu -v -to 10 -aec "$AE" -aet TESTSCU 127.0.0.1 "$PORT" "$T/dose.dcm" >"$T/dose2.log" 2>&1 || true
grep -qiE "0x0122|SOP ?Class ?Not ?Supported|Refused" "$T/dose2.log" || { cat "$T/dose2.log"; fail "non-CT object not refused in reject mode"; }
[ "$(count_spool_files)" = 1 ] || fail "refused object was kept"
pass "non-CT object refused with 0x0122 in reject mode"
stop_daemon
