import UsageStandard

/// How the events of one window are combined into its total.
public enum Aggregation: String, Sendable, CaseIterable {
    /// The sum of the quantities (the default; right for increments).
    case sum
    /// The number of events.
    case count
    /// The smallest quantity.
    case min
    /// The largest quantity.
    case max
    /// The quantity of the event with the latest time (ties: the larger quantity, so order does not matter).
    case latest
    /// The exact number of distinct `subject` values (e.g. distinct users).
    case distinct
}

/// Which aggregation each metric uses.
public struct Aggregations: Sendable, Equatable {
    /// For metrics not listed.
    public var standard: Aggregation
    /// Per metric.
    public var perMetric: [String: Aggregation]

    /// Creates the table.
    public init(standard: Aggregation = .sum, perMetric: [String: Aggregation] = [:]) {
        self.standard = standard
        self.perMetric = perMetric
    }

    /// The aggregation of `metric`.
    @inlinable
    public func of(_ metric: String) -> Aggregation { perMetric[metric] ?? standard }
}

/// Tumbling windows on event time for the events of one input partition, each key's events combined per
/// `Aggregations`.
///
/// A window closes once the partition watermark passes its end plus `grace`: its total is emitted as final and its
/// state dropped; an event for a closed window is refused as late. Overdue windows are closed before each event is
/// judged, so lateness depends only on event times and the watermark. Everything here is a pure function of the
/// events applied and the watermark, so the state at any offset can be rebuilt by applying the same events again with
/// `FlowContext.replaying` set, which is how a restart recovers its open windows.
public struct WindowAggregator: Stage {
    struct WindowKey: Hashable {
        var key: UsageKey
        var start: Int64
    }

    struct OpenWindow {
        var value: Quantity
        var count: Int64
        var latestTime: Int64
        var unit: String
        var firstOffset: Int64
        var lastOffset: Int64
        var dirty: Bool
        var provider: String?
        var subjects: Set<String>?
    }

    /// The partition these windows belong to, as `topic:partition`.
    public let partition: String
    /// The window definition.
    public let windows: TumblingWindows
    /// How long after a window's end events are still accepted, in milliseconds.
    public let graceMilliseconds: Int64
    /// How each metric is aggregated.
    public let aggregations: Aggregations

    private var open: [WindowKey: OpenWindow] = [:]
    private var closed: [UsageTotal] = []
    private var nextCloseAt = Int64.max

    /// Creates an empty aggregator.
    public init(partition: String, windows: TumblingWindows = .hourly, graceMilliseconds: Int64,
                aggregations: Aggregations = Aggregations()) {
        self.partition = partition
        self.windows = windows
        self.graceMilliseconds = graceMilliseconds
        self.aggregations = aggregations
    }

    /// Number of open windows.
    public var openWindowCount: Int { open.count }

    /// The smallest offset of any event in an open window: re-reading from here rebuilds every open window.
    /// Nil when no window is open.
    public var rebuildFrom: Int64? { open.values.lazy.map(\.firstOffset).min() }

    /// Adds one event to its window; refuses it when the window closed, its unit differs or the total would overflow.
    public mutating func process(_ input: KeyedEvent, context: inout FlowContext) -> StageOutcome<Void> {
        let event = input.event
        let start = windows.start(of: event.time).milliseconds
        let closesAt = start + windows.sizeMilliseconds + graceMilliseconds
        if let watermark = context.watermark, watermark.milliseconds >= nextCloseAt { closeWindows(watermark, context) }
        if let watermark = context.watermark, closesAt <= watermark.milliseconds {
            return .rejected(UsageDecodeError(.late, "time", "\(event.time) is in a window that closed (its end plus \(graceMilliseconds / 60_000) minutes of grace passed, watermark \(watermark)) before the event arrived"))
        }
        let windowKey = WindowKey(key: input.key, start: start)
        let aggregation = aggregations.of(event.metric)
        if let index = open.index(forKey: windowKey) {
            // Updated in place: one hash lookup, no copy of the window state.
            guard open.values[index].unit == event.unit else {
                return .rejected(UsageDecodeError(.unitMismatch, "data.unit", "is '\(event.unit)' but earlier events of \(input.key) in this window use '\(open.values[index].unit)'"))
            }
            if let error = Self.add(event, offset: input.offset, aggregation: aggregation, replaying: context.replaying,
                                    to: &open.values[index]) {
                return .rejected(error.with(key: input.key))
            }
        } else {
            var window = OpenWindow(value: .zero, count: 0, latestTime: .min, unit: event.unit, firstOffset: input.offset,
                                    lastOffset: input.offset, dirty: false, provider: event.provider,
                                    subjects: aggregation == .distinct ? [] : nil)
            if let error = Self.add(event, offset: input.offset, aggregation: aggregation, replaying: context.replaying,
                                    to: &window) {
                return .rejected(error.with(key: input.key))
            }
            open[windowKey] = window
            nextCloseAt = Swift.min(nextCloseAt, closesAt)
        }
        return .next(())
    }

