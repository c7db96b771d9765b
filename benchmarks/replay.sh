#!/usr/bin/env bash
# Replay for re-accounting: the service first accounts 11 hours of the large workload (1,056,000 events) into Kafka and
# PostgreSQL; then `ferris-usage replay` re-accounts the whole range: reads and accounts it, stages it in PostgreSQL,
# compares it with the current figures and publishes revision 1 (nothing changes, so nothing is republished). Prints
# the read-and-account rate and the whole command's wall time and events/s.
#
#   benchmarks/replay.sh [HOURS]
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/lib.sh
hours=${1:-11}

bench_build release
bench_services
bench_simulate --scenario large --hours "$hours"
echo "workload: $events events (large scenario, $hours hours, 2 partitions)"
"$bin" run --until-caught-up --topic-pattern '^ferris\.events\.fleet$' --http-port 0 --without-registry >"$log" 2>&1
echo "accounted: $(grep -o 'totals=[0-9]*' <(grep 'caught up' "$log") | cut -d= -f2) totals"

started=$(date +%s.%N)
"$bin" replay --from 2026-11-25T00:00:00Z --to "2026-11-25T$(printf %02d "$hours"):00:00Z" \
  --topic-pattern '^ferris\.events\.fleet$' --without-registry --max-changes 0 >"$state/replay.out" 2>"$state/replay.err"
seconds=$(seconds_since "$started")
records=$(grep 'totals in range' "$state/replay.err" | grep -o '[0-9]* records' | awk '{ sum += $1 } END { print sum }')
grep -o 'read_records_per_second=[0-9]*\|read_seconds=[0-9.]*\|stage_seconds=[0-9.]*\|diff_seconds=[0-9.]*\|publish_seconds=[0-9.]*' "$state/replay.err" | tr '\n' ' '; echo
tail -1 "$state/replay.out"
echo "replay: $records records in $seconds s, $(awk -v n="$records" -v s="$seconds" 'BEGIN { printf "%.0f", n / s }') records/s (wall time of the command)"
