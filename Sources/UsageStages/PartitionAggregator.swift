import UsageStandard

/// Sums and counts the events of one input partition in tumbling windows on event time.
///
/// The partition's watermark is the largest event time seen. A window closes once the watermark passes its
/// end plus `grace`: its total is emitted as final and its state dropped; an event for a closed window is late.
/// Everything here is a pure function of the sequence of events applied, so the state at any offset can be
/// rebuilt by applying the same events again (`replaying`), which is how restarts recover open windows.
public struct PartitionAggregator: Sendable {
    /// What happened to an applied event.
    public enum Outcome: Sendable, Equatable {
        /// Added to its window.
        case counted
        /// Its window had already closed.
        case late
        /// Its unit differs from the unit of earlier events for the same key and window.
        case unitMismatch(expected: String)
        /// The window total would overflow.
        case overflow
    }

    struct WindowKey: Hashable {
        var key: UsageKey
        var start: Int64
    }

    struct OpenWindow {
        var quantity: Quantity
        var count: Int64
        var unit: String
        var firstOffset: Int64
        var lastOffset: Int64
        var dirty: Bool
        var provider: String?
    }

    /// The partition these windows belong to, as `topic:partition`.
    public let partition: String
    /// The window definition.
    public let windows: TumblingWindows
    /// How long after a window's end events are still accepted, in milliseconds.
    public let graceMilliseconds: Int64
    /// The largest event time applied so far.
    public private(set) var watermark: Timestamp?

    private var open: [WindowKey: OpenWindow] = [:]
    private var closed: [UsageTotal] = []
    private var nextCloseAt = Int64.max

    /// Creates an empty aggregator.
    public init(partition: String, windows: TumblingWindows = .hourly, graceMilliseconds: Int64) {
        self.partition = partition
        self.windows = windows
        self.graceMilliseconds = graceMilliseconds
    }

    /// Number of open windows.
    public var openWindowCount: Int { open.count }

    /// The smallest offset of any event in an open window: re-reading from here rebuilds every open window.
    /// Nil when no window is open.
    public var rebuildFrom: Int64? { open.values.lazy.map(\.firstOffset).min() }

    /// Sets the watermark recorded at a commit, before replaying the events since `rebuildFrom`.
    public mutating func restore(watermark: Timestamp?) {
        self.watermark = watermark
    }

    /// Applies one in-scope event read at `offset`. When `replaying`, the event was already accounted before a
    /// restart: it rebuilds state but marks nothing for emission, and late events are ignored silently.
    @discardableResult
    public mutating func apply(_ event: UsageEvent, offset: Int64, replaying: Bool = false) -> Outcome {
        let start = windows.start(of: event.time)
        let end = start.milliseconds + windows.sizeMilliseconds
        if let watermark, end + graceMilliseconds <= watermark.milliseconds {
            return .late
        }
        let windowKey = WindowKey(key: event.key, start: start.milliseconds)
        if var window = open[windowKey] {
            guard window.unit == event.unit else { return .unitMismatch(expected: window.unit) }
            guard let sum = window.quantity.adding(event.quantity) else { return .overflow }
            window.quantity = sum
            window.count += 1
            window.lastOffset = offset
            window.dirty = window.dirty || !replaying
            window.provider = window.provider ?? event.provider
            open[windowKey] = window
        } else {
            open[windowKey] = OpenWindow(quantity: event.quantity, count: 1, unit: event.unit,
                                         firstOffset: offset, lastOffset: offset, dirty: !replaying, provider: event.provider)
            nextCloseAt = min(nextCloseAt, end + graceMilliseconds)
        }
        if event.time.milliseconds > (watermark?.milliseconds ?? .min) {
            watermark = event.time
            if event.time.milliseconds >= nextCloseAt { closeWindows() }
        }
        return .counted
    }

    private mutating func closeWindows() {
        guard let watermark else { return }
        var next = Int64.max
        for (windowKey, window) in open {
            let closesAt = windowKey.start + windows.sizeMilliseconds + graceMilliseconds
            if closesAt <= watermark.milliseconds {
                closed.append(total(windowKey, window, status: .final))
                open[windowKey] = nil
            } else {
                next = min(next, closesAt)
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

    /// Whether anything is waiting to be emitted.
    public var hasEmissions: Bool { !closed.isEmpty || open.values.contains { $0.dirty } }

    private func total(_ windowKey: WindowKey, _ window: OpenWindow, status: TotalStatus) -> UsageTotal {
        UsageTotal(key: windowKey.key, windowStart: Timestamp(milliseconds: windowKey.start),
                   windowEnd: Timestamp(milliseconds: windowKey.start + windows.sizeMilliseconds),
                   quantity: window.quantity, unit: window.unit, eventCount: window.count, status: status,
                   sourcePartition: partition, lastOffset: window.lastOffset, provider: window.provider)
    }
}
