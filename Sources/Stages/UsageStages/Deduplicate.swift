import UsageStandard

/// Drops a repeat of an event the same tenant sent before (same `source` and `id`), for as long as the event's
/// window can still change: the memory is bounded by the open windows (a repeat of an event whose window closed is
/// late anyway). Remembers the event's 128-bit identity in an open-addressing table per window (see `IdentitySet`):
/// 20 to 30 bytes per remembered event.
public struct Deduplicate: Stage {
    /// The windows whose lifetime bounds the memory.
    public let windows: TumblingWindows
    /// The grace period of those windows.
    public let graceMilliseconds: Int64
    private var seen: [Int64: IdentitySet] = [:]
    private var nextExpiry = Int64.max

    /// Creates the stage for windows of `windows` with `graceMilliseconds` of grace.
    public init(windows: TumblingWindows = .hourly, graceMilliseconds: Int64) {
        self.windows = windows
        self.graceMilliseconds = graceMilliseconds
    }

    /// Events remembered.
    public var remembered: Int { seen.values.reduce(0) { $0 + $1.count } }

    /// Passes the first occurrence, drops repeats.
    public mutating func process(_ input: OffsetEvent, context: inout FlowContext) -> StageOutcome<OffsetEvent> {
        let start = windows.start(of: input.event.time).milliseconds
        let closesAt = start + windows.sizeMilliseconds + graceMilliseconds
        if let watermark = context.watermark, closesAt <= watermark.milliseconds {
            return .next(input)  // its window has closed: the window stage refuses it as late
        }
        if seen[start, default: IdentitySet()].insert(input.event.identity) == false { return .dropped(.duplicate) }
        if closesAt < nextExpiry { nextExpiry = closesAt }
        expire(context: context)
        return .next(input)
    }

    /// Forgets the events of windows that closed.
    public mutating func watermarkAdvanced(context: FlowContext) { expire(context: context) }

    private mutating func expire(context: FlowContext) {
        guard let watermark = context.watermark?.milliseconds, watermark >= nextExpiry else { return }
        nextExpiry = .max
        for start in Array(seen.keys) {
            let closesAt = start + windows.sizeMilliseconds + graceMilliseconds
            if closesAt <= watermark { seen[start] = nil } else { nextExpiry = min(nextExpiry, closesAt) }
        }
    }
}

/// A set of event identities: open addressing with linear probing on the (random-seeded, uniform) identity bits,
/// all-zero = empty slot (an identity that is all zero is stored as 0/1). Filled up to 4/5, then grown by half: 16
/// bytes per slot make 20 to 30 bytes per remembered event.
struct IdentitySet {
    private var slots: [EventIdentity] = []
    private(set) var count = 0

    /// The slot `identity` starts probing at: its bits scaled to the capacity (no power of two needed).
    @inline(__always)
    private static func home(_ identity: EventIdentity, _ capacity: Int) -> Int {
        Int(truncatingIfNeeded: identity.low.multipliedFullWidth(by: UInt64(capacity)).high)
    }

    /// Adds `identity`; false when it was there already.
    mutating func insert(_ identity: EventIdentity) -> Bool {
        var identity = identity
        if identity.high == 0 && identity.low == 0 { identity.low = 1 }
        if (count + 1) * 5 > slots.count * 4 { grow() }
        let capacity = slots.count
        var index = Self.home(identity, capacity)
        while true {
            let slot = slots[index]
            if slot.high == 0 && slot.low == 0 {
                slots[index] = identity
                count += 1
                return true
            }
            if slot == identity { return false }
            index += 1
            if index == capacity { index = 0 }
        }
    }

    private mutating func grow() {
        let old = slots
        let capacity = max(16, old.count + old.count / 2)
        slots = Array(repeating: EventIdentity(high: 0, low: 0), count: capacity)
        for identity in old where identity.high != 0 || identity.low != 0 {
            var index = Self.home(identity, capacity)
            while slots[index].high != 0 || slots[index].low != 0 {
                index += 1
                if index == capacity { index = 0 }
            }
            slots[index] = identity
        }
    }
}
