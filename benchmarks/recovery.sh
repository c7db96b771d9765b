#!/usr/bin/env bash
# Recovery: kill -9 to the first committed transaction after a restart, group join and state restore included.
#
# The service (static member `bench-0`, as the Helm chart runs it) accounts a backlog of the large workload; a few
# seconds after its first commit it is killed with SIGKILL and started again at once with the same member id. The
# figure is the time from the kill to the restarted process's first committed transaction, split into "partitions
# assigned and restore begun" and "rebuilt and committed". Repeated ROUNDS times (default 3).
#
#   benchmarks/recovery.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/lib.sh
rounds=${1:-3}

bench_build release
bench_services
bench_simulate --scenario large --hours 12
echo "workload: $events events (large scenario, 12 hours, 2 partitions)"

run() {  # LOG: starts the service in the background, sets $pid
  "$bin" run --member-id bench-0 --group bench-recovery --topic-pattern '^ferris\.events\.fleet$' --http-port 0 >"$1" 2>&1 &
  pid=$!
}
wait_for() {  # LOG PATTERN SECONDS
  for _ in $(seq 1 $(($3 * 20))); do grep -q "$2" "$1" && return 0; sleep 0.05; done
  echo "timed out waiting for '$2' in $1" >&2
  tail -20 "$1" >&2
  exit 1
}
field() { grep "$2" "$1" | head -1 | grep -o "$3=[0-9.]*" | cut -d= -f2; }

run "$state/run-0.log"
wait_for "$state/run-0.log" "first transaction committed" 60
for round in $(seq 1 "$rounds"); do
  sleep 3
  kill -9 "$pid"
  killed=$(date +%s.%N)
  wait "$pid" 2>/dev/null || true
  started=$(date +%s.%N)
  run "$state/run-$round.log"
  wait_for "$state/run-$round.log" "first transaction committed" 120
  launch=$(awk -v a="$killed" -v b="$started" 'BEGIN { printf "%.3f", b - a }')
  restore=$(field "$state/run-$round.log" "restoring from checkpoint" seconds_since_start)
  commit=$(field "$state/run-$round.log" "first transaction committed" seconds_since_start)
  total=$(awk -v a="$launch" -v b="$commit" 'BEGIN { printf "%.2f", a + b }')
  echo "round $round: kill -9 -> first committed transaction ${total} s (restore began ${restore:-?} s after start, committed ${commit} s after start)"
done
kill "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
