#!/usr/bin/env bash
# A local Prometheus for the collector's tests and demo: Prometheus, node exporter and postgres exporter on free
# loopback ports, with their own config and data in DIR. Relabeling gives the scraped series Kubernetes-like labels
# (namespace, pod, container, component) and cAdvisor / kube-state-metrics names, as if pods of the seed scenarios'
# instances ran in the namespaces ferris-solo, ferris-team, ferris-hybrid-onprem and ferris-hybrid-gcp:
#
#   solo-gcp       kafka-0 (node exporter), postgresql-0 (postgres exporter), ferris-ui (Prometheus itself: requests)
#   team-gcp       keycloak-0 (node exporter), dbx-connector-0 (postgres exporter, component databricks-link)
#   hybrid-onprem  kafka-0 (node exporter), the Theia IDE pod theia-alice (running: session hours)
#   hybrid-gcp     trino-coordinator-0 (postgres exporter), the JupyterHub server jupyter-bob (running)
#
# Process CPU seconds become container_cpu_usage_seconds_total, resident memory container_memory_working_set_bytes,
# the node's transmitted bytes per device container_network_transmit_bytes_total (device -> interface) and
# Prometheus's HTTP requests flask_http_request_total. Resource requests, PVC sizes and pod phases are kube-state-metrics series written to
# the node exporter's textfile directory (DIR/textfile/kube.prom): edit it to change them.
#
# Usage: prometheus.sh start DIR        start all three (needs FERRIS_DATABASE_URL); prints shell exports
#        prometheus.sh stop DIR         stop all three
#        prometheus.sh stop-server DIR  stop only Prometheus (an outage: no scrapes, the API does not answer)
#        prometheus.sh start-server DIR start Prometheus again on the same port and data
set -euo pipefail

command=${1:?usage: prometheus.sh start|stop|stop-server|start-server DIR}
dir=${2:?usage: prometheus.sh $command DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
SCRAPE_INTERVAL=${FERRIS_SCRAPE_INTERVAL:-2s}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 1 150); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "prometheus.sh: $2 did not listen on port $1 (log: $dir/$2.log)" >&2
  exit 1
}
stop_pid() {
  local file=$dir/$1.pid
  [ -f "$file" ] || return 0
  local pid
  pid=$(cat "$file")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$file"
}

start_server() {
  # shellcheck disable=SC1091
  source "$dir/ports"
  setsid prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
    --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" --storage.tsdb.retention.time=1d \
    --log.level=warn </dev/null >>"$dir/prometheus.log" 2>&1 &
  echo $! >"$dir/prometheus.pid"
  wait_port "$PROMETHEUS_PORT" prometheus
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$PROMETHEUS_PORT/-/ready" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "prometheus.sh: Prometheus is not ready (log: $dir/prometheus.log)" >&2
  exit 1
}

case $command in
start)
  : "${FERRIS_DATABASE_URL:?FERRIS_DATABASE_URL must name the PostgreSQL the postgres exporter watches}"
  if [ ! -f "$dir/ports" ]; then
    printf 'PROMETHEUS_PORT=%s\nNODE_PORT=%s\nPOSTGRES_PORT=%s\n' "$(free_port)" "$(free_port)" "$(free_port)" >"$dir/ports"
  fi
  # shellcheck disable=SC1091
  source "$dir/ports"
  mkdir -p "$dir/textfile" "$dir/data"
  cat >"$dir/textfile/kube.prom.tmp" <<'EOF'
kube_pod_container_resource_requests{namespace="ferris-team",pod="keycloak-0",container="keycloak",resource="cpu",unit="core"} 0.5
kube_pod_container_resource_requests{namespace="ferris-team",pod="keycloak-0",container="keycloak",resource="memory",unit="byte"} 268435456
kube_pod_container_resource_requests{namespace="ferris-solo",pod="kafka-0",container="kafka",resource="cpu",unit="core"} 0.001
kube_persistentvolumeclaim_resource_requests_storage_bytes{namespace="ferris-solo",persistentvolumeclaim="data-postgresql-0"} 8589934592
kube_persistentvolumeclaim_resource_requests_storage_bytes{namespace="ferris-hybrid-onprem",persistentvolumeclaim="data-kafka-0"} 21474836480
kube_pod_status_phase{namespace="ferris-hybrid-onprem",pod="theia-alice",phase="Running"} 1
kube_pod_status_phase{namespace="ferris-hybrid-gcp",pod="jupyter-bob",phase="Running"} 1
kube_pod_labels{namespace="ferris-team",pod="keycloak-0",label_app_kubernetes_io_name="keycloak"} 1
EOF
  mv "$dir/textfile/kube.prom.tmp" "$dir/textfile/kube.prom"
  python3 - "$dir/prometheus.yml" "$SCRAPE_INTERVAL" "$PROMETHEUS_PORT" "$NODE_PORT" "$POSTGRES_PORT" <<'PY'
