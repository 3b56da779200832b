#!/usr/bin/env bash
# `osteoscout selftest` against a running node: it plays [destination selftest], sends a
# synthetic CT and checks the SR and SC pages that come back (PASS, exit 0); the verdicts for
# an installation it cannot test say why (FAIL ... because ..., exit 1).
. "$(dirname "$0")/lib.sh"
t0=$(date +%s)

ST_PORT=$(free_port)
cat >> "$CONF" <<EOF

[destination selftest]
ae_title = OSSELFTEST
host = 127.0.0.1
port = $ST_PORT
outputs = sr,sc
max_age_hours = 1
EOF
DAEMON_ARGS+=(--set "node.allowed_callers=OSSELFTEST@127.0.0.1,TESTSCU")

# Verdicts that need no node: no such destination; a caller the node would refuse.
rc=0; cli selftest --dest nosuch > "$T/nodest.txt" 2>&1 || rc=$?
[ $rc -eq 1 ] || fail "selftest without the destination exits $rc"
grep -q "^FAIL: .* because there is no \[destination nosuch\]" "$T/nodest.txt" || { cat "$T/nodest.txt"; fail "no-destination verdict"; }
rc=0; cli selftest --calling-ae STRANGER > "$T/caller.txt" 2>&1 || rc=$?
[ $rc -eq 1 ] && grep -q "^FAIL: .* because the node does not accept calling AE STRANGER" "$T/caller.txt" \
  || { cat "$T/caller.txt"; fail "refused-caller verdict"; }
rc=0; cli selftest --timeout 0 >/dev/null 2>&1 || rc=$?
[ $rc -eq 2 ] || fail "bad --timeout exits $rc"
pass "verdicts without a node: no destination, refused caller, bad usage"

# No node listening: the send fails and says so.
rc=0; cli selftest --pixel 3 --spacing 5 --timeout 20 > "$T/down.txt" 2>&1 || rc=$?
[ $rc -eq 1 ] && grep -q "^FAIL: the node at 127.0.0.1:$PORT .* did not take the synthetic CT because" "$T/down.txt" \
  || { cat "$T/down.txt"; fail "node-down verdict"; }
pass "node down: $(grep ^FAIL "$T/down.txt" | cut -c1-140)..."

# The real thing.
start_daemon
rc=0; cli selftest --timeout 80 --verbose --json > "$T/selftest.json" 2>"$T/selftest.err" || rc=$?
cat "$T/selftest.err"
[ -s "$T/selftest.json" ] || fail "selftest printed nothing"
json "j['message']" < "$T/selftest.json"
[ "$(json "j['received']['sr']" < "$T/selftest.json")" = 1 ] || fail "no SR received"
[ "$(json "j['received']['sc']" < "$T/selftest.json")" = 3 ] || fail "not 3 SC pages received"
json "[c['what'] for c in j['checks'] if c['what'] in ('sr','sc') and not c['ok']] == []" < "$T/selftest.json" | grep -qx True \
  || fail "SR/SC identity checks failed"
pass "SR and 3 SC pages came back to the selftest, in the phantom's study, with the right SOP classes"
[ $rc -eq 0 ] && [ "$(json "j['verdict']" < "$T/selftest.json")" = pass ] || fail "selftest did not pass (exit $rc)"
pass "selftest PASS against a running node"

# Its results were delivered once to the selftest destination and are recorded as sent.
[ "$(cli outbound --json | json "sorted((x['destination'], x['state'], x['attempts']) for x in j)")" = \
  "$(python3 -c 'import json; print(json.dumps([["selftest","sent",1]]*4))')" ] || { cli outbound; fail "outbound rows"; }
pass "outbound: 4 files sent to selftest at the first attempt"

# The verdict an installer reads is one line; it is the JSON's message.
json "j['message']" < "$T/selftest.json" | grep -q "^PASS: node OSTEOSCOUT at 127.0.0.1:$PORT analysed a synthetic CT" \
  || fail "verdict line: $(json "j['message']" < "$T/selftest.json")"
pass "verdict: $(json "j['message']" < "$T/selftest.json" | cut -c1-200)..."

stop_daemon
pass "selftest checks in $(( $(date +%s) - t0 )) s"
