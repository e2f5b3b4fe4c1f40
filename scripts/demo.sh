#!/usr/bin/env bash
# The main job: builds MemberSync and runs a local, secure demo federation on 127.0.0.1 —
# the Brussels hub and three member offices (Asker, Bærum, OsloMet) holding the seed
# directory — shows edits the write rules refuse and why, then cuts Asker off from the hub,
# edits on both sides, reconnects Asker and shows the merge (including a conflict on a
# project both offices may edit, kept for a person to resolve).
#
#   ./scripts/demo.sh            run the demo, then leave the federation running (Ctrl-C stops it)
#   ./scripts/demo.sh --once     run the demo and stop (what CI and scripts use)
#
# Environment: MEMBERSYNC_DEMO_DIR (default: a new temp dir), MEMBERSYNC_DEMO_PORT (default 27400).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"

once=0
[ "${1:-}" = "--once" ] && once=1
[ -t 0 ] || once=1

bash scripts/install-deps.sh
echo "== building (first build takes a few minutes)"
swift build --product membersyncd >/dev/null
swift build --product membersync >/dev/null
bin="$(swift build --show-bin-path)"
ms="$bin/membersync"

demo=${MEMBERSYNC_DEMO_DIR:-$(mktemp -d /tmp/membersync-demo.XXXXXX)}
port=${MEMBERSYNC_DEMO_PORT:-27400}
mkdir -p "$demo"
declare -A pids=()

endpoint() { echo "tcp://127.0.0.1:$((port + $1))"; }
hub_ep=$(endpoint 0)
unreachable_ep=$(endpoint 90)   # nothing listens here: a member pointed at it is cut off

start() {  # start NODE
  "$bin/membersyncd" --config "$demo/$1/membersync.toml" >>"$demo/$1.log" 2>&1 &
  pids[$1]=$!
  for _ in $(seq 1 100); do
    "$ms" status --data-dir "$demo/$1" --json >/dev/null 2>&1 && return 0
    [ $? -eq 2 ] || return 0
    sleep 0.1
  done
  echo "node $1 did not start; see $demo/$1.log" >&2
  exit 1
}

stop() {  # stop NODE (SIGTERM, graceful)
  local pid=${pids[$1]:-}
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  unset "pids[$1]"
}

stop_all() {
  for n in "${!pids[@]}"; do stop "$n"; done
}
trap 'echo; echo "== stopping the demo federation"; stop_all; exit 0' INT TERM
trap 'stop_all' EXIT

digest() { "$ms" status --data-dir "$demo/$1" --json 2>/dev/null | sed -n 's/.*"digest" : "\([0-9a-f]*\)".*/\1/p'; }

converge() {  # converge NODE...
  for _ in $(seq 1 200); do
    local first; first=$(digest "$1"); local same=1
    for n in "$@"; do [ "$(digest "$n")" = "$first" ] && [ -n "$first" ] || same=0; done
    if [ $same -eq 1 ]; then echo "   converged: state digest ${first:0:16}… on $*"; return 0; fi
    sleep 0.1
  done
  echo "   did not converge" >&2
  return 1
}

# The demo runs secure, as a real federation does: CURVE on every socket, admission by the
# roster (ZAP), signed ops and write rules. Every node gets its keys at `init`; members trust
# the hub's keys, and the hub operator admits each member into the roster.
key() { tr -d '\n' <"$demo/$1/$2"; }   # key NODE FILE: a public key init wrote
member_init() {  # member_init NODE OFFSET HUB-ENDPOINT (--force keeps the node's keys)
  "$ms" init "$demo/$1" --id "$1" --organisation "$1" --listen "$(endpoint "$2")" \
    --hub-endpoint "$3" "--hub-key=$(key brussels curve.pub)" "--hub-signing-key=brussels:$(key brussels signing.pub)" \
    --heartbeat-ms 200 --force >/dev/null
}

