#!/usr/bin/env python3
"""Renders the Helm chart with the real Helm engine (helm-python-sdk) for its default values and every
ci/*-values.yaml, lints it, validates every rendered manifest against the Kubernetes schemas
(kubernetes-validate), and checks that values breaking values.schema.json are refused.

Usage: [FERRIS_USAGE=path/to/ferris-usage] check-chart.py [CHART_DIR]
(run by scripts/test.sh with the tools' virtualenv; with FERRIS_USAGE the rendered topologies are checked too)
"""
import contextlib
import glob
import os
import subprocess
import sys
import tempfile

import helm_python
import kubernetes_validate
import yaml

KUBE_VERSION = "1.30.0"
# Custom resources have no schema in kubernetes-validate; they are checked for their required fields here.
CUSTOM = {("monitoring.coreos.com/v1", "ServiceMonitor"): ["selector", "endpoints"],
          ("keda.sh/v1alpha1", "ScaledObject"): ["scaleTargetRef", "triggers"]}

helm_python.disable_logging()
chart_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "helm", "ferris-usage")
problems = []
rendered_objects = 0
last_documents = []  # the objects of the last render


@contextlib.contextmanager
def quiet_helm():
    """Helm's Go logger reports every read through the chart's topologies symlink at INFO on file descriptor 2;
    those lines are dropped, anything else it says is passed on."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            for line in capture:
                if "found symbolic link in path" not in line:
                    sys.stderr.write(line)


class Refused(Exception):
    """Helm's linter or engine refused the values."""


def render(values, label):
    with quiet_helm():
        return render_quietly(values, label)


def render_quietly(values, label):
    global rendered_objects
    lint = helm_python.lint(chart_dir, values, strict=True, namespace="ferris", kube_version=KUBE_VERSION)
    # Helm's severities: 1 info, 2 warning, 3 error. Warnings count as problems too (strict).
    findings = [f"{m.get('path')}: {m.get('error')}".strip() for m in lint.get("messages", []) or [] if int(m.get("severity", 0)) >= 2]
    if findings:
        raise Refused("; ".join(findings))
    chart = helm_python.Chart.load(chart_dir)
    try:
        manifests = chart.render(values, name="ferris-usage", namespace="ferris", is_install=True)
    finally:
        chart.close()
    kinds = []
    last_documents.clear()
    for path, text in sorted(manifests.items()):
        if not path.endswith(".yaml"):
            continue
        for document in yaml.safe_load_all(text):
            if not document:
                continue
            rendered_objects += 1
            last_documents.append(document)
            kind = (document.get("apiVersion"), document.get("kind"))
            kinds.append(kind[1])
            if document.get("metadata", {}).get("namespace") != "ferris":
                problems.append(f"{label}: {path}: {kind[1]} is not in namespace ferris")
            if kind == ("v1", "ConfigMap") and "topology.yaml" in document.get("data", {}):
                check_topology(document["data"]["topology.yaml"], label)
            if kind == ("v1", "ConfigMap") and "mapping.yaml" in document.get("data", {}):
                check_with_binary(["collect", "check"], document["data"]["mapping.yaml"], label, "collector mapping")
            if kind in CUSTOM:
                missing = [field for field in CUSTOM[kind] if field not in document.get("spec", {})]
                if missing:
                    problems.append(f"{label}: {path}: {kind[1]} lacks spec.{', spec.'.join(missing)}")
                continue
            try:
                kubernetes_validate.validate(document, KUBE_VERSION, strict=True)
            except kubernetes_validate.ValidationError as error:
                problems.append(f"{label}: {path}: {kind[1]}: {error.message} at {'.'.join(map(str, error.path))}")
    return kinds


def check_topology(text, label):
    """The topology the chart ships must pass the service's own check (when the binary is given)."""
    check_with_binary(["topology", "check"], text, label, "topology")


def check_with_binary(command, text, label, what):
    binary = os.environ.get("FERRIS_USAGE")
    if not binary:
        return
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as file:
        file.write(text)
        file.flush()
        result = subprocess.run([binary, *command, file.name], capture_output=True, text=True)
        if result.returncode != 0:
            problems.append(f"{label}: the rendered {what} fails 'ferris-usage {' '.join(command)}': {result.stdout}{result.stderr}")


