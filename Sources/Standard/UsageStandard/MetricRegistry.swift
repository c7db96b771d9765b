/// A metric of the Usage Tracking Standard: its name, unit and meaning.
public struct Metric: Sendable, Equatable {
    /// The metric name, as in `data.metric`.
    public var name: String
    /// The only unit allowed for it, worded like FinOps FOCUS `ConsumedUnit`.
    public var unit: String
    /// What is measured.
    public var meaning: String
}

/// The metrics usage events may report. A metric's unit is fixed, so a total never mixes units.
public struct MetricRegistry: Sendable {
    /// The metrics, by name.
    public let metrics: [String: Metric]

    /// Creates a registry.
    public init(_ metrics: [Metric]) {
        self.metrics = Dictionary(metrics.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The metric called `name`.
    public subscript(name: String) -> Metric? { metrics[name] }

    /// The v1 registry.
    public static let v1 = MetricRegistry([
        Metric(name: "cpu_core_seconds", unit: "Core-Seconds", meaning: "CPU time used, in core-seconds"),
        Metric(name: "memory_gib_hours", unit: "GiB-Hours", meaning: "memory held, in GiB times hours"),
        Metric(name: "storage_gib_hours", unit: "GiB-Hours", meaning: "persistent storage held (volumes, buckets), in GiB times hours"),
        Metric(name: "network_egress_gib", unit: "GiB", meaning: "data sent out of the instance"),
        Metric(name: "requests", unit: "Requests", meaning: "API or UI requests served"),
        Metric(name: "queries", unit: "Queries", meaning: "SQL queries run (Presto/Trino)"),
        Metric(name: "scanned_gib", unit: "GiB", meaning: "data scanned by queries"),
        Metric(name: "session_hours", unit: "Hours", meaning: "interactive session time (Theia IDE, JupyterHub servers)"),
        Metric(name: "active_user_hours", unit: "User-Hours", meaning: "users signed in, times hours"),
    ])
}
