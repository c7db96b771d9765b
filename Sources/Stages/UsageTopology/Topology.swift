import UsageStages
import UsageStandard

/// A deployment's accounting flow, as described in a topology file (`topologies/*.yaml`): where events come from,
/// what is out of scope, how totals are keyed, windowed and aggregated, and where they go.
public struct Topology: Sendable {
    /// Where events come from.
    public struct Source: Sendable, Equatable {
        /// The instance event topics, as a regular expression.
        public var topics = #"^ferris\.events\..+"#
        /// The consumer group.
        public var group = "ferris-usage"
    }

    /// The window definition.
    public struct Window: Sendable, Equatable {
        /// Window length.
        public var sizeMilliseconds: Int64 = 3_600_000
        /// How long after its end a window still accepts events.
        public var graceMilliseconds: Int64 = 3_600_000
        /// After a caught-up partition has had no record for this long, its watermark advances by wall clock so
        /// that a quiet tenant's windows still close. Nil: never.
        public var idleMilliseconds: Int64? = 600_000
        /// Whether open windows emit provisional totals at each commit (true, the default: live figures) or only the
        /// final total when they close (false: one total per window, for consumers that only bill).
        public var emitProvisional = true
    }

    /// Where totals and refused records go.
    public struct Sinks: Sendable, Equatable {
        /// The compacted totals topic.
        public var totalsTopic = "ferris.usage.totals"
        /// The PostgreSQL totals table.
        public var table = "usage_totals"
        /// The dead-letter topic (rejected and late records).
        public var deadLetterTopic = "ferris.usage.deadletter"
    }

    /// The topology's name.
    public var name = "default"
    /// What it is for.
    public var summary = ""
    /// Where events come from.
    public var source = Source()
    /// Extra rules that mark usage as not accounted (`scope: out` always applies).
    public var scope: [ScopeRule] = []
    /// The fields totals are keyed by.
    public var key = KeyFields.standard
    /// The window.
    public var window = Window()
    /// Whether repeated events (same tenant, source and id) are dropped.
    public var deduplicate = true
    /// How each metric is aggregated.
    public var aggregations = Aggregations()
    /// Where totals go.
    public var sinks = Sinks()
    /// What events are accepted.
    public var policy = UsageEventDecoder.Policy()

    /// The default topology: every instance topic, the standard's scope tag only, hourly sums.
    public static let standard = Topology()

    /// Creates the default topology.
    public init() {}

    /// The window sizes as a `TumblingWindows`.
    public var windows: TumblingWindows { TumblingWindows(sizeMilliseconds: window.sizeMilliseconds) }

    /// The flow of one input partition, composed with the stage library; with `instances`, usage the instance registry
    /// says is not accounted is dropped too (`InstanceScopeFilter`).
    public func makeFlow<Headers: CloudEventHeaderSource>(partition: String, headers: Headers.Type = Headers.self,
                                                          instances: InstanceScopes? = nil)
        -> some EmittingStage<IncomingRecord<Headers>, Void> {
        Flow {
            Decode<Headers>(policy: policy)
            if deduplicate {
                Deduplicate(windows: windows, graceMilliseconds: window.graceMilliseconds)
            }
            ScopeFilter(rules: scope)
            if let instances {
                InstanceScopeFilter(scopes: instances)
            }
            KeyBy(key)
            WindowAggregator(partition: partition, windows: windows, graceMilliseconds: window.graceMilliseconds,
                             aggregations: aggregations, emitProvisional: window.emitProvisional)
        }
    }

    /// The stage graph, for `ferris-usage topology explain`.
    public func explain() -> String {
        func duration(_ ms: Int64) -> String { DurationText.text(ms) }
        let scopeRules = ScopeFilter(rules: scope).rules.map(\.description).joined(separator: "; ")
        let perMetric = aggregations.perMetric.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value.rawValue)" }
        var lines = ["topology \(name)" + (summary.isEmpty ? "" : ": \(summary)")]
        lines.append("  source       topics \(source.topics), consumer group \(source.group)")
        lines.append("  decode       CloudEvents 1.0.2 (binary and structured mode) + Usage Tracking Standard v1;"
                     + " at most \(policy.maxEventBytes) bytes, \(duration(policy.maxEventAgeMilliseconds)) old,"
                     + " \(duration(policy.maxFutureSkewMilliseconds)) ahead    --rejected--> \(sinks.deadLetterTopic)")
        lines.append("  deduplicate  " + (deduplicate ? "per tenant on source+id while the event's window is open    --repeat--> dropped, counted"
                                                         : "off"))
        lines.append("  scope        out if \(scopeRules); and (registry) components of links an instance's registration marks not accounted    --out of scope--> dropped, counted")
        lines.append("  key by       \(key)")
        lines.append("  window       tumbling \(duration(window.sizeMilliseconds)) on event time (UTC), grace \(duration(window.graceMilliseconds)),"
                     + " idle advance \(window.idleMilliseconds.map(duration) ?? "off")    --late--> \(sinks.deadLetterTopic)")
        lines.append("  aggregate    \(aggregations.standard.rawValue)" + (perMetric.isEmpty ? "" : "; " + perMetric.joined(separator: ", ")))
        lines.append(window.emitProvisional ? "  emit         provisional totals on change (each commit), final when the window closes"
                                            : "  emit         final totals only, when the window closes")
        lines.append("  sinks        \(sinks.totalsTopic) (compacted), PostgreSQL table \(sinks.table)")
        return lines.joined(separator: "\n")
    }
}

/// Durations written as `500ms`, `45s`, `10m`, `1h`, `34d`.
public enum DurationText {
    /// Parses a duration; nil when malformed.
    public static func milliseconds(_ text: String) -> Int64? {
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            let number = text.dropLast(suffix.count)
            if suffix == "s", number.hasSuffix("m") { continue }
            guard let value = Int64(number), value >= 0 else { return nil }
            let (result, overflow) = value.multipliedReportingOverflow(by: factor)
            return overflow ? nil : result
        }
        return nil
    }

    /// The shortest text for `milliseconds`.
    public static func text(_ milliseconds: Int64) -> String {
        for (suffix, factor) in [("d", Int64(86_400_000)), ("h", 3_600_000), ("m", 60_000), ("s", 1000)]
        where milliseconds >= factor && milliseconds % factor == 0 {
            return "\(milliseconds / factor)\(suffix)"
        }
        return "\(milliseconds)ms"
    }
}
