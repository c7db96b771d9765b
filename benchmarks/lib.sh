# Shared by the end-to-end benchmark scripts (sourced, not run).
#   bench_build release|debug     scripts/setup.sh, build ferris-usage, set $bin
#   bench_services                start a broker and PostgreSQL in a temporary directory ($state), stopped on exit
#   bench_simulate ARGS...        `ferris-usage simulate ARGS` (binary mode, $partitions or 2 partitions, 2026-11-25); sets $events
#                                 and $produce_rate
#   seconds_since START           seconds since START (a `date +%s.%N` value)
#   bench_kcat                    installs kcat (apt) when missing

bench_build() {
  scripts/setup.sh >&2
  if [ "$1" = release ]; then
    swift build -c release --product ferris-usage >&2
    bin=.build/release/ferris-usage
  else
    swift build --product ferris-usage >&2
    bin=.build/debug/ferris-usage
  fi
}

bench_services() {
  state=$(mktemp -d "${TMPDIR:-/tmp}/ferris-usage-bench.XXXXXX")
  log="$state/log"
  trap '"$bin" services stop --dir "$state" >/dev/null 2>&1 || true; rm -rf "$state"' EXIT
  eval "$("$bin" services start --dir "$state")"
}

bench_simulate() {
  "$bin" simulate --mode binary --date 2026-11-25 --partitions "${partitions:-2}" "$@" >"$log" 2>&1
  events=$(grep -o 'events=[0-9]*' "$log" | tail -1 | cut -d= -f2)
  produce_rate=$(grep -o 'produced_per_second=[0-9]*' "$log" | tail -1 | cut -d= -f2)
}

seconds_since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'; }

bench_kcat() { command -v kcat >/dev/null || { apt-get install -y kcat >&2 || sudo apt-get install -y kcat >&2; }; }
