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
public struct WindowAggregator: EmittingStage {
    /// The running state of one key's window. Plain data (no references), 56 bytes.
    struct OpenWindow {
        var value: Quantity
        var count: Int64
        var firstOffset: Int64
        var lastOffset: Int64
        /// The time of the event whose quantity is the value (aggregation `latest` only).
        var latestTime: Int64
        var unit: Symbol
        var provider: Symbol?
        var dirty: Bool
    }

    /// The partition these windows belong to, as `topic:partition`.
    public let partition: String
    /// The window definition.
    public let windows: TumblingWindows
    /// How long after a window's end events are still accepted, in milliseconds.
    public let graceMilliseconds: Int64
    /// How each metric is aggregated.
    public let aggregations: Aggregations
    /// Whether `takeEmissions` includes provisional totals of open windows (else final totals only).
    public let emitProvisional: Bool
    /// The open windows, one table per window start (a handful: the current hour and those within grace).
    private var open: [WindowTable] = []
    /// Tables of windows that closed, waiting for `takeEmissions`.
    private var closed: [WindowTable] = []
    /// Emptied tables kept for reuse, so that a new hour allocates nothing once warm.
    private var spare: [WindowTable] = []
    private var nextCloseAt = Int64.max
    /// The aggregation per metric symbol, looked up by name once.
    private var aggregationOf = SymbolMemo<Aggregation>()

    /// Creates an empty aggregator.
    public init(partition: String, windows: TumblingWindows = .hourly, graceMilliseconds: Int64,
                aggregations: Aggregations = Aggregations(), emitProvisional: Bool = true) {
        self.emitProvisional = emitProvisional
        self.partition = partition
        self.windows = windows
        self.graceMilliseconds = graceMilliseconds
        self.aggregations = aggregations
    }

    /// Number of open windows.
    public var openWindowCount: Int { open.reduce(0) { $0 + $1.count } }

    /// The smallest offset of any event in an open window: re-reading from here rebuilds every open window.
    /// Nil when no window is open.
    public var rebuildFrom: Int64? { open.compactMap(\.firstOffset).min() }

    /// Adds one event to its window; refuses it when the window closed, its unit differs or the total would overflow.
    public mutating func process(_ input: KeyedEvent, context: inout FlowContext) -> StageOutcome<Void> {
        let event = input.event
        let start = windows.start(of: event.time).milliseconds
        let closesAt = start + windows.sizeMilliseconds + graceMilliseconds
        if let watermark = context.watermark, watermark.milliseconds >= nextCloseAt { closeWindows(watermark, context) }
        if let watermark = context.watermark, closesAt <= watermark.milliseconds {
            return .rejected(UsageDecodeError(.late, "time", "\(event.time) is in a window that closed (its end plus \(graceMilliseconds / 60_000) minutes of grace passed, watermark \(watermark)) before the event arrived"))
        }
        let aggregation = aggregation(of: event.metric, context.symbols)
        let table = tableIndex(start: start, closesAt: closesAt)
        if let index = open[table].index(of: input.key) {
            // Updated in place: one probe, no copy of the window state.
            guard open[table].windows[index].unit == event.unit else {
                let symbols = context.symbols
                return .rejected(UsageDecodeError(.unitMismatch, "data.unit", "is '\(symbols[event.unit])' but earlier events of \(symbols[input.key]) in this window use '\(symbols[open[table].windows[index].unit])'"))
            }
            // Taken out while updated, so that the set is not copied.
            var subjects = aggregation == .distinct ? open[table].subjects.removeValue(forKey: index) : nil
            defer { if let subjects { open[table].subjects[index] = subjects } }
            if let error = Self.add(event, offset: input.offset, aggregation: aggregation,
                                    to: &open[table].windows[index], subjects: &subjects) {
                return .rejected(error.with(key: context.symbols[input.key]))
            }
        } else {
            var window = OpenWindow(value: .zero, count: 0, firstOffset: input.offset, lastOffset: input.offset,
                                    latestTime: .min, unit: event.unit, provider: event.provider, dirty: false)
            var subjects: Set<SubjectHash>? = aggregation == .distinct ? [] : nil
            if let error = Self.add(event, offset: input.offset, aggregation: aggregation,
                                    to: &window, subjects: &subjects) {
                return .rejected(error.with(key: context.symbols[input.key]))
            }
            open[table].insert(input.key, window, subjects: subjects)
        }
        return .next(())
    }

    /// The index in `open` of the table of windows starting at `start`, added when missing.
    private mutating func tableIndex(start: Int64, closesAt: Int64) -> Int {
        for index in open.indices where open[index].start == start { return index }
        var table = spare.popLast() ?? WindowTable()
        table.start = start
        open.append(table)
        nextCloseAt = Swift.min(nextCloseAt, closesAt)
        return open.count - 1
    }

    /// The aggregation of `metric`, looked up by name once per symbol.
    private mutating func aggregation(of metric: Symbol, _ symbols: Symbols) -> Aggregation {
        if let known = aggregationOf[metric] { return known }
        let aggregation = aggregations.of(symbols[metric])
        aggregationOf[metric] = aggregation
        return aggregation
    }

