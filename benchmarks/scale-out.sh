#!/usr/bin/env bash
# Scale-out: how users grow past one process. One run: `simulate` fills an 8-partition topic with HOURS of the
# per-minute workload (576,000 events an hour); then 1, 2 and 4 `ferris-usage run --until-caught-up` processes,
# started together in one consumer group, account it into Kafka and PostgreSQL (a table and totals topic per
# process count). Prints each count's wall time from start to the last process's exit and its rate, each process's
# share of the records, and checks exactness: every count's current figures equal the single process's, key by key,
# and their event counts sum to the events produced, in PostgreSQL and on each count's totals topic.
#
#   benchmarks/scale-out.sh [HOURS]   # default 2 (1,152,000 events)
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/lib.sh
hours=${1:-2}
topic=ferris.events.fleet-minutes

bench_build release
bench_services
partitions=8 bench_simulate --scenario per-minute --hours "$hours"
echo "workload: $events events on $topic (8 partitions); simulate produced $produce_rate events/s"

for processes in 1 2 4; do
  printf 'name: scale-%s\nsource:\n  topics: %s\n  group: bench-scale-%s-%s\nsinks:\n  totals: bench.scale.totals.%s\n  table: scale_%s\n' \
    "$processes" "'^${topic//./\\.}\$'" "$processes" "$RANDOM" "$processes" "$processes" >"$state/scale-$processes.yaml"
  started=$(date +%s.%N)
  pids=()
  for ((i = 1; i <= processes; i++)); do
    "$bin" run --until-caught-up --topology "$state/scale-$processes.yaml" --http-port 0 --without-registry \
      >"$state/scale-$processes-$i.log" 2>&1 &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
  seconds=$(seconds_since "$started")
  shares=$(for ((i = 1; i <= processes; i++)); do
    grep 'caught up with every assigned partition' "$state/scale-$processes-$i.log" | grep -o 'records=[0-9]*' | cut -d= -f2
  done | paste -sd+ -)
  echo "$processes process(es): $events events in $seconds s (start to last exit), $(awk -v n="$events" -v s="$seconds" \
    'BEGIN { printf "%.0f", n / s }') events/s; records read per process: $shares"
done

query() { psql "$FERRIS_DATABASE_URL" -AtX -c "$1"; }
for processes in 2 4; do
  differing=$(query "SELECT count(*) FROM (
      (SELECT tenant, instance, component, metric, window_start, quantity, event_count FROM scale_1
       EXCEPT SELECT tenant, instance, component, metric, window_start, quantity, event_count FROM scale_$processes)
      UNION ALL
      (SELECT tenant, instance, component, metric, window_start, quantity, event_count FROM scale_$processes
       EXCEPT SELECT tenant, instance, component, metric, window_start, quantity, event_count FROM scale_1)) d")
  echo "exactness, $processes processes vs 1: $differing keys and windows differ"
  if [ "$differing" != 0 ]; then
    kept=$(mktemp -d "${TMPDIR:-/tmp}/ferris-usage-scale-out-logs.XXXXXX")
    cp "$state"/scale-"$processes"-*.log "$kept"/
    echo "  the processes' logs are kept in $kept"
  fi
done
# The totals topic itself (read_committed, the newest record of each key, as compaction keeps it), summed per key and
# window like the view: tells a total missing from PostgreSQL only from one the accounting never committed.
bench_kcat
for processes in 1 2 4; do
  kcat -C -b "$FERRIS_BROKERS" -t "bench.scale.totals.$processes" -o beginning -e -q -X isolation.level=read_committed \
    -f '%k\t%s\n' | python3 -c '
import json, sys
latest = {}
for line in sys.stdin:
    key, _, value = line.rstrip("\n").partition("\t")
    latest[key] = json.loads(value)["data"]
figures = {}
for d in latest.values():
    if d["x_Status"] == "retracted" or d.get("x_Revision", 0):
        continue
    k = (d["SubAccountId"], d["ResourceId"], d["ServiceName"], d["x_Metric"], d["ChargePeriodStart"])
    count, events = figures.get(k, (0, 0))
    figures[k] = (count + 1, events + d["x_EventCount"])
print(f"{len(figures)} totals, {sum(e for _, e in figures.values())} events")
' | sed "s/^/exactness, $processes process(es), totals topic: /"
  # Every record on the log, aborted transactions' included: a total the committed view lacks but the log has was
  # written and then aborted (or is hidden by the broker).
  echo "  records on the log (read_uncommitted): $(kcat -C -b "$FERRIS_BROKERS" -t "bench.scale.totals.$processes" -o beginning -e -q \
    -X isolation.level=read_uncommitted -f '%k\n' | sort -u | wc -l) distinct record keys"
done
# Records refused on the way (every count's runs share the default dead-letter topic; the workload has none to refuse).
echo "dead-lettered records (all counts): $(kcat -C -b "$FERRIS_BROKERS" -t ferris.usage.deadletter -o beginning -e -q \
  -f '%h\n' 2>/dev/null | grep -o 'ferris-dlq-reason=[^,]*' | sort | uniq -c | paste -sd' ' - || true)"
for processes in 1 2 4; do
  echo "exactness, $processes process(es), PostgreSQL: $(query "SELECT count(*) || ' totals, ' || sum(event_count) || ' events (produced: $events)' FROM scale_$processes")"
done