    /// Adds `event` to `window` per `aggregation`; returns an error when the sum would overflow.
    private static func add(_ event: UsageEvent, offset: Int64, aggregation: Aggregation, replaying: Bool,
                            to window: inout OpenWindow) -> UsageDecodeError? {
        let quantity = event.quantity
        switch aggregation {
        case .sum:
            guard let sum = window.value.adding(quantity) else {
                return UsageDecodeError(.totalOverflow, "data.quantity", "would overflow the window total")
            }
            window.value = sum
        case .count:
            window.value = Quantity(micros: (window.count + 1) * Quantity.unit)
        case .min:
            window.value = window.count == 0 ? quantity : Swift.min(window.value, quantity)
        case .max:
            window.value = window.count == 0 ? quantity : Swift.max(window.value, quantity)
        case .latest:
            let time = event.time.milliseconds
            if time > window.latestTime || (time == window.latestTime && quantity > window.value) {
                window.value = quantity
                window.latestTime = time
            }
        case .distinct:
            window.subjects?.insert(event.subject ?? "")
            window.value = Quantity(micros: Int64(window.subjects?.count ?? 0) * Quantity.unit)
        }
        window.count += 1
        window.lastOffset = Swift.max(window.lastOffset, offset)
        window.dirty = window.dirty || !replaying
        return nil
    }

    /// Closes the windows the watermark has passed.
    public mutating func watermarkAdvanced(context: FlowContext) {
        if let watermark = context.watermark, watermark.milliseconds >= nextCloseAt { closeWindows(watermark, context) }
    }

    private mutating func closeWindows(_ watermark: Timestamp, _ context: FlowContext) {
        var next = Int64.max
        for (windowKey, window) in open {
            let closesAt = windowKey.start + windows.sizeMilliseconds + graceMilliseconds
            if closesAt <= watermark.milliseconds {
                // A window that closes while replaying was emitted as final before the restart.
                if !context.replaying { closed.append(total(windowKey, window, status: .final)) }
                open[windowKey] = nil
            } else {
                next = Swift.min(next, closesAt)
            }
        }
        nextCloseAt = next
    }

    /// Takes the totals to emit: final totals of windows closed since the last call, and provisional totals
    /// of open windows that changed. Sorted by key and window for stable output.
    public mutating func takeEmissions() -> [UsageTotal] {
        var result = closed
        closed.removeAll(keepingCapacity: true)
        for (windowKey, window) in open where window.dirty {
            result.append(total(windowKey, window, status: .provisional))
            open[windowKey]?.dirty = false
        }
        result.sort { ($0.key, $0.windowStart) < ($1.key, $1.windowStart) }
        return result
    }

    private func total(_ windowKey: WindowKey, _ window: OpenWindow, status: TotalStatus) -> UsageTotal {
        UsageTotal(key: windowKey.key, windowStart: Timestamp(milliseconds: windowKey.start),
                   windowEnd: Timestamp(milliseconds: windowKey.start + windows.sizeMilliseconds),
                   quantity: window.value, unit: window.unit, eventCount: window.count, status: status,
                   sourcePartition: partition, lastOffset: window.lastOffset, provider: window.provider)
    }
}
