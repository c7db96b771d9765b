import Foundation
import Testing
import UsageCollector
import UsageRegistry
import UsageStandard

let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

@Suite struct MappingFiles {
    @Test func theShippedDefaultIsTheBuiltInOne() throws {
        let file = try CollectorConfiguration.load(path: repository.appendingPathComponent("collector/default.yaml").path)
        #expect(file == CollectorConfiguration.standard)
        // Every metric of the registry that resource usage can give has a default query in its registry unit.
        #expect(Set(file.metrics.map(\.metric)) == ["cpu_core_seconds", "memory_gib_hours", "storage_gib_hours",
                                                   "network_egress_gib", "requests", "session_hours"])
        #expect(file.intervalMilliseconds == 60_000 && file.allocation == .max)
    }

    @Test func theDefaultNamesMapTheFerrisDXComponents() {
        let config = CollectorConfiguration.standard
        let query = MetricQuery(metric: "requests", kind: .counter, selector: "x", unit: .count)
        var withQuery = config
        withQuery.metrics = [query]
        let pods = ["argocd-repo-server-7d9f", "consul-server-0", "kafka-0", "minio-0", "postgresql-0", "vault-0",
                    "keycloak-0", "elasticsearch-master-0", "ferris-ui-5c9d", "jupyter-alice", "hub-6f7c", "trino-coordinator-0",
                    "theia-bob", "databricks-link-0", "nginx-1"]
        let expected = ["argocd", "consul", "kafka", "minio", "postgresql", "vault", "keycloak", "elastic", "ferris-ui",
                        "jupyterhub", "jupyterhub", "presto", "theia-ide", "databricks-link", "other"]
        let empty = InstanceDescription(id: "i", tenant: "t", provider: "gcp", cluster: "c", namespaces: ["n"], components: [])
        for (pod, component) in zip(pods, expected) {
            let input = IntervalInput(instance: empty, start: t0, end: t0 + minute, usage: ["requests": [
                Series(labels: ["pod": pod], samples: samples([(-1000, "1"), (1000, "2")]))]])
            #expect(IntervalUsage.events(input, configuration: withQuery).events.map(\.component) == [component], "\(pod)")
        }
        // The app.kubernetes.io labels (joined from the pod) come before the pod name.
        let labelled = IntervalInput(instance: empty, start: t0, end: t0 + minute, usage: ["requests": [
            Series(labels: ["namespace": "n", "pod": "web-1"], samples: samples([(-1000, "1"), (1000, "2")]))]],
            podLabels: [Series(labels: ["namespace": "n", "pod": "web-1", "label_app_kubernetes_io_part_of": "argocd"], samples: [])])
        #expect(IntervalUsage.events(labelled, configuration: withQuery).events.map(\.component) == ["argocd"])
    }

    @Test func problemsNameTheirLine() {
        let yaml = """
            interval: 7s
            metrics:
              - metric: cpu_hours
                counter: x
                unit: seconds
              - metric: session_hours
                counter: rate(x[5m])
                unit: bytes
              - metric: memory_gib_hours
                gauge: container_memory_working_set_bytes
                unit: bytes
                requests: kube_pod_container_resource_requests{resource="memory"}
            """
        do {
            _ = try CollectorConfiguration.parse(yaml: yaml, file: "m.yaml")
            Issue.record("accepted")
        } catch {
            let lines = error.problems.map(\.line)
            #expect(lines == [1, 3, 7, 8, 12], "\(error)")
            #expect(error.description.contains("m.yaml:3:"))
        }
    }

    @Test func selectorsGetTheInstanceMatchers() throws {
        let selector = try #require(Selector(#"container_cpu_usage_seconds_total{container!="",container!="POD"}"#))
        #expect(selector.adding([Selector.anyOf("namespace", ["ferris-team", "a.b"])])
                == #"container_cpu_usage_seconds_total{container!="",container!="POD",namespace=~"ferris-team|a\\.b"}"#)
        #expect(Selector("kube_pod_labels")?.adding(["x=\"1\""]) == "kube_pod_labels{x=\"1\"}")
        #expect(Selector("sum(x)") == nil)
        #expect(Selector("x[5m]") == nil)
        #expect(Selector("x{a=\"}\"}") != nil)
    }
}
