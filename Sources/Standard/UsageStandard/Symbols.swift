/// A small integer standing for a name (tenant, instance, component, metric, unit, source, ...) in one `Symbols`
/// table: the hot path compares, hashes and stores these instead of Strings.
public struct Symbol: Hashable, Sendable {
    /// The index of the name in its table.
    public let rawValue: UInt32

    /// `*`, the name of a key field left out of the key (always symbol 0).
    public static let wildcard = Symbol(rawValue: 0)
    /// No name at all, e.g. an absent `subject`; never the symbol of a name.
    public static let none = Symbol(rawValue: .max)

    init(rawValue: UInt32) { self.rawValue = rawValue }
}

/// Interns names: each distinct byte string gets one `Symbol` and one String, created once, so that decoding an
/// event whose names were seen before allocates nothing. One table per partition flow (it travels in the flow's
/// context), never shared between threads; names are never forgotten, which is right for the bounded sets of
/// tenants, instances, components, metrics, units, sources and providers. Subjects, which are not bounded (a user per
/// event), are hashed instead (`SubjectHash`).
public struct Symbols: Sendable {
    private var strings: [String] = []
    private var names = ProbeTable<UInt32>()
    private var origins = ProbeTable<Origin>()
    private var metricUnits = SymbolMemo<Symbol?>()
    /// Per-table random seeds of the name and identity hashes.
    let seeds: (UInt64, UInt64, UInt64, UInt64)

    /// An empty table (holding `*` as `Symbol.wildcard`).
    public init() {
        var random = SystemRandomNumberGenerator()
        seeds = (random.next(), random.next(), random.next(), random.next())
        _ = intern("*")
    }

    /// How many names the table holds.
    public var count: Int { strings.count }

    /// The name of `symbol`.
    public subscript(symbol: Symbol) -> String { strings[Int(symbol.rawValue)] }

    /// The symbol of `bytes`, adding it when new; nil when the bytes are not valid UTF-8.
    public mutating func intern(_ bytes: UnsafeRawBufferPointer) -> Symbol? {
        let hash = ByteHash.hash(bytes, seed: seeds.0), check = ByteHash.hash(bytes, seed: seeds.3)
        if let entry = names.find(hash: hash, check: check) { return Symbol(rawValue: entry) }
        guard let text = String(validating: bytes, as: UTF8.self) else { return nil }
        return insert(text, hash: hash, check: check)
    }

    /// The symbol of `text`, adding it when new.
    public mutating func intern(_ text: String) -> Symbol {
        var utf8 = text
        let (hash, check) = utf8.withUTF8 { (ByteHash.hash(UnsafeRawBufferPointer($0), seed: seeds.0),
                                              ByteHash.hash(UnsafeRawBufferPointer($0), seed: seeds.3)) }
        if let entry = names.find(hash: hash, check: check) { return Symbol(rawValue: entry) }
        return insert(text, hash: hash, check: check)
    }

    /// The symbol of `text` if the table holds it.
    public func existing(_ text: String) -> Symbol? {
        var text = text
        return text.withUTF8 { bytes in
            names.find(hash: ByteHash.hash(UnsafeRawBufferPointer(bytes), seed: seeds.0),
                       check: ByteHash.hash(UnsafeRawBufferPointer(bytes), seed: seeds.3)).map(Symbol.init)
        }
    }

    private mutating func insert(_ text: String, hash: UInt64, check: UInt64) -> Symbol {
        let entry = UInt32(strings.count)
        strings.append(text)
        names.insert(entry, hash: hash, check: check)
        return Symbol(rawValue: entry)
    }

