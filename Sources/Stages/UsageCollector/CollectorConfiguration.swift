import UsageStandard

/// How a collector turns Prometheus series into usage events: its timing, its queries (one per metric of the
/// standard's registry) and how a series is attributed to a component. Read from a mapping file
/// (`collector/default.yaml`, `docs/schemas/collector.v1.schema.json`).
public struct CollectorConfiguration: Sendable, Equatable {
    /// The interval length; intervals are aligned to the epoch (so to UTC minutes and hours) and an hour holds a
    /// whole number of them.
    public var intervalMilliseconds: Int64 = 60_000
    /// How long after an interval's end it is collected, so that the scrapes of its last seconds are in Prometheus.
    public var delayMilliseconds: Int64 = 30_000
    /// How far before an interval the previous sample of a series is looked for (the baseline of a counter, the value
    /// a gauge holds at the interval's start). A gap in scraping shorter than this is bridged exactly.
    public var lookbackMilliseconds: Int64 = 15 * 60_000
    /// How long a gauge sample holds when no newer sample follows (Prometheus's own lookback delta).
    public var staleMilliseconds: Int64 = 5 * 60_000
    /// After a restart or an outage, intervals older than this are not collected (logged and counted as skipped).
    public var backfillMilliseconds: Int64 = 6 * 3_600_000
    /// How usage and resource requests combine for metrics that have requests.
    public var allocation: AllocationPolicy = .max
    /// The label naming a series' Kubernetes namespace.
    public var namespaceLabel = "namespace"
    /// The label naming a series' cluster when one Prometheus holds several clusters; nil: one cluster.
    public var clusterLabel: String?
    /// A series selector whose series carry a pod's Kubernetes labels as `label_*` (kube-state-metrics'
    /// `kube_pod_labels`), joined onto every series by namespace and pod; nil: no join.
    public var podLabelsQuery: String? = "kube_pod_labels"
    /// How a series is attributed to a component.
    public var components = ComponentRules()
    /// One query per metric.
    public var metrics: [MetricQuery] = []

    /// Creates a configuration with the defaults and no metrics.
    public init() {}
}

/// How usage and requested resources combine (OpenCost's rule is `max`).
public enum AllocationPolicy: String, Sendable, CaseIterable {
    /// What was used.
    case usage
    /// What was requested (reserved), whatever was used.
    case request
    /// Per pod and container and interval, the larger of the two.
    case max
}

/// Whether a series counts up (increments between samples) or holds a level (integrated over time).
public enum SeriesKind: String, Sendable {
    /// A monotonic counter; a drop is a restart from zero.
    case counter
    /// A level; each sample holds until the next one (or until it is stale).
    case gauge
}

/// The unit a series' values are in.
public enum SourceUnit: String, Sendable, CaseIterable {
    /// Seconds (e.g. CPU seconds).
    case seconds
    /// Bytes.
    case bytes
    /// CPU cores.
    case cores
    /// A count (requests, queries, running pods, users).
    case count
}

/// The query of one metric.
public struct MetricQuery: Sendable, Equatable {
    /// The metric of the standard's registry.
    public var metric: String
    /// Counter or gauge.
    public var kind: SeriesKind
    /// A Prometheus series selector, e.g. `container_cpu_usage_seconds_total{container!=""}`.
    public var selector: String
    /// The unit of its values.
    public var unit: SourceUnit
    /// A gauge selector of the requested resource (e.g. kube-state-metrics' CPU requests), for the allocation
    /// policy; matched to usage series by namespace, pod and container.
    public var requestSelector: String?
    /// The unit of the request gauge.
    public var requestUnit: SourceUnit?

    /// Creates a query.
    public init(metric: String, kind: SeriesKind, selector: String, unit: SourceUnit,
                requestSelector: String? = nil, requestUnit: SourceUnit? = nil) {
        self.metric = metric
        self.kind = kind
        self.selector = selector
        self.unit = unit
        self.requestSelector = requestSelector
        self.requestUnit = requestUnit
    }
}

/// How a series is attributed to a component.
public struct ComponentRules: Sendable, Equatable {
    /// Labels tried in order (series labels, and `label_*` labels joined from the pod); the first whose value maps
    /// to a component decides.
    public var labels: [String] = ["component", "pod", "container"]
    /// Names: a label value that fully matches `pattern` belongs to `component`. A value no rule matches counts as
    /// itself when it is one of the instance's components.
    public var names: [NameRule] = []
    /// The component of a series no label maps (its usage is still the tenant's); nil: such series are skipped
    /// and counted.
    public var unmapped: String? = "other"

    /// Creates rules.
    public init(labels: [String] = ["component", "pod", "container"], names: [NameRule] = [], unmapped: String? = "other") {
        self.labels = labels
        self.names = names
        self.unmapped = unmapped
    }
}

/// A label value pattern (a regular expression matched against the whole value) and its component.
public struct NameRule: Sendable, Equatable {
    /// The pattern.
    public var pattern: String
    /// The component.
    public var component: String

    /// Creates a rule.
    public init(pattern: String, component: String) {
        self.pattern = pattern
        self.component = component
    }
}

/// Converts series values into the quantities of the standard's metric units, exactly.
///
/// Values are handled in picounits (10^-12) as integers. A counter value becomes `value / divisor` micro-units of
/// the metric (rounded half up per sample, so increments telescope); a gauge integral is `sum(value * milliseconds)
/// / divisor` micro-units (rounded half up once per interval).
public enum UnitConversion {
    /// The divisor from picounits (times milliseconds for gauges) to micro-units of `metricUnit`, or nil when the
    /// combination does not make sense (e.g. a counter of bytes for an `Hours` metric).
    public static func divisor(metricUnit: String, kind: SeriesKind, source: SourceUnit) -> Int128? {
        let micro: Int128 = 1_000_000  // picounits per micro-unit
        let gib: Int128 = 1_073_741_824
        let hour: Int128 = 3_600_000
        switch (metricUnit, kind, source) {
        case ("Core-Seconds", .counter, .seconds): return micro
        case ("Core-Seconds", .gauge, .cores): return micro * 1000
        case ("GiB-Hours", .gauge, .bytes): return micro * gib * hour
        case ("GiB", .counter, .bytes): return micro * gib
        case ("Requests", .counter, .count), ("Queries", .counter, .count): return micro
        case ("Hours", .gauge, .count), ("User-Hours", .gauge, .count): return micro * hour
        default: return nil
        }
    }

    /// The combinations `divisor` accepts, for messages.
    public static let supported = [
        "Core-Seconds: counter of seconds, or gauge of cores", "GiB-Hours: gauge of bytes", "GiB: counter of bytes",
        "Requests, Queries: counter of count", "Hours, User-Hours: gauge of count",
    ]
}