def load(path):
    with open(path) as file:
        return yaml.safe_load(file) or {}


files = [None] + sorted(glob.glob(os.path.join(chart_dir, "ci", "*-values.yaml")))
for values_file in files:
    label = os.path.basename(values_file) if values_file else "values.yaml"
    try:
        kinds = render(load(values_file) if values_file else {}, label)
        print(f"chart: {label}: rendered and validated {', '.join(sorted(set(kinds)))}")
    except (helm_python.HelmError, Refused) as error:
        problems.append(f"{label}: {error}")

# The collector: on by default, one replica, its pod outside the service's selectors; off when disabled; an inline
# mapping becomes a ConfigMap that the collector's own check accepts.
def collector_objects():
    return [d for d in last_documents if d.get("metadata", {}).get("labels", {}).get("app.kubernetes.io/component") == "collector"]


def check_collector():
    render({}, "collector defaults")
    deployments = [d for d in collector_objects() if d["kind"] == "Deployment"]
    if len(deployments) != 1 or deployments[0]["spec"].get("replicas") != 1 or deployments[0]["spec"]["strategy"]["type"] != "Recreate":
        problems.append("collector: the default values must render one collector Deployment with one replica (Recreate)")
        return
    pod_labels = deployments[0]["spec"]["template"]["metadata"]["labels"]
    for document in last_documents:
        selector = (document.get("spec", {}).get("selector", {}) or {}).get("matchLabels") \
            or document.get("spec", {}).get("podSelector", {}).get("matchLabels")
        if document not in collector_objects() and selector and all(pod_labels.get(k) == v for k, v in selector.items()):
            problems.append(f"collector: its pod matches the selector of {document['kind']} {document['metadata']['name']}")
    env = {e["name"]: e.get("value") for e in deployments[0]["spec"]["template"]["spec"]["containers"][0]["env"]}
    if env.get("FERRIS_PROMETHEUS_URL") != "http://prometheus-server.monitoring.svc:80" or "FERRIS_COLLECT_MAPPING" in env:
        problems.append(f"collector: unexpected environment with the default values: {env}")
    render({"collector": {"enabled": False, "prometheusURL": "http://p:9090"}}, "collector disabled")
    if collector_objects():
        problems.append("collector: disabled, yet rendered")
    repository = os.path.join(os.path.dirname(__file__), "..")
    with open(os.path.join(repository, "collector", "default.yaml")) as file:
        mapping = file.read().replace("interval: 60s", "interval: 5m")
    render({"collector": {"enabled": True, "prometheusURL": "http://p:9090", "mapping": mapping}}, "collector mapping")
    maps = [d for d in collector_objects() if d["kind"] == "ConfigMap"]
    if len(maps) != 1 or "interval: 5m" not in maps[0]["data"]["mapping.yaml"]:
        problems.append("collector: an inline mapping must become the mapping ConfigMap")
    print("chart: collector: default, disabled and inline-mapping values checked")


check_collector()

# Values that break the schema must be refused, with a message naming the key.
broken = [({"replicaCount": 0}, "replicaCount"), ({"kafka": {"brokers": "k:9092", "securityProtocol": "SASL"}}, "securityProtocol"),
          ({"topology": {"name": "nope"}}, "topology"), ({"unknownKey": 1}, "unknownKey"),
          ({"focusExport": {"enabled": True, "destination": "minio/bucket"}}, "destination"),
          ({"collector": {"enabled": True, "prometheusURL": "prometheus:9090"}}, "prometheusURL"),
          ({"collector": {"enabled": True, "prometheusURL": "http://p:9090", "replicas": 2}}, "replicas"),
          ({"api": {"oidc": {"issuer": "keycloak"}}}, "issuer"), ({"api": {"table": "totals; drop"}}, "table")]
for values, key in broken:
    try:
        render(values, f"broken {values}")
        problems.append(f"values {values} were accepted, but they break values.schema.json")
    except (helm_python.HelmError, Refused) as error:
        if key not in str(error):
            problems.append(f"values {values} were refused without naming {key}: {error}")
print(f"chart: {len(files)} values files, {rendered_objects} objects; {len(broken)} broken values files refused")
for problem in problems:
    print(f"chart: {problem}", file=sys.stderr)
sys.exit(1 if problems else 0)
