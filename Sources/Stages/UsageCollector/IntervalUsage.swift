import UsageStandard

/// The series Prometheus returned for one instance and one interval: per metric the usage series (with raw samples
/// from `start - lookback` up to `end`, exclusive) and the request series, and the pods' labels.
public struct IntervalInput: Sendable {
    /// The instance collected.
    public var instance: InstanceDescription
    /// Interval start, inclusive (ms since the epoch).
    public var start: Int64
    /// Interval end, exclusive.
    public var end: Int64
    /// Usage series per metric name.
    public var usage: [String: [Series]]
    /// Request series per metric name (only for metrics with a request selector).
    public var requests: [String: [Series]]
    /// Series carrying pods' labels (`label_*`), with `namespace` and `pod` labels.
    public var podLabels: [Series]

    /// Creates an input.
    public init(instance: InstanceDescription, start: Int64, end: Int64, usage: [String: [Series]],
                requests: [String: [Series]] = [:], podLabels: [Series] = []) {
        self.instance = instance
        self.start = start
        self.end = end
        self.usage = usage
        self.requests = requests
        self.podLabels = podLabels
    }
}

/// The usage events of one interval, and what could not be attributed.
public struct IntervalOutput: Sendable, Equatable {
    /// One event per component and metric that had series in the interval.
    public var events: [UsageEvent]
    /// Series no label mapped to a component, while `unmapped` is nil (skipped).
    public var unmappedSeries: Int
    /// `component/metric` whose quantity for the interval exceeds the standard's largest quantity (not sent; the
    /// driver reports them as errors: a broken exporter, never real usage).
    public var oversized: [String] = []
}

/// Exact usage of an interval from raw samples: counter increments between consecutive samples (a drop is a restart
/// from zero), gauges integrated as step functions; no extrapolation, no PromQL functions.
///
/// A sample belongs to the interval its timestamp falls in (`start <= t < end`). A counter's increment is the sum,
/// over its samples in the interval, of the difference to the previous sample (the last one before the interval, if
/// within the lookback); a counter's first sample ever is its baseline and adds nothing. Values are converted to
/// micro-units per sample, so the increments of consecutive intervals add up exactly to the difference between the
/// last and the first value. A gauge sample holds from its timestamp until the next sample, or for `stale`
/// milliseconds at most; its integral over the interval is rounded half up to micro-units, per series.
public enum IntervalUsage {
    /// A counter's increment over `[start, end)` in micro-units.
    public static func counterIncrement(_ samples: [Sample], start: Int64, end: Int64, divisor: Int128) -> Int128 {
        var previous: Int128?
        var increment: Int128 = 0
        for sample in samples where sample.time < end {
            let value = roundedDivision(sample.pico, divisor)
            if sample.time >= start, let previous { increment += value >= previous ? value - previous : value }
            previous = value
        }
        return increment
    }

    /// A gauge's integral over `[start, end)` in picounits times milliseconds.
    public static func gaugeIntegral(_ samples: [Sample], start: Int64, end: Int64, stale: Int64) -> Int128 {
        var sum: Int128 = 0
        for (index, sample) in samples.enumerated() where sample.time < end {
            let next = index + 1 < samples.count ? samples[index + 1].time : Int64.max
            let holdEnd = min(next, sample.time + stale, end)
            let holdStart = max(sample.time, start)
            if holdEnd > holdStart { sum += sample.pico * Int128(holdEnd - holdStart) }
        }
        return sum
    }