echo "== demo directory: $demo"
"$ms" init "$demo/brussels" --id brussels --organisation oslo-region-european-office --hub \
  --listen "$hub_ep" --heartbeat-ms 200 --force >/dev/null
member_init asker 10 "$hub_ep"
member_init baerum 20 "$hub_ep"
member_init oslomet 30 "$hub_ep"
for n in brussels asker baerum oslomet; do start "$n"; done
echo "== started the Brussels hub ($hub_ep) and members asker, baerum, oslomet (CURVE, signed ops, write rules)"

echo "== the hub operator imports the seed directory (Deploy/seed/directory.jsonl)"
"$ms" import --data-dir "$demo/brussels" Deploy/seed/directory.jsonl
echo "== ... and admits the three members into the roster with their keys"
for n in asker baerum oslomet; do
  "$ms" hub admit --data-dir "$demo/brussels" "$n" --organisation "$n" \
    "--signing-key=$(key "$n" signing.pub)" "--curve-key=$(key "$n" curve.pub)"
done
echo "== ... and makes Asker the lead of CatchMR and Bærum a partner, so both may edit it"
"$ms" set --data-dir "$demo/brussels" projects/catchmr lead=asker partners+=baerum
converge brussels asker baerum oslomet
echo "   asker now holds $("$ms" list organisations --data-dir "$demo/asker" --json | grep -c '"key"') organisations"

echo
echo "== rights: Bærum may not edit Asker's record, and Asker may not take over a project it does not lead"
for attempt in "baerum organisations/asker topics+=climate" "asker projects/race-to-zero lead=asker status=closed"; do
  set -- $attempt
  node=$1; shift
  echo "   \$ membersync set --data-dir $node $*"
  if out=$("$ms" set --data-dir "$demo/$node" "$@" 2>&1); then
    echo "   unexpectedly allowed: $out" >&2; exit 1
  fi
  echo "   $out"
done

echo
echo "== Asker's office loses its link to Brussels (its node restarts pointing at an unreachable hub)"
stop asker
member_init asker 10 "$unreachable_ep"
start asker
sleep 1
"$ms" status --data-dir "$demo/asker" | grep -E '^(mode|hubs)' || true

echo "== while cut off, Asker edits its own record and CatchMR; Bærum edits CatchMR too"
"$ms" set --data-dir "$demo/asker" organisations/asker "description=Asker works with the UN sustainability goals, digitalisation and citizen participation." topics+=citizen-participation
"$ms" set --data-dir "$demo/asker" projects/catchmr status=running
"$ms" set --data-dir "$demo/baerum" projects/catchmr status=closed topics+=climate
"$ms" status --data-dir "$demo/asker" | grep -E '^pending' || true

echo
echo "== Asker reconnects"
stop asker
member_init asker 10 "$hub_ep"
start asker
converge brussels asker baerum oslomet
echo "== OsloMet's copy has both offices' edits: Asker's own record ..."
"$ms" get --data-dir "$demo/oslomet" organisations/asker | grep -E '^(organisations|  description|  topics)'
echo "== ... and CatchMR, with Bærum's topic"
"$ms" get --data-dir "$demo/oslomet" projects/catchmr | grep -E '^(projects|  lead|  partners|  topics)'
echo "== the concurrent status edits on CatchMR are kept as a conflict on every node:"
"$ms" conflicts --data-dir "$demo/oslomet"

if [ $once -eq 1 ]; then
  echo
  echo "== demo complete; stopping the federation"
  exit 0
fi
cat <<EOT

== the federation keeps running. Try, in another terminal:
   $ms status --data-dir $demo/asker
   $ms set --data-dir $demo/baerum projects/catchmr status=running   # resolves the conflict
   $ms set --data-dir $demo/baerum organisations/asker name=Mine     # refused: not Bærum's
   $ms get --data-dir $demo/asker projects/catchmr
   $ms list organisations --data-dir $demo/oslomet
Logs are in $demo/*.log. Press Ctrl-C to stop all nodes.
EOT
while true; do sleep 1; done
