import UsageStandard

/// A record as read from an instance topic; its buffers are borrowed and only valid while it is processed.
public struct IncomingRecord<Headers: CloudEventHeaderSource> {
    /// The record headers.
    public var headers: Headers
    /// The key bytes, nil for a null key.
    public var key: UnsafeRawBufferPointer?
    /// The value bytes, nil for a tombstone.
    public var value: UnsafeRawBufferPointer?
    /// The record timestamp.
    public var timestamp: Timestamp?
    /// The record offset.
    public var offset: Int64

    /// Creates a record view.
    public init(headers: Headers, key: UnsafeRawBufferPointer?, value: UnsafeRawBufferPointer?,
                timestamp: Timestamp?, offset: Int64) {
        self.headers = headers
        self.key = key
        self.value = value
        self.timestamp = timestamp
        self.offset = offset
    }
}

/// A valid usage event and the offset it was read at.
public struct OffsetEvent: Sendable, Equatable {
    /// The event.
    public var event: UsageEvent
    /// Its offset in the partition.
    public var offset: Int64

    /// Creates one.
    public init(_ event: UsageEvent, offset: Int64) {
        self.event = event
        self.offset = offset
    }
}

/// An event with the key its total is accounted under.
public struct KeyedEvent: Sendable, Equatable {
    /// The totals key.
    public var key: UsageKey
    /// The event.
    public var event: UsageEvent
    /// Its offset in the partition.
    public var offset: Int64

    /// Creates one.
    public init(key: UsageKey, event: UsageEvent, offset: Int64) {
        self.key = key
        self.event = event
        self.offset = offset
    }
}

/// Decodes and validates a record (CloudEvents 1.0.2, its Kafka binding, the Usage Tracking Standard);
/// a valid event raises the partition watermark.
public struct Decode<Headers: CloudEventHeaderSource>: Stage {
    /// The decoder.
    public let decoder: UsageEventDecoder

    /// Creates the stage.
    public init(policy: UsageEventDecoder.Policy) {
        decoder = UsageEventDecoder(policy: policy)
    }

    /// Decodes one record.
    public mutating func process(_ record: IncomingRecord<Headers>, context: inout FlowContext) -> StageOutcome<OffsetEvent> {
        switch decoder.decode(headers: record.headers, key: record.key, value: record.value, referenceTime: record.timestamp) {
        case .success(let event):
            context.observe(event.time)
            return .next(OffsetEvent(event, offset: record.offset))
        case .failure(let error):
            return .rejected(error)
        }
    }
}

/// Drops a repeat of an event the same tenant sent before (same `source` and `id`), for as long as the event's
/// window can still change: the memory is bounded by the open windows (a repeat of an event whose window closed is
/// late anyway). Remembers a 128-bit hash per event, 16 bytes plus set overhead.
public struct Deduplicate: Stage {
    struct EventID: Hashable {
        var high: UInt64
        var low: UInt64
    }

    /// The windows whose lifetime bounds the memory.
    public let windows: TumblingWindows
    /// The grace period of those windows.
    public let graceMilliseconds: Int64
    /// When false, every event passes (the topology turned deduplication off).
    public let enabled: Bool
    private var seen: [Int64: Set<EventID>] = [:]
    private var nextExpiry = Int64.max
    private let seeds: (UInt64, UInt64)

    /// Creates the stage for windows of `windows` with `graceMilliseconds` of grace.
    public init(windows: TumblingWindows = .hourly, graceMilliseconds: Int64, enabled: Bool = true) {
        self.windows = windows
        self.graceMilliseconds = graceMilliseconds
        self.enabled = enabled
        seeds = (UInt64.random(in: 0...UInt64.max), UInt64.random(in: 0...UInt64.max))
    }

    /// Events remembered.
    public var remembered: Int { seen.values.reduce(0) { $0 + $1.count } }

