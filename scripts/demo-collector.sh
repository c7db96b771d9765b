#!/usr/bin/env bash
# The collector end to end, in about two minutes (too long for `ferris-usage demo`, whose day of events takes under a
# minute): a local broker, PostgreSQL and Prometheus (scripts/prometheus.sh: exporters relabelled as pods of the
# seed scenarios' namespaces); the instances announced on the registry topic (the team instance from the wizard's
# configuration message); `ferris-usage collect` with 10 s intervals and `ferris-usage run` side by side; then the
# usage per instance and component from PostgreSQL. Everything is stopped at the end.
#
# Usage: scripts/demo-collector.sh [SECONDS]   (how long to collect; default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}

scripts/setup.sh
swift build --product ferris-usage
bin=.build/debug/ferris-usage
state=$(mktemp -d "${TMPDIR:-/tmp}/ferris-usage-collector-demo.XXXXXX")
pids=()
stop() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  scripts/prometheus.sh stop "$state/prometheus" >/dev/null 2>&1 || true
  "$bin" services stop --dir "$state" >/dev/null 2>&1 || true
  rm -rf "$state"
}
trap stop EXIT
eval "$("$bin" services start --dir "$state")"
eval "$(scripts/prometheus.sh start "$state/prometheus")"
echo "demo: broker $FERRIS_BROKERS, PostgreSQL and Prometheus $FERRIS_PROMETHEUS_URL running" >&2

# The instances, as the deployment wizard would announce them (created a minute ago: the collector starts with
# that minute, from Prometheus's history).
created=$(date -u -d '-1 minute' +%Y-%m-%dT%H:%M:%SZ)
instance() {  # id tenant provider namespace components [links]
  printf '{"specversion":"1.0","id":"demo-%s","source":"/ferris/wizard","type":"net.ferrislabs.instance.v1","time":"%s","data":{"change":"created","instance":"%s","tenant":"%s","provider":"%s","kubernetes":{"cluster":"local","namespaces":["%s"]},"components":%s,"links":%s}}\n' \
    "$1" "$created" "$1" "$2" "$3" "$4" "$5" "${6:-[]}"
}
base='"argocd","consul","minio","kafka","postgresql","keycloak","vault","ferris-ui"'
{
  instance solo-gcp solo gcp ferris-solo "[$base]"
  instance hybrid-onprem hybrid-corp onprem ferris-hybrid-onprem "[$base,\"theia-ide\"]"
  instance hybrid-gcp hybrid-corp gcp ferris-hybrid-gcp "[$base,\"jupyterhub\",\"presto\"]"
} >"$state/instances.jsonl"
"$bin" registry publish "$state/instances.jsonl" --log-level warning
sed "s/2026-11-24T08:00:00Z/$created/" docs/examples/team-databricks.wizard.json >"$state/wizard.json"
"$bin" registry publish --from-wizard "$state/wizard.json" --log-level warning

# 10 s intervals instead of 60 s, so that a minute shows several.
"$bin" collect default-mapping | sed 's/^interval: 60s$/interval: 10s/; s/^delay: 30s$/delay: 8s/' >"$state/mapping.yaml"
"$bin" collect check "$state/mapping.yaml"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin" collect --mapping "$state/mapping.yaml" --http-port "$port" --http-host 127.0.0.1 --log-level warning \
  2>"$state/collect.log" &
pids+=($!)
"$bin" run --http-port 0 --log-level warning 2>"$state/run.log" &
pids+=($!)
echo "demo: collecting for $seconds s (collector metrics: http://127.0.0.1:$port/metrics)" >&2
sleep "$seconds"
curl -fs "http://127.0.0.1:$port/metrics" | grep -E '^ferris_collect_(events|intervals)_total' || true
kill "${pids[0]}"
wait "${pids[0]}" || true
# The service accounts what the collector sent last and its PostgreSQL sink copies it: wait until the figures hold still.
last=-1
for _ in $(seq 1 60); do
  now=$(psql "$FERRIS_DATABASE_URL" -Atc "SELECT coalesce(sum(event_count), 0) FROM usage_totals" 2>/dev/null || echo 0)
  [ "$now" != 0 ] && [ "$now" = "$last" ] && break
  last=$now
  sleep 2
done

psql "$FERRIS_DATABASE_URL" -q -c "SELECT instance, component, metric, sum(quantity) AS quantity, unit, sum(event_count) AS events
  FROM usage_totals GROUP BY instance, component, metric, unit ORDER BY instance, component, metric"
echo "demo: the team instance's databricks-link usage was reported with scope: out and is not in the totals" >&2