    /// The symbols of an event's origin (tenant, instance, component, source, provider) in one probe: these come
    /// together, and one lookup of the combination costs one cache miss where five lookups would cost several.
    /// Nil when a name is not valid UTF-8.
    public mutating func origin(tenant: UnsafeRawBufferPointer, instance: UnsafeRawBufferPointer,
                                component: UnsafeRawBufferPointer, source: UnsafeRawBufferPointer,
                                provider: UnsafeRawBufferPointer?) -> Origin? {
        func chain(_ seed: UInt64) -> UInt64 {
            var hash = ByteHash.hash(tenant, seed: seed)
            hash = ByteHash.hash(instance, seed: hash)
            hash = ByteHash.hash(component, seed: hash)
            hash = ByteHash.hash(source, seed: hash)
            return provider.map { ByteHash.hash($0, seed: hash) } ?? ~hash
        }
        let hash = chain(seeds.0 ^ 0x6F72_6967_696E), check = chain(seeds.3 ^ 0x6F72_6967_696E)
        if let found = origins.find(hash: hash, check: check) { return found }
        guard let tenantSymbol = intern(tenant), let instanceSymbol = intern(instance),
              let componentSymbol = intern(component), let sourceSymbol = intern(source) else { return nil }
        var providerSymbol: Symbol?
        if let provider {
            guard let symbol = intern(provider) else { return nil }
            providerSymbol = symbol
        }
        let conforms = [tenantSymbol, instanceSymbol, componentSymbol].allSatisfy { CloudEventsTypes.forbiddenScalar(self[$0]) == nil }
            && providerSymbol.map { CloudEventsTypes.forbiddenScalar(self[$0]) == nil } ?? true
            && URIGrammar.isURIReference(source)
        let origin = Origin(tenant: tenantSymbol, instance: instanceSymbol, component: componentSymbol,
                            source: sourceSymbol, provider: providerSymbol, conforms: conforms)
        origins.insert(origin, hash: hash, check: check)
        return origin
    }

    /// The unit `registry` gives `metric`, or nil for a metric not in the registry; looked up once per symbol.
    public mutating func registeredUnit(of metric: Symbol, in registry: MetricRegistry) -> Symbol? {
        if let known = metricUnits[metric] { return known }
        let unit = registry[self[metric]].map { intern($0.unit) }
        metricUnits[metric] = unit
        return unit
    }

    /// The identity of an event for deduplication: a 128-bit hash of its tenant, source and id.
    public func identity(tenant: Symbol, source: Symbol, id: UnsafeRawBufferPointer) -> EventIdentity {
        let names = UInt64(tenant.rawValue) << 32 | UInt64(source.rawValue)
        return EventIdentity(high: ByteHash.hash(id, seed: seeds.1 ^ names), low: ByteHash.hash(id, seed: seeds.2 &+ names))
    }

    /// The hash of a `subject`'s bytes (never `SubjectHash.absent`).
    public func subjectHash(_ bytes: UnsafeRawBufferPointer) -> SubjectHash {
        let hash = SubjectHash(high: ByteHash.hash(bytes, seed: seeds.1 ^ 0x7375_626A_6563_74),
                               low: ByteHash.hash(bytes, seed: seeds.2 ^ 0x7375_626A_6563_74))
        return hash == .absent ? SubjectHash(high: 0, low: 1) : hash
    }

    /// Interns the names of `event` (for events decoded by the general decoder, and for tests).
    public mutating func intern(_ event: UsageEvent) -> InternedEvent {
        let tenant = intern(event.tenant), source = intern(event.source)
        var id = event.id
        let identity = id.withUTF8 { self.identity(tenant: tenant, source: source, id: UnsafeRawBufferPointer($0)) }
        return InternedEvent(identity: identity, time: event.time, quantity: event.quantity, tenant: tenant,
                             instance: intern(event.instance), component: intern(event.component),
                             metric: intern(event.metric), unit: intern(event.unit), source: source,
                             provider: event.provider.map { intern($0) },
                             subject: event.subject.map { subject in
                                 var subject = subject
                                 return subject.withUTF8 { subjectHash(UnsafeRawBufferPointer($0)) }
                             },
                             scope: event.scope)
    }
}

/// A value per symbol, filled as symbols are first asked about: what the hot path derives from a name (its unit,
/// its aggregation, a scope verdict) is worked out once and then read by index.
public struct SymbolMemo<Value: Sendable>: Sendable {
    private var values: [Value?] = []

    /// An empty memo.
    public init() {}

