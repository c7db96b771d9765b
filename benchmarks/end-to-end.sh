#!/usr/bin/env bash
# End-to-end figures through a local broker, side by side in one run on the same topic:
#   1. `ferris-usage simulate` produces the large workload (binary mode) and reports its produce rate;
#   2. kcat drains the topic (the broker's read rate: the physical limit of this set-up);
#   3. `ferris-usage run --until-caught-up` accounts it exactly-once (first record consumed to last total committed):
#      the whole service (Kafka and its PostgreSQL copy), Kafka only, and Kafka only with final totals only; with
#      the service's peak resident set;
#   4. Quix Streams does the same accounting (benchmarks/quix/usage_totals.py), per-update and final-only output.
#
#   benchmarks/end-to-end.sh [HOURS]      # hours of the large workload's day: 96,000 events each (default 12)
#   benchmarks/end-to-end.sh --smoke      # 1 hour of one seed scenario, one run, no peer: proves the script runs (CI)
#
# Needs what scripts/setup.sh installs, plus kcat (apt) and Quix Streams (a virtualenv under the cache directory).
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/lib.sh

smoke=false
hours=12
if [ "${1:-}" = "--smoke" ]; then smoke=true; hours=1; elif [ -n "${1:-}" ]; then hours=$1; fi
cache="${FERRIS_USAGE_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/ferris-usage}"
quix_version=3.28.1

if $smoke; then
  bench_build debug
else
  bench_build release
  command -v kcat >/dev/null || { apt-get install -y kcat >&2 || sudo apt-get install -y kcat >&2; }
  if ! "$cache/quix-venv/bin/python" -c "import quixstreams" 2>/dev/null; then
    python3 -m venv "$cache/quix-venv" >&2
    "$cache/quix-venv/bin/pip" install -q "quixstreams==$quix_version" >&2
  fi
fi
bench_services
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }

# 1. The workload.
if $smoke; then
  topic=ferris.events.solo-gcp
  bench_simulate --scenario single-user-gcp --hours "$hours"
else
  topic=ferris.events.fleet
  bench_simulate --scenario large --hours "$hours"
fi
echo "workload: $events events on $topic (2 partitions); simulate produced $produce_rate events/s"

# 2. The broker's read rate.
if ! $smoke; then
  started=$(date +%s.%N)
  drained=$(kcat -C -b "$FERRIS_BROKERS" -t "$topic" -o beginning -e -q -f 'x\n' | wc -l)
  seconds=$(seconds_since "$started")
  kcat_rate=$(rate "$drained" "$seconds")
  echo "kcat: $drained records in $seconds s, $kcat_rate records/s"
fi

# 3. ferris-usage, exactly-once.
printf 'name: bench-final\nwindow:\n  emit: final\n' >"$state/final.yaml"
ferris() {  # NAME ARGS...: runs the service until caught up, prints its line, sets $ferris_rate
  local name=$1; shift
  /usr/bin/time -o "$state/rss" -f '%M' \
    "$bin" run --until-caught-up --topic-pattern "^${topic//./\\.}\$" --group "bench-$RANDOM" --http-port 0 "$@" >"$log" 2>&1
  local line
  line=$(grep 'caught up with every assigned partition' "$log")
  ferris_rate=$(grep -o 'records_per_second=[0-9]*' <<<"$line" | cut -d= -f2)
  echo "ferris-usage ($name): $(grep -o 'records=[0-9]*' <<<"$line" | cut -d= -f2) records," \
    "$(grep -o 'totals=[0-9]*' <<<"$line" | cut -d= -f2) totals," \
    "$(grep -o 'seconds_first_record_to_last_commit=[0-9.]*' <<<"$line" | cut -d= -f2) s first record to last commit," \
    "$ferris_rate records/s, peak RSS $(( $(tail -1 "$state/rss") / 1024 )) MiB"
}
ferris "Kafka + PostgreSQL"
$smoke && exit 0
ferris "Kafka only" --without-postgres
kafka_rate=$ferris_rate
echo "ferris-usage (Kafka only) / kcat: $(awk -v a="$kafka_rate" -v b="$kcat_rate" 'BEGIN { printf "%.2f", a / b }')"
ferris "Kafka only, final totals only" --without-postgres --topology "$state/final.yaml"
final_rate=$ferris_rate

# 4. The peer, per-update and final-only output, each compared with the matching ferris-usage run.
for output in per-update final; do
  flag=(); ours=$kafka_rate
  if [ "$output" = final ]; then flag=(--final); ours=$final_rate; fi
  quix=$("$cache/quix-venv/bin/python" benchmarks/quix/usage_totals.py --brokers "$FERRIS_BROKERS" --topic "$topic" \
    --output "quix.totals.$output.$RANDOM" "${flag[@]}" 2>"$log" | tail -1)
  echo "$quix"
  quix_rate=$(grep -o '[0-9]* records/s' <<<"$quix" | cut -d' ' -f1)
  echo "ferris-usage / quix ($output): $(awk -v a="$ours" -v b="$quix_rate" 'BEGIN { printf "%.1f", a / b }')"
done
