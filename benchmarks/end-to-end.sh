#!/usr/bin/env bash
# End-to-end figures through a local broker, side by side in one run, for two workloads, each on its own topic:
#   - per-minute: usage collectors' shape, 9,600 keys each reporting every minute (60 events per key and hour);
#   - large: 2,000 tenants x 12 components x 4 metrics reporting hourly (every event opens a window).
# For each: `ferris-usage simulate` produces it (binary mode) and reports its produce rate; kcat drains the topic (the
# broker's read rate: the physical limit of this set-up); `ferris-usage run --until-caught-up` accounts it
# exactly-once (first record consumed to last total committed) three ways: Kafka and its PostgreSQL copy, Kafka only,
# Kafka only with final totals only, with the service's peak resident set and CPU time over its whole run; Quix
# Streams does the same accounting (benchmarks/quix/usage_totals.py), per-update and final-only output.
#
#   benchmarks/end-to-end.sh [LARGE_HOURS [MINUTE_HOURS]]   # 96,000 and 576,000 events an hour (defaults 4 and 2)
#   benchmarks/end-to-end.sh --smoke      # 1 hour of one seed scenario, one run, no peer: proves the script runs (CI)
#
# Needs what scripts/setup.sh installs, plus kcat (apt) and Quix Streams (a virtualenv under the cache directory).
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/lib.sh

smoke=false
large_hours=4
minute_hours=2
if [ "${1:-}" = "--smoke" ]; then smoke=true; else large_hours=${1:-4}; minute_hours=${2:-2}; fi
cache="${FERRIS_USAGE_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/ferris-usage}"
quix_version=3.28.1

if $smoke; then
  bench_build debug
else
  bench_build release
  bench_kcat
  if ! "$cache/quix-venv/bin/python" -c "import quixstreams" 2>/dev/null; then
    python3 -m venv "$cache/quix-venv" >&2
    "$cache/quix-venv/bin/pip" install -q "quixstreams==$quix_version" >&2
  fi
fi
bench_services
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }
ratio() { awk -v a="$1" -v b="$2" -v f="$3" 'BEGIN { printf f, a / b }'; }
printf 'name: bench-final\nwindow:\n  emit: final\n' >"$state/final.yaml"

ferris() {  # TOPIC NAME ARGS...: runs the service until caught up, prints its line, sets $ferris_rate
  local topic=$1 name=$2; shift 2
  /usr/bin/time -o "$state/rss" -f '%M %U %S %e' \
    "$bin" run --until-caught-up --topic-pattern "^${topic//./\\.}\$" --group "bench-$RANDOM" --http-port 0 \
    --without-registry "$@" >"$log" 2>&1
  local line
  line=$(grep 'caught up with every assigned partition' "$log")
  ferris_rate=$(grep -o 'records_per_second=[0-9]*' <<<"$line" | cut -d= -f2)
  echo "  ferris-usage ($name): $(grep -o 'records=[0-9]*' <<<"$line" | cut -d= -f2) records," \
    "$(grep -o 'totals=[0-9]*' <<<"$line" | cut -d= -f2) totals," \
    "$(grep -o 'seconds_first_record_to_last_commit=[0-9.]*' <<<"$line" | cut -d= -f2) s first record to last commit," \
    "$ferris_rate records/s, peak RSS $(awk 'END { printf "%d MiB, %.1f CPU-s over %.1f s (busy %.0f %%)", $1 / 1024, $2 + $3, $4, 100 * ($2 + $3) / $4 }' "$state/rss")"
}

workload() {  # SCENARIO HOURS TOPIC: one workload, every contender on it
  local scenario=$1 hours=$2 topic=$3
  bench_simulate --scenario "$scenario" --hours "$hours"
  echo "$scenario: $events events on $topic (2 partitions); simulate produced $produce_rate events/s"
  if ! $smoke; then
    local started drained seconds
    started=$(date +%s.%N)
    drained=$(kcat -C -b "$FERRIS_BROKERS" -t "$topic" -o beginning -e -q -f 'x\n' | wc -l)
    seconds=$(seconds_since "$started")
    kcat_rate=$(rate "$drained" "$seconds")
    echo "  kcat: $drained records in $seconds s, $kcat_rate records/s"
  fi
  ferris "$topic" "Kafka + PostgreSQL"
  $smoke && return 0
  ferris "$topic" "Kafka only" --without-postgres
  local kafka_rate=$ferris_rate
  echo "  ferris-usage (Kafka only) / kcat: $(ratio "$kafka_rate" "$kcat_rate" %.2f)"
  ferris "$topic" "Kafka only, final totals only" --without-postgres --topology "$state/final.yaml"
  local final_rate=$ferris_rate
  for output in per-update final; do
    local flag=() ours=$kafka_rate quix quix_rate
    if [ "$output" = final ]; then flag=(--final); ours=$final_rate; fi
    quix=$("$cache/quix-venv/bin/python" benchmarks/quix/usage_totals.py --brokers "$FERRIS_BROKERS" --topic "$topic" \
      --output "quix.totals.$output.$RANDOM" "${flag[@]}" 2>"$log" | tail -1)
    echo "  $quix"
    quix_rate=$(grep -o '[0-9]* records/s' <<<"$quix" | cut -d' ' -f1)
    echo "  ferris-usage / quix ($output): $(ratio "$ours" "$quix_rate" %.1f)"
  done
}

if $smoke; then
  workload single-user-gcp 1 ferris.events.solo-gcp
else
  workload per-minute "$minute_hours" ferris.events.fleet-minutes
  workload large "$large_hours" ferris.events.fleet
fi