    /// Adds `event` to `window` per `aggregation`; returns an error when the sum would overflow.
    private static func add(_ event: InternedEvent, offset: Int64, aggregation: Aggregation,
                            to window: inout OpenWindow, subjects: inout Set<SubjectHash>?) -> UsageDecodeError? {
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
            subjects?.insert(event.subject ?? .absent)
            window.value = Quantity(micros: Int64(subjects?.count ?? 0) * Quantity.unit)
        }
        window.count += 1
        window.lastOffset = Swift.max(window.lastOffset, offset)
        // Re-read windows are marked too: the process that accounted them may have held their provisional totals
        // back (a partition far behind) when it committed the checkpoint this restart resumes from, so each open
        // window's total is emitted once more after a restart (the same figure again when it was emitted already).
        window.dirty = true
        return nil
    }

    /// Closes the windows the watermark has passed.
    public mutating func watermarkAdvanced(context: FlowContext) {
        if let watermark = context.watermark, watermark.milliseconds >= nextCloseAt { closeWindows(watermark, context) }
    }

    private mutating func closeWindows(_ watermark: Timestamp, _ context: FlowContext) {
        var next = Int64.max
        var index = 0
        while index < open.count {
            let closesAt = open[index].start + windows.sizeMilliseconds + graceMilliseconds
            if closesAt <= watermark.milliseconds {
                var table = open.remove(at: index)
                // Windows that close while replaying were emitted as final before the restart.
                if context.replaying {
                    table.removeAll()
                    spare.append(table)
                } else {
                    closed.append(table)
                }
            } else {
                next = Swift.min(next, closesAt)
                index += 1
            }
        }
        nextCloseAt = next
    }

    /// Takes the totals to emit: final totals of windows closed since the last call, and (unless `provisional` is
    /// false or the aggregator emits final totals only) provisional totals of open windows that changed since they
    /// were last emitted, with the names of `symbols` (the flow context's); in no particular order.
    public mutating func takeEmissions(symbols: Symbols, provisional: Bool = true) -> [UsageTotal] {
        var result: [UsageTotal] = []
        let size = windows.sizeMilliseconds, partition = partition
        func total(_ key: InternedKey, _ start: Int64, _ window: OpenWindow, _ status: TotalStatus) -> UsageTotal {
            UsageTotal(key: symbols[key], windowStart: Timestamp(milliseconds: start),
                       windowEnd: Timestamp(milliseconds: start + size), quantity: window.value,
                       unit: symbols[window.unit], eventCount: window.count, status: status, sourcePartition: partition,
                       lastOffset: window.lastOffset, provider: window.provider.map { symbols[$0] })
        }
        for var table in closed {
            let start = table.start
            table.forEachWindow { key, window in result.append(total(key, start, window, .final)) }
            table.removeAll()
            spare.append(table)
        }
        closed.removeAll(keepingCapacity: true)
        guard emitProvisional && provisional else { return result }
        for index in open.indices {
            let start = open[index].start
            open[index].forEachWindow { key, window in
                guard window.dirty else { return }
                result.append(total(key, start, window, .provisional))
                window.dirty = false
            }
        }
        return result
    }
}

/// The open windows of one window start: window state in a dense array, found through an open-addressing index
/// (linear probing, at most half full) whose slots hold the key itself, so that a probe touches one slot and then the
/// window it found.
struct WindowTable {
    struct Slot {
        var key: InternedKey
        /// Index + 1 into `windows`, 0 = empty.
        var entry: UInt32

        static let empty = Slot(key: InternedKey(tenant: .none, instance: .none, component: .none, metric: .none), entry: 0)
    }

    var start: Int64 = 0
    var windows: [WindowAggregator.OpenWindow] = []
    /// The subjects of `distinct` windows, by index.
    var subjects: [Int: Set<SubjectHash>] = [:]
    private var slots = [Slot](repeating: .empty, count: 16)

    var count: Int { windows.count }

    var firstOffset: Int64? { windows.lazy.map(\.firstOffset).min() }

    @inline(__always)
    static func hash(_ key: InternedKey) -> Int {
        let a = UInt64(key.tenant.rawValue) << 32 | UInt64(key.instance.rawValue)
        let b = UInt64(key.component.rawValue) << 32 | UInt64(key.metric.rawValue)
        let product = (a ^ 0x9E37_79B9_7F4A_7C15).multipliedFullWidth(by: b ^ 0xC2B2_AE3D_27D4_EB4F)
        return Int(truncatingIfNeeded: product.high ^ product.low)
    }

    /// The index of `key`'s window, if open.
    @inline(__always)
    func index(of key: InternedKey) -> Int? {
        slots.withUnsafeBufferPointer { slots in
            let mask = slots.count - 1
            var slot = Self.hash(key) & mask
            while true {
                let entry = slots[slot].entry
                if entry == 0 { return nil }
                if slots[slot].key == key { return Int(entry - 1) }
                slot = (slot + 1) & mask
            }
        }
    }

    /// Calls `body` with each open window and its key.
    mutating func forEachWindow(_ body: (InternedKey, inout WindowAggregator.OpenWindow) -> Void) {
        for slot in slots where slot.entry != 0 { body(slot.key, &windows[Int(slot.entry - 1)]) }
    }

    /// Adds a window for a key not yet in the table.
    mutating func insert(_ key: InternedKey, _ window: WindowAggregator.OpenWindow, subjects: Set<SubjectHash>?) {
        windows.append(window)
        if let subjects { self.subjects[windows.count - 1] = subjects }
        if windows.count * 2 > slots.count {
            let old = slots
            slots = [Slot](repeating: .empty, count: slots.count * 2)
            for slot in old where slot.entry != 0 { place(slot) }
        }
        place(Slot(key: key, entry: UInt32(windows.count)))
    }

    private mutating func place(_ slot: Slot) {
        let mask = slots.count - 1
        var index = Self.hash(slot.key) & mask
        while slots[index].entry != 0 { index = (index + 1) & mask }
        slots[index] = slot
    }

    /// Empties the table, keeping its capacity.
    mutating func removeAll() {
        windows.removeAll(keepingCapacity: true)
        subjects.removeAll()
        for index in slots.indices { slots[index].entry = 0 }
    }
}
