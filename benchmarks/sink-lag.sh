#!/usr/bin/env bash
# The PostgreSQL sink under the large workload: `simulate` fills the topic with HOURS of the large workload (one
# total per event: the heaviest case for the sink), then `ferris-usage run` (continuous, Kafka and PostgreSQL)
# accounts it from the start while this script samples its /metrics every second: records read, totals committed to
# Kafka, rows written to PostgreSQL and the sink's lag (totals committed but not yet in PostgreSQL). Prints the lag
# curve, the sink's rows/s, and how long after the last commit PostgreSQL was complete.
#
#   benchmarks/sink-lag.sh [HOURS]   # default 4 (384,000 events)
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/lib.sh
hours=${1:-4}

bench_build release
bench_services
bench_simulate --scenario large --hours "$hours"
echo "workload: $events events (large scenario, $hours hours, 2 partitions)"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin" run --topic-pattern '^ferris\.events\.fleet$' --group "bench-sink-$RANDOM" --http-port "$port" \
  --http-host 127.0.0.1 --without-registry >"$log" 2>&1 &
service=$!
trap 'kill "$service" 2>/dev/null || true; wait "$service" 2>/dev/null || true; "$bin" services stop --dir "$state" >/dev/null 2>&1 || true; rm -rf "$state"' EXIT

metric() { awk -v name="ferris_usage_$1" '$1 == name { printf "%d", $2 }' <<<"$metrics"; }
echo "seconds records_read totals_committed postgres_rows_written postgres_sink_lag"
started=$(date +%s.%N)
settled=0 first_row_at="" caught_up_at="" complete_at="" previous_rows=-1
while [ "$settled" -lt 3 ]; do
  sleep 1
  metrics=$(curl -sf "http://127.0.0.1:$port/metrics" || true)
  [ -n "$metrics" ] || continue
  now=$(seconds_since "$started")
  read_=$(metric records_read_total) committed=$(metric totals_committed_total)
  rows=$(metric postgres_rows_written_total) lag=$(metric postgres_sink_lag)
  echo "$now ${read_:-0} ${committed:-0} ${rows:-0} ${lag:-0}"
  if [ -z "$first_row_at" ] && [ "${rows:-0}" -gt 0 ]; then first_row_at=$now; fi
  if [ -z "$caught_up_at" ] && [ "${read_:-0}" -ge "$events" ]; then caught_up_at=$now; fi
  if [ -n "$caught_up_at" ] && [ "${lag:-1}" -eq 0 ] && [ "${rows:-0}" -eq "$previous_rows" ]; then
    settled=$((settled + 1))
  else
    settled=0 complete_at=$now
  fi
  previous_rows=${rows:-0}
done
echo "all $events records read after $caught_up_at s; PostgreSQL complete ($rows rows) after $complete_at s (sampled each second)"
echo "sink: $(awk -v n="$rows" -v a="$first_row_at" -v b="$complete_at" 'BEGIN { printf "%.0f", n / (b - a) }') rows/s from its first row to complete"
