/// The built-in mapping: the text of `collector/default.yaml` (a test keeps the two identical).
enum DefaultMapping {
    static let yaml = #"""
# The collector's built-in mapping (docs/schemas/collector.v1.schema.json): how `ferris-usage collect` turns the
# Prometheus series of an instance's Kubernetes namespaces into usage events. Check a copy with
# `ferris-usage collect check FILE`; pass it with `--mapping FILE`.

# Intervals are aligned to the epoch and divide an hour; each is collected `delay` after its end.
interval: 60s
delay: 30s
# How far back the previous sample of a series is sought: scrape gaps shorter than this are bridged exactly.
lookback: 15m
# How long a gauge sample holds without a newer one (Prometheus's lookback delta).
stale: 5m
# After a restart or an outage, at most this much is collected again from Prometheus's history.
backfill: 6h
# CPU and memory: usage, request (reserved), or max of both per pod, container and interval (OpenCost's rule).
allocation: max

labels:
  namespace: namespace
  # Set when one Prometheus holds several clusters and labels their series (e.g. Thanos' external labels).
  cluster: ""

# kube-state-metrics' pod labels (label_app_kubernetes_io_*), joined onto every series by namespace and pod.
# kube-state-metrics exports them when started with --metric-labels-allowlist=pods=[app.kubernetes.io/name,app.kubernetes.io/part-of,app.kubernetes.io/component].
podLabels: kube_pod_labels

components:
  # Tried in order; the first label whose value maps to a component decides.
  from:
    - component
    - label_app_kubernetes_io_part_of
    - label_app_kubernetes_io_name
    - label_app_kubernetes_io_component
    - pod
    - persistentvolumeclaim
    - container
  # A value matching `match` (the whole value) is that component; a value that is itself one of the instance's
  # components needs no rule.
  names:
    - {match: 'argo-?cd(-.*)?', component: argocd}
    - {match: 'consul(-.*)?', component: consul}
    - {match: '(kafka|strimzi|zookeeper)(-.*)?|(data|datadir)-kafka-.*', component: kafka}
    - {match: '(minio|(data|export)-minio)(-.*)?', component: minio}
    - {match: '(postgres|postgresql|pg)(-.*)?|data-postgres(ql)?-.*', component: postgresql}
    - {match: 'vault(-.*)?|(data|audit)-vault-.*', component: vault}
    - {match: 'keycloak(-.*)?', component: keycloak}
    - {match: '(elastic|elasticsearch|kibana|logstash)(-.*)?|(data|elasticsearch-(master|data))-elastic.*', component: elastic}
    - {match: '(ferris-ui|ferris-admin|flask|flask-admin)(-.*)?', component: ferris-ui}
    - {match: '(jupyterhub|jupyter|hub|proxy|continuous-image-puller|user-scheduler)(-.*)?|claim-.*', component: jupyterhub}
    - {match: '(presto|trino)(-.*)?', component: presto}
    - {match: 'theia(-ide)?(-.*)?', component: theia-ide}
    - {match: 'databricks(-link)?(-.*)?', component: databricks-link}
  # Usage in the instance's namespaces that no label maps is still the tenant's: billed as this component
  # (`skip` drops it, counted in ferris_collect_series_unmapped_total).
  unmapped: other

metrics:
  - metric: cpu_core_seconds
    counter: container_cpu_usage_seconds_total{container!="",container!="POD"}
    unit: seconds
    requests: kube_pod_container_resource_requests{resource="cpu"}
    requestUnit: cores
  - metric: memory_gib_hours
    gauge: container_memory_working_set_bytes{container!="",container!="POD"}
    unit: bytes
    requests: kube_pod_container_resource_requests{resource="memory"}
    requestUnit: bytes
  - metric: storage_gib_hours
    gauge: kube_persistentvolumeclaim_resource_requests_storage_bytes
    unit: bytes
  - metric: network_egress_gib
    counter: container_network_transmit_bytes_total{interface!="lo"}
    unit: bytes
  - metric: requests
    counter: flask_http_request_total
    unit: count
  # Interactive sessions: JupyterHub single-user servers and Theia IDE pods, while running.
  - metric: session_hours
    gauge: kube_pod_status_phase{phase="Running",pod=~"jupyter-.+|theia-.+"}
    unit: count
"""#
}