    /// The value remembered for `symbol`, nil when not yet set.
    public subscript(symbol: Symbol) -> Value? {
        get { Int(symbol.rawValue) < values.count ? values[Int(symbol.rawValue)] : nil }
        set {
            let index = Int(symbol.rawValue)
            if values.count <= index { values.append(contentsOf: repeatElement(nil, count: index + 1 - values.count)) }
            values[index] = newValue
        }
    }
}

/// Where an event comes from, as symbols: who is billed, which instance and component, its source and provider.
public struct Origin: Sendable, Equatable {
    /// The `tenant` extension.
    public var tenant: Symbol
    /// The `instance` extension.
    public var instance: Symbol
    /// The `component` extension.
    public var component: Symbol
    /// CloudEvents `source`.
    public var source: Symbol
    /// The `provider` extension, if given.
    public var provider: Symbol?
    /// Whether the names are of their CloudEvents types: `tenant`, `instance`, `component` and `provider` Strings,
    /// `source` a URI-reference (checked once, when the origin is first seen).
    public var conforms: Bool
}

/// An open-addressing hash table (linear probing, at most 3/4 full) of payloads found by two independent 64-bit
/// hashes of their names; it never touches the names' bytes again: with 128 bits of seeded hash the odds that two
/// of 100,000 names collide are about 10^-29.
struct ProbeTable<Payload: Sendable>: Sendable {
    struct Slot {
        var hash: UInt64
        /// The second hash with its lowest bit set; 0 marks an empty slot.
        var check: UInt64
        var payload: Payload?
    }

    private var slots = [Slot](repeating: Slot(hash: 0, check: 0, payload: nil), count: 64)
    private var count = 0

    @inline(__always)
    func find(hash: UInt64, check: UInt64) -> Payload? {
        let check = check | 1
        return slots.withUnsafeBufferPointer { slots in
            let mask = slots.count - 1
            var index = Int(truncatingIfNeeded: hash) & mask
            while true {
                let slot = slots[index]
                if slot.check == 0 { return nil }
                if slot.hash == hash, slot.check == check { return slot.payload }
                index = (index + 1) & mask
            }
        }
    }

    /// Adds a payload not yet in the table.
    mutating func insert(_ payload: Payload, hash: UInt64, check: UInt64) {
        count += 1
        if count * 4 > slots.count * 3 {
            let old = slots
            slots = [Slot](repeating: Slot(hash: 0, check: 0, payload: nil), count: slots.count * 2)
            for slot in old where slot.check != 0 { place(slot) }
        }
        place(Slot(hash: hash, check: check | 1, payload: payload))
    }

    private mutating func place(_ slot: Slot) {
        let mask = slots.count - 1
        var index = Int(truncatingIfNeeded: slot.hash) & mask
        while slots[index].check != 0 { index = (index + 1) & mask }
        slots[index] = slot
    }
}

/// What identifies an event for deduplication (its tenant, source and id), as a 128-bit hash.
public struct EventIdentity: Hashable, Sendable {
    /// The first 64 bits.
    public var high: UInt64
    /// The last 64 bits.
    public var low: UInt64

    /// Creates one.
    @inlinable
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }
}

/// A CloudEvents `subject` (e.g. a user) as a 128-bit hash of its bytes: `distinct` aggregations count these, and
/// subjects are never interned, so that a million distinct subjects a day leave no names behind once their windows
/// close. Two different subjects share a hash with probability about 2^-128 per pair.
public struct SubjectHash: Hashable, Sendable {
    /// The first 64 bits.
    public var high: UInt64
    /// The last 64 bits.
    public var low: UInt64

    /// Creates one.
    @inlinable
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Stands for an absent subject (counted as one value of its own); never the hash of a subject.
    public static let absent = SubjectHash(high: 0, low: 0)
}

/// A usage event as the hot path carries it: names as symbols of the flow's `Symbols` table, the id as its
/// 128-bit identity. No reference counting, 80 bytes.
public struct InternedEvent: Sendable, Equatable {
    /// Tenant, source and id, hashed.
    public var identity: EventIdentity
    /// When the usage happened.
    public var time: Timestamp
    /// The amount.
    public var quantity: Quantity
    /// The `tenant` extension.
    public var tenant: Symbol
    /// The `instance` extension.
    public var instance: Symbol
    /// The `component` extension.
    public var component: Symbol
    /// `data.metric`.
    public var metric: Symbol
    /// `data.unit`.
    public var unit: Symbol
    /// CloudEvents `source`.
    public var source: Symbol
    /// The `provider` extension, if given.
    public var provider: Symbol?
    /// CloudEvents `subject`, if given, hashed (see `SubjectHash`).
    public var subject: SubjectHash?
    /// The `scope` extension.
    public var scope: UsageScope