import sys, yaml
path, interval, prometheus, node, postgres = sys.argv[1:]
# Series as cAdvisor names them, for the pods the static labels describe; everything else is dropped.
def rename(source, target):
    return {"source_labels": ["__name__"], "regex": source, "target_label": "__name__", "replacement": target}
kubernetes = [
    {"source_labels": ["device"], "regex": "(.+)", "target_label": "interface"},
    rename("node_network_transmit_bytes_total", "container_network_transmit_bytes_total"),
    rename("process_cpu_seconds_total", "container_cpu_usage_seconds_total"),
    rename("process_resident_memory_bytes", "container_memory_working_set_bytes"),
    rename("prometheus_http_requests_total", "flask_http_request_total"),
    {"source_labels": ["__name__"], "action": "keep",
     "regex": "container_cpu_usage_seconds_total|container_memory_working_set_bytes|container_network_transmit_bytes_total|flask_http_request_total"},
    {"regex": "device|instance", "action": "labeldrop"},
]
pods = [  # job, exporter port, namespace, pod, container, component label
    ("solo-kafka", node, "ferris-solo", "kafka-0", "kafka", None),
    ("solo-postgresql", postgres, "ferris-solo", "postgresql-0", "postgresql", None),
    ("solo-ui", prometheus, "ferris-solo", "ferris-ui-7d4f9", "ferris-ui", "ferris-ui"),
    ("team-keycloak", node, "ferris-team", "keycloak-0", "keycloak", None),
    ("team-databricks", postgres, "ferris-team", "dbx-connector-0", "connector", "databricks-link"),
    ("onprem-kafka", node, "ferris-hybrid-onprem", "kafka-0", "kafka", None),
    ("gcp-presto", postgres, "ferris-hybrid-gcp", "trino-coordinator-0", "trino", None),
]
jobs = [{"job_name": "kube-state-metrics", "honor_labels": True,
         "static_configs": [{"targets": [f"127.0.0.1:{node}"]}],
         "metric_relabel_configs": [{"source_labels": ["__name__"], "regex": "kube_.*", "action": "keep"},
                                    {"regex": "instance|job", "action": "labeldrop"}]}]
for job, port, namespace, pod, container, component in pods:
    labels = {"namespace": namespace, "pod": pod, "container": container}
    if component:
        labels["component"] = component
    jobs.append({"job_name": job, "static_configs": [{"targets": [f"127.0.0.1:{port}"], "labels": labels}],
                 "metric_relabel_configs": kubernetes})
class NoAliases(yaml.SafeDumper):
    def ignore_aliases(self, data):
        return True
config = {"global": {"scrape_interval": interval, "evaluation_interval": "1m"}, "scrape_configs": jobs}
with open(path, "w") as file:
    yaml.dump(config, file, Dumper=NoAliases, sort_keys=False)
PY
  promtool check config "$dir/prometheus.yml" >/dev/null
  setsid prometheus-node-exporter --web.listen-address="127.0.0.1:$NODE_PORT" --collector.disable-defaults \
    --collector.netdev --collector.textfile --collector.textfile.directory="$dir/textfile" \
    </dev/null >>"$dir/node-exporter.log" 2>&1 &
  echo $! >"$dir/node-exporter.pid"
  DATA_SOURCE_NAME="$FERRIS_DATABASE_URL" setsid prometheus-postgres-exporter --web.listen-address="127.0.0.1:$POSTGRES_PORT" \
    </dev/null >>"$dir/postgres-exporter.log" 2>&1 &
  echo $! >"$dir/postgres-exporter.pid"
  wait_port "$NODE_PORT" node-exporter
  wait_port "$POSTGRES_PORT" postgres-exporter
  start_server
  echo "export FERRIS_PROMETHEUS_URL=http://127.0.0.1:$PROMETHEUS_PORT"
  echo "export FERRIS_PROMETHEUS_DIR=$dir"
  ;;
stop)
  stop_pid prometheus
  stop_pid node-exporter
  stop_pid postgres-exporter
  ;;
stop-server)
  stop_pid prometheus
  ;;
start-server)
  start_server
  ;;
*)
  echo "usage: prometheus.sh start|stop|stop-server|start-server DIR" >&2
  exit 2
  ;;
esac