    /// Passes the first occurrence, drops repeats.
    public mutating func process(_ input: OffsetEvent, context: inout FlowContext) -> StageOutcome<OffsetEvent> {
        guard enabled else { return .next(input) }
        let start = windows.start(of: input.event.time).milliseconds
        let closesAt = start + windows.sizeMilliseconds + graceMilliseconds
        if let watermark = context.watermark, closesAt <= watermark.milliseconds {
            return .next(input)  // its window has closed: the window stage refuses it as late
        }
        let id = eventID(input.event)
        if seen[start, default: []].insert(id).inserted == false { return .dropped(.duplicate) }
        nextExpiry = min(nextExpiry, closesAt)
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

    private func eventID(_ event: UsageEvent) -> EventID {
        func hash(_ seed: UInt64) -> UInt64 {
            var hasher = Hasher()
            hasher.combine(seed)
            hasher.combine(event.tenant)
            hasher.combine(event.source)
            hasher.combine(event.id)
            return UInt64(bitPattern: Int64(hasher.finalize()))
        }
        return EventID(high: hash(seeds.0), low: hash(seeds.1))
    }
}

/// A rule that marks usage as not accounted.
public enum ScopeRule: Sendable, Equatable, CustomStringConvertible {
    /// The event is tagged `scope: out` (always applies; the standard's own rule).
    case tag
    /// The event comes from one of these components.
    case component([String])
    /// The event's `source` starts with one of these prefixes.
    case sourcePrefix([String])

    /// Whether the rule excludes `event`.
    @inlinable
    public func excludes(_ event: UsageEvent) -> Bool {
        switch self {
        case .tag: return event.scope == .outOfScope
        case .component(let names): return names.contains(event.component)
        case .sourcePrefix(let prefixes): return prefixes.contains { event.source.hasPrefix($0) }
        }
    }

    public var description: String {
        switch self {
        case .tag: return "scope=out"
        case .component(let names): return "component in [\(names.joined(separator: ", "))]"
        case .sourcePrefix(let prefixes): return "source starts with [\(prefixes.joined(separator: ", "))]"
        }
    }
}

/// Drops usage that scope rules exclude (counted, never billed).
public struct ScopeFilter: Stage {
    /// The rules; the `tag` rule always applies.
    public let rules: [ScopeRule]

    /// Creates the filter; `.tag` is added when missing.
    public init(rules: [ScopeRule] = []) {
        self.rules = rules.contains(.tag) ? rules : [.tag] + rules
    }

    /// Whether `event` is accounted.
    public func admits(_ event: UsageEvent) -> Bool { !rules.contains { $0.excludes(event) } }

    /// Passes accounted events, drops the others naming the rule.
    public mutating func process(_ input: OffsetEvent, context: inout FlowContext) -> StageOutcome<OffsetEvent> {
        for rule in rules where rule.excludes(input.event) { return .dropped(.outOfScope(rule: rule.description)) }
        return .next(input)
    }
}

/// The fields a total is keyed by; fields left out are accounted together (shown as `*`).
public struct KeyFields: Sendable, Equatable, CustomStringConvertible {
    /// Whether the instance is part of the key.
    public var instance: Bool
    /// Whether the component is part of the key.
    public var component: Bool

    /// Tenant, instance, component and metric (the default).
    public static let standard = KeyFields(instance: true, component: true)

    /// Creates key fields; tenant and metric are always part of the key.
    public init(instance: Bool, component: Bool) {
        self.instance = instance
        self.component = component
    }

    public var description: String {
        (["tenant"] + (instance ? ["instance"] : []) + (component ? ["component"] : []) + ["metric"]).joined(separator: ", ")
    }
}

/// Keys each event for aggregation.
public struct KeyBy: Stage {
    /// The key fields.
    public let fields: KeyFields

    /// Creates the stage.
    public init(_ fields: KeyFields = .standard) {
        self.fields = fields
    }

    /// Attaches the key.
    @inlinable
    public mutating func process(_ input: OffsetEvent, context: inout FlowContext) -> StageOutcome<KeyedEvent> {
        let event = input.event
        let key = UsageKey(tenant: event.tenant, instance: fields.instance ? event.instance : "*",
                           component: fields.component ? event.component : "*", metric: event.metric)
        return .next(KeyedEvent(key: key, event: event, offset: input.offset))
    }
}

/// Transforms each input with a pure function, e.g. to enrich events (derive an attribute from `source`) or to
/// normalise names before keying.
public struct Map<Input, Output>: Stage {
    /// The transformation.
    public let transform: @Sendable (Input) -> Output

    /// Creates the stage.
    public init(_ transform: @escaping @Sendable (Input) -> Output) {
        self.transform = transform
    }

    /// Applies the transformation.
    @inlinable
    public mutating func process(_ input: Input, context: inout FlowContext) -> StageOutcome<Output> {
        .next(transform(input))
    }
}
