import AsyncHTTPClient
import Foundation
import NIOCore
import TestSupport
import UsageStandard

/// The usage the standard's rules give for Prometheus's raw samples, computed here independently of the collector's
/// code: its own HTTP request and JSON parsing, decimal arithmetic instead of integers, and a fixed table of which
/// made-up pod is which component instead of the mapping's rules. What it shares with the collector is the documented
/// rule (docs/usage-tracking-standard.md, section 12): counter increments between consecutive samples (a drop is a
/// restart from zero; the previous sample counts if within the lookback), each sample's value rounded half up to
/// micro-units; gauges held until the next sample or for `stale` at most, integrated per interval and rounded half up
/// once per series; max of usage and request per pod and container for CPU and memory.
struct RawUsage {
    struct RawSeries {
        var labels: [String: String]
        var samples: [(time: Int64, value: Decimal)]
    }

    enum Kind { case counter, gauge }

    /// One metric of the built-in mapping, as the test knows it.
    struct Query {
        var metric: String
        var kind: Kind
        var selector: String
        /// Micro-units of the metric per source unit (counters) or per source unit and millisecond (gauges).
        var factor: Decimal
        var requests: String? = nil
        var requestFactor: Decimal = 0
    }

    static let gib = Decimal(1_073_741_824)
    static let queries = [
        Query(metric: "cpu_core_seconds", kind: .counter, selector: #"container_cpu_usage_seconds_total{container!="",container!="POD"}"#,
              factor: 1_000_000, requests: #"kube_pod_container_resource_requests{resource="cpu"}"#, requestFactor: 1000),
        Query(metric: "memory_gib_hours", kind: .gauge, selector: #"container_memory_working_set_bytes{container!="",container!="POD"}"#,
              factor: 1_000_000 / (gib * 3_600_000), requests: #"kube_pod_container_resource_requests{resource="memory"}"#,
              requestFactor: 1_000_000 / (gib * 3_600_000)),
        Query(metric: "storage_gib_hours", kind: .gauge, selector: "kube_persistentvolumeclaim_resource_requests_storage_bytes",
              factor: 1_000_000 / (gib * 3_600_000)),
        Query(metric: "network_egress_gib", kind: .counter, selector: #"container_network_transmit_bytes_total{interface!="lo"}"#,
              factor: 1_000_000 / gib),
        Query(metric: "requests", kind: .counter, selector: "flask_http_request_total", factor: 1_000_000),
        Query(metric: "session_hours", kind: .gauge, selector: #"kube_pod_status_phase{phase="Running",pod=~"jupyter-.+|theia-.+"}"#,
              factor: Decimal(1_000_000) / 3_600_000),
    ]

    /// Which component each made-up pod or volume claim of `scripts/prometheus.sh` is (a `component` label wins).
    static let components = [
        "kafka-0": "kafka", "postgresql-0": "postgresql", "keycloak-0": "keycloak", "trino-coordinator-0": "presto",
        "theia-alice": "theia-ide", "jupyter-bob": "jupyterhub", "data-postgresql-0": "postgresql", "data-kafka-0": "kafka",
    ]

    static func component(_ labels: [String: String]) -> String {
        labels["component"] ?? labels["pod"].flatMap { components[$0] } ?? labels["persistentvolumeclaim"].flatMap { components[$0] } ?? "other"
    }

    let prometheusURL: String
    let interval: Int64
    let lookback: Int64
    let stale: Int64

    /// Every raw sample of `selector` in `[from, to)`.
    func rawSamples(_ selector: String, from: Int64, to: Int64) async throws -> [RawSeries] {
        var request = HTTPClientRequest(url: prometheusURL + "/api/v1/query")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let query = "\(selector)[\(to - 1 - from)ms]".addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
        request.body = .bytes(ByteBuffer(string: "query=\(query)&time=\(Decimal(Int(to - 1)) / 1000)"))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 256 * 1024 * 1024)
        guard let json = try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any],
              json["status"] as? String == "success", let data = json["data"] as? [String: Any],
              let result = data["result"] as? [[String: Any]] else {
            throw TestSetupError("Prometheus did not answer the query \(selector): \(String(buffer: body).prefix(300))")
        }
        return result.map { item in
            let labels = item["metric"] as? [String: String] ?? [:]
            let values = item["values"] as? [[Any]] ?? []
            let samples = values.compactMap { pair -> (Int64, Decimal)? in
                guard pair.count == 2, let seconds = (pair[0] as? NSNumber)?.doubleValue, let text = pair[1] as? String,
                      let value = Decimal(string: text) else { return nil }
                return (Int64((seconds * 1000).rounded()), value)
            }
            return RawSeries(labels: labels, samples: samples)
        }
    }

    static func rounded(_ value: Decimal) -> Int64 {
        var input = value
        var output = Decimal()
        NSDecimalRound(&output, &input, 0, .plain)
        return NSDecimalNumber(decimal: output).int64Value
    }

    /// A counter's increment in `[start, start + interval)`, in micro-units.
    func increment(_ series: RawSeries, start: Int64, factor: Decimal) -> Int64 {
        var total: Int64 = 0
        for (index, sample) in series.samples.enumerated() where sample.time >= start && sample.time < start + interval && index > 0 {
            let previous = series.samples[index - 1]
            guard previous.time >= start - lookback else { continue }
            let (now, before) = (Self.rounded(sample.value * factor), Self.rounded(previous.value * factor))
            total += now >= before ? now - before : now
        }
        return total
    }

    /// A gauge's integral over `[start, start + interval)`, in micro-units (rounded once).
    func integral(_ series: RawSeries, start: Int64, factor: Decimal) -> Int64 {
        let end = start + interval
        var sum = Decimal(0)
        for (index, sample) in series.samples.enumerated() where sample.time < end && sample.time >= start - lookback {
            let next = index + 1 < series.samples.count ? series.samples[index + 1].time : Int64.max
            let from = max(sample.time, start), to = min(next, sample.time + stale, end)
            if to > from { sum += sample.value * Decimal(Int(to - from)) }
        }
        return Self.rounded(sum * factor)
    }

    /// The expected totals of `instance` for the intervals in `[from, to)`, by `instance/component/metric/hour start`
    /// (micro-units), leaving out components that are not accounted.
    func expectedTotals(_ instance: InstanceDescription, from: Int64, to: Int64) async throws -> [String: Int64] {
        let namespaces = #"namespace=~"\#(instance.namespaces.joined(separator: "|"))""#
        func withNamespaces(_ selector: String) -> String {
            selector.hasSuffix("}") ? String(selector.dropLast()) + ",\(namespaces)}" : "\(selector){\(namespaces)}"
        }
        let notAccounted = Set(instance.links.filter { !$0.accounted }.map(\.component))
        var totals: [String: Int64] = [:]
        for query in Self.queries {
            let usage = try await rawSamples(withNamespaces(query.selector), from: from - lookback, to: to)
            var requests: [RawSeries] = []
            if let selector = query.requests { requests = try await rawSamples(withNamespaces(selector), from: from - lookback, to: to) }
            var start = from
            while start < to {
                // Per allocation group (pod and container, for metrics with requests; else per series): usage, request.
                var groups: [String: (component: String, usage: Int64, request: Int64)] = [:]
                for (index, series) in usage.enumerated() {
                    let key = query.requests == nil ? "\(index)" : "\(series.labels["namespace"] ?? "")/\(series.labels["pod"] ?? "")/\(series.labels["container"] ?? "")"
                    let value = query.kind == .counter ? increment(series, start: start, factor: query.factor)
                                                       : integral(series, start: start, factor: query.factor)
                    groups[key, default: (Self.component(series.labels), 0, 0)].usage += value
                }
                for series in requests {
                    let key = "\(series.labels["namespace"] ?? "")/\(series.labels["pod"] ?? "")/\(series.labels["container"] ?? "")"
                    groups[key, default: (Self.component(series.labels), 0, 0)].request += integral(series, start: start, factor: query.requestFactor)
                }
                let hour = Timestamp(milliseconds: start - start % 3_600_000).rfc3339
                for group in groups.values where !notAccounted.contains(group.component) {
                    totals["\(instance.id)/\(group.component)/\(query.metric)/\(hour)", default: 0] += max(group.usage, group.request)
                }
                start += interval
            }
        }
        return totals
    }
}