    /// Creates one.
    @inlinable
    public init(identity: EventIdentity, time: Timestamp, quantity: Quantity, tenant: Symbol, instance: Symbol,
                component: Symbol, metric: Symbol, unit: Symbol, source: Symbol, provider: Symbol?, subject: SubjectHash?,
                scope: UsageScope) {
        self.identity = identity
        self.time = time
        self.quantity = quantity
        self.tenant = tenant
        self.instance = instance
        self.component = component
        self.metric = metric
        self.unit = unit
        self.source = source
        self.provider = provider
        self.subject = subject
        self.scope = scope
    }
}

/// A fast seeded 64-bit hash of short byte strings (wyhash-style multiply-fold). Not cryptographic; the seeds are
/// random per table.
public enum ByteHash {
    @usableFromInline static let p0: UInt64 = 0xa076_1d64_78bd_642f
    @usableFromInline static let p1: UInt64 = 0xe703_7ed1_a0b4_28db
    @usableFromInline static let p2: UInt64 = 0x8ebc_6af0_9c88_c6e3

    @inlinable @inline(__always)
    static func mum(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let product = a.multipliedFullWidth(by: b)
        return product.high ^ product.low
    }

    @inlinable @inline(__always)
    static func load(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt64 {
        UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    /// Whether two byte strings of the same length are equal (inline 8-byte compares: these are short names).
    @inlinable
    public static func equal(_ lhs: UnsafeRawBufferPointer, _ rhs: UnsafeRawBufferPointer) -> Bool {
        let count = lhs.count
        guard count == rhs.count else { return false }
        var offset = 0
        while offset + 8 <= count {
            if lhs.loadUnaligned(fromByteOffset: offset, as: UInt64.self) != rhs.loadUnaligned(fromByteOffset: offset, as: UInt64.self) {
                return false
            }
            offset += 8
        }
        while offset < count {
            if lhs[offset] != rhs[offset] { return false }
            offset += 1
        }
        return true
    }

    /// Hashes `bytes` with `seed`.
    @inlinable
    public static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt64) -> UInt64 {
        let count = bytes.count
        var state = seed ^ mum(seed ^ p0, UInt64(count) ^ p1)
        var offset = 0
        while offset + 16 <= count {
            state = mum(load(bytes, offset) ^ p1, load(bytes, offset + 8) ^ state)
            offset += 16
        }
        var a: UInt64 = 0, b: UInt64 = 0
        let rest = count - offset
        if rest >= 8 {
            a = load(bytes, offset)
            b = load(bytes, count - 8)
        } else {
            for index in 0..<rest { a |= UInt64(bytes[offset + index]) << (8 * UInt64(index)) }
        }
        return mum(p1 ^ UInt64(count), mum(a ^ p1, b ^ state))
    }
}

/// A totals key as symbols (`UsageKey` with its names interned).
public struct InternedKey: Hashable, Sendable {
    /// The billed tenant.
    public var tenant: Symbol
    /// The ferrisDX instance, or `Symbol.wildcard`.
    public var instance: Symbol
    /// The platform component, or `Symbol.wildcard`.
    public var component: Symbol
    /// The metric.
    public var metric: Symbol

    /// Creates one.
    @inlinable
    public init(tenant: Symbol, instance: Symbol, component: Symbol, metric: Symbol) {
        self.tenant = tenant
        self.instance = instance
        self.component = component
        self.metric = metric
    }
}

extension Symbols {
    /// The key with its names.
    public subscript(key: InternedKey) -> UsageKey {
        UsageKey(tenant: self[key.tenant], instance: self[key.instance], component: self[key.component], metric: self[key.metric])
    }
}
