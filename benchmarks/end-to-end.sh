#!/usr/bin/env bash
# End-to-end figures through a local broker, side by side in one run on the same topic:
#   1. `ferris-usage simulate` produces the large workload (binary mode) and reports its produce rate;
#   2. kcat drains the topic (the broker's read rate: the physical limit of this set-up);
#   3. `ferris-usage run --until-caught-up` accounts it exactly-once (first record consumed to last total committed);
#   4. Quix Streams does the same accounting (benchmarks/quix/usage_totals.py), per-update and final-only output.
#
#   benchmarks/end-to-end.sh [HOURS]      # hours of the large workload's day: 96,000 events each (default 12)
#   benchmarks/end-to-end.sh --smoke      # 1 hour of one seed scenario, no peer: proves the script runs (CI)
#
# Needs what scripts/setup.sh installs, plus kcat (apt) and Quix Streams (a virtualenv under the cache directory).
set -euo pipefail
cd "$(dirname "$0")/.."

smoke=false
hours=12
if [ "${1:-}" = "--smoke" ]; then smoke=true; hours=1; elif [ -n "${1:-}" ]; then hours=$1; fi
cache="${FERRIS_USAGE_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/ferris-usage}"
quix_version=3.28.1

scripts/setup.sh >&2
if $smoke; then
  swift build --product ferris-usage >&2
  bin=.build/debug/ferris-usage
else
  swift build -c release --product ferris-usage >&2
  bin=.build/release/ferris-usage
  command -v kcat >/dev/null || { apt-get install -y kcat >&2 || sudo apt-get install -y kcat >&2; }
  if ! "$cache/quix-venv/bin/python" -c "import quixstreams" 2>/dev/null; then
    python3 -m venv "$cache/quix-venv" >&2
    "$cache/quix-venv/bin/pip" install -q "quixstreams==$quix_version" >&2
  fi
fi

state=$(mktemp -d "${TMPDIR:-/tmp}/ferris-usage-bench.XXXXXX")
stop() { "$bin" services stop --dir "$state" >/dev/null 2>&1 || true; rm -rf "$state"; }
trap stop EXIT
eval "$("$bin" services start --dir "$state")"
log="$state/log"
now() { date +%s.%N; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }

# 1. The workload.
if $smoke; then
  scenario=(--scenario single-user-gcp); topic=ferris.events.solo-gcp
else
  scenario=(--scenario large); topic=ferris.events.fleet
fi
"$bin" simulate "${scenario[@]}" --mode binary --date 2026-11-25 --hours "$hours" --partitions 2 >"$log" 2>&1
events=$(grep -o 'events=[0-9]*' "$log" | tail -1 | cut -d= -f2)
produce_rate=$(grep -o 'produced_per_second=[0-9]*' "$log" | tail -1 | cut -d= -f2)
echo "workload: $events events on $topic (2 partitions); simulate produced $produce_rate events/s"

# 2. The broker's read rate.
if ! $smoke; then
  started=$(now)
  drained=$(kcat -C -b "$FERRIS_BROKERS" -t "$topic" -o beginning -e -q -f 'x\n' -X fetch.max.bytes=52428800 | wc -l)
  seconds=$(awk -v a="$started" -v b="$(now)" 'BEGIN { print b - a }')
  kcat_rate=$(rate "$drained" "$seconds")
  echo "kcat: $drained records in ${seconds} s, $kcat_rate records/s"
fi

# 3. ferris-usage, exactly-once into Kafka (and PostgreSQL, which it copies to on its own consumer).
"$bin" run --until-caught-up --topic-pattern "^${topic//./\\.}\$" --group "bench-$RANDOM" --http-port 0 >"$log" 2>&1
line=$(grep 'caught up with every assigned partition' "$log")
ferris_rate=$(grep -o 'records_per_second=[0-9]*' <<<"$line" | cut -d= -f2)
echo "ferris-usage: $(grep -o 'records=[0-9]*' <<<"$line" | cut -d= -f2) records," \
  "$(grep -o 'totals=[0-9]*' <<<"$line" | cut -d= -f2) totals," \
  "$(grep -o 'seconds_first_record_to_last_commit=[0-9.]*' <<<"$line" | cut -d= -f2) s first record to last commit," \
  "$ferris_rate records/s"
$smoke && exit 0
echo "ferris-usage / kcat: $(awk -v a="$ferris_rate" -v b="$kcat_rate" 'BEGIN { printf "%.2f", a / b }')"

# 4. The peer.
for output in per-update final; do
  flag=(); [ "$output" = final ] && flag=(--final)
  quix=$("$cache/quix-venv/bin/python" benchmarks/quix/usage_totals.py --brokers "$FERRIS_BROKERS" --topic "$topic" \
    --output "quix.totals.$output.$RANDOM" "${flag[@]}" 2>"$log" | tail -1)
  echo "$quix"
  quix_rate=$(grep -o '[0-9]* records/s' <<<"$quix" | cut -d' ' -f1)
  echo "ferris-usage / quix ($output): $(awk -v a="$ferris_rate" -v b="$quix_rate" 'BEGIN { printf "%.1f", a / b }')"
done