    /// The events of `input` under `configuration`.
    public static func events(_ input: IntervalInput, configuration: CollectorConfiguration) -> IntervalOutput {
        var resolver = ComponentResolver(rules: configuration.components, instance: input.instance, podLabels: input.podLabels)
        var events: [UsageEvent] = []
        var unmapped = 0
        var oversized: [String] = []
        for query in configuration.metrics {
            guard let unit = MetricRegistry.v1[query.metric]?.unit,
                  let divisor = UnitConversion.divisor(metricUnit: unit, kind: query.kind, source: query.unit) else { continue }
            let series = input.usage[query.metric] ?? []
            // Micro-units per allocation group (namespace, pod, container) or per series, and each group's component.
            var groups: [String: (component: String, usage: Int128, request: Int128)] = [:]
            func quantity(_ one: Series, kind: SeriesKind, divisor: Int128) -> Int128 {
                switch kind {
                case .counter: counterIncrement(one.samples, start: input.start, end: input.end, divisor: divisor)
                case .gauge: roundedDivision(gaugeIntegral(one.samples, start: input.start, end: input.end,
                                                           stale: configuration.staleMilliseconds), divisor)
                }
            }
            let allocated = query.requestSelector != nil
            for (index, one) in series.enumerated() {
                guard let component = resolver.component(of: one.labels) else { unmapped += 1; continue }
                let key = allocated ? Self.groupKey(one.labels) : "\(index)"
                groups[key, default: (component, 0, 0)].usage += quantity(one, kind: query.kind, divisor: divisor)
            }
            if allocated, let requestUnit = query.requestUnit,
               let requestDivisor = UnitConversion.divisor(metricUnit: unit, kind: .gauge, source: requestUnit) {
                for one in input.requests[query.metric] ?? [] {
                    guard let component = resolver.component(of: one.labels) else { unmapped += 1; continue }
                    groups[Self.groupKey(one.labels), default: (component, 0, 0)].request
                        += quantity(one, kind: .gauge, divisor: requestDivisor)
                }
            }
            var perComponent: [String: Int128] = [:]
            for group in groups.values {
                let value = switch allocated ? configuration.allocation : .usage {
                case .usage: group.usage
                case .request: group.request
                case .max: max(group.usage, group.request)
                }
                perComponent[group.component, default: 0] += value
            }
            for (component, micros) in perComponent.sorted(by: { $0.key < $1.key }) {
                guard let quantity = Int64(exactly: micros) else {
                    oversized.append("\(component)/\(query.metric)")
                    continue
                }
                events.append(event(input, component: component, metric: query.metric, unit: unit, micros: quantity))
            }
        }
        return IntervalOutput(events: events, unmappedSeries: unmapped, oversized: oversized)
    }

    /// The deterministic event id: `<instance>/<component>/<metric>/<interval start>`.
    public static func eventID(instance: String, component: String, metric: String, start: Int64) -> String {
        "\(instance)/\(component)/\(metric)/\(Timestamp(milliseconds: start).rfc3339)"
    }

    static func event(_ input: IntervalInput, component: String, metric: String, unit: String, micros: Int64) -> UsageEvent {
        let instance = input.instance
        return UsageEvent(id: eventID(instance: instance.id, component: component, metric: metric, start: input.start),
                          source: "/ferris/\(instance.provider)/\(instance.id)/\(component)",
                          time: Timestamp(milliseconds: input.start), tenant: instance.tenant, instance: instance.id,
                          component: component, metric: metric, quantity: Quantity(micros: micros), unit: unit,
                          scope: instance.scope(of: component), provider: instance.provider)
    }

    static func groupKey(_ labels: [String: String]) -> String {
        "\(labels["namespace"] ?? "")/\(labels["pod"] ?? "")/\(labels["container"] ?? "")"
    }
}

/// Attributes series to components by their labels (and their pod's labels).
struct ComponentResolver {
    private let rules: ComponentRules
    private let patterns: [(Regex<AnyRegexOutput>?, String)]
    private let known: Set<String>
    private let podLabels: [String: [String: String]]
    private var cache: [String: String?] = [:]

    init(rules: ComponentRules, instance: InstanceDescription, podLabels: [Series]) {
        self.rules = rules
        self.patterns = rules.names.map { (try? Regex($0.pattern), $0.component) }
        self.known = Set(instance.components + instance.links.map(\.component))
        var pods: [String: [String: String]] = [:]
        for series in podLabels {
            let key = "\(series.labels["namespace"] ?? "")/\(series.labels["pod"] ?? "")"
            pods[key, default: [:]].merge(series.labels.filter { $0.key.hasPrefix("label_") }) { first, _ in first }
        }
        self.podLabels = pods
    }

    /// The component of a series with `labels`, or `rules.unmapped` (nil: none).
    mutating func component(of labels: [String: String]) -> String? {
        let pod = podLabels["\(labels["namespace"] ?? "")/\(labels["pod"] ?? "")"] ?? [:]
        for label in rules.labels {
            guard let value = labels[label] ?? pod[label], !value.isEmpty else { continue }
            if let component = name(value) { return component }
        }
        return rules.unmapped
    }

    private mutating func name(_ value: String) -> String? {
        if let cached = cache[value] { return cached }
        var result: String? = known.contains(value) ? value : nil
        for (pattern, component) in patterns {
            if let pattern, (try? pattern.wholeMatch(in: value)) != nil {
                result = component
                break
            }
        }
        cache[value] = result
        return result
    }
}
