import Kafka
import UsageStages
import UsageStandard

/// A simulated record: where it goes and what it carries.
public struct SimulatedRecord: Sendable {
    /// Destination topic (one per instance).
    public var topic: String
    /// Record key: the tenant (the standard's partition key).
    public var key: String
    /// The event.
    public var event: UsageEvent
    /// How it is laid out.
    public var mode: CloudEventMode

    /// Creates a record.
    public init(topic: String, key: String, event: UsageEvent, mode: CloudEventMode) {
        self.topic = topic
        self.key = key
        self.event = event
        self.mode = mode
    }

    /// The record to produce.
    public func outgoing() -> KafkaOutgoingRecord {
        let encoded = UsageEventEncoder.encode(event, mode: mode)
        return KafkaOutgoingRecord(topic: topic, key: Array(key.utf8), value: encoded.value,
                                   headers: encoded.headers.map { KafkaHeader(name: $0.name, string: $0.value) })
    }
}

/// Deterministic usage for the seed scenarios: same seed and day, same events.
public struct UsageSimulator: Sendable {
    /// The seed.
    public var seed: UInt64
    /// The first hour simulated (UTC, aligned to the hour).
    public var start: Timestamp
    /// How many hours are simulated.
    public var hours: Int
    /// Samples per component and metric per hour.
    public var samplesPerHour: Int

    /// The CloudEvents mode of every event; nil = each event at random (half binary, half structured).
    public var mode: CloudEventMode?

    /// Creates a simulator for `hours` hours from `start` (rounded down to the hour).
    public init(seed: UInt64, start: Timestamp, hours: Int = 24, samplesPerHour: Int = 12, mode: CloudEventMode? = nil) {
        self.mode = mode
        self.seed = seed
        self.start = Timestamp(milliseconds: start.milliseconds / 3_600_000 * 3_600_000)
        self.hours = hours
        self.samplesPerHour = samplesPerHour
    }

    /// The events of `scenarios`, per instance in event-time order with some jitter (as emitters deliver them).
    /// Some events sit exactly on hour boundaries (`HH:00:00.000` and `HH:59:59.999`).
    public func records(for scenarios: [Scenario]) -> [SimulatedRecord] {
        var rng = SplitMix64(seed: seed)
        var records: [SimulatedRecord] = []
        var shared: [(time: Int64, record: SimulatedRecord)] = []
        for scenario in scenarios {
            for instance in scenario.instances {
                var instanceRecords: [(time: Int64, record: SimulatedRecord)] = []
                var sequence = 0
                for hour in 0..<hours {
                    let hourStart = start.milliseconds + Int64(hour) * 3_600_000
                    for component in instance.components {
                        for metric in component.metrics {
                            let samplesPerHour = scenario.samplesPerHour ?? self.samplesPerHour
                            for sample in 0..<samplesPerHour {
                                let offsetInHour: Int64
                                switch rng.next() % 16 {
                                case 0: offsetInHour = 0
                                case 1: offsetInHour = 3_599_999
                                default: offsetInHour = Int64(sample) * 3_600_000 / Int64(samplesPerHour)
                                    + Int64(rng.next() % UInt64(3_600_000 / samplesPerHour))
                                }
                                // Quantities with up to 3 decimals, 50 % to 150 % of typical.
                                let factor = 0.5 + Double(rng.next() % 1001) / 1000
                                let micros = metric.whole ? Int64((metric.typical * factor).rounded()) * 1_000_000
                                    : Int64((metric.typical * factor * 1000).rounded()) * 1000
                                sequence += 1
                                let event = UsageEvent(
                                    id: "\(instance.name)-\(sequence)",
                                    source: "/ferris/\(instance.provider)/\(instance.name)/\(component.name)",
                                    time: Timestamp(milliseconds: hourStart + offsetInHour),
                                    tenant: instance.tenant, instance: instance.name, component: component.name,
                                    metric: metric.name, quantity: Quantity(micros: micros), unit: metric.unit,
                                    scope: component.scope, provider: instance.provider)
                                let coin = rng.next() % 2 == 0
                                let mode = self.mode ?? (coin ? .binary : .structured)
                                // Delivery jitter: up to 2 minutes out of order.
                                let jitter = Int64(rng.next() % 120_000)
                                instanceRecords.append((event.time.milliseconds + jitter,
                                                        SimulatedRecord(topic: instance.topic, key: instance.tenant, event: event, mode: mode)))
                            }
                        }
                    }
                }
                instanceRecords.sort { $0.time < $1.time }
                if instance.sharedTopic == nil {
                    records.append(contentsOf: instanceRecords.map(\.record))
                } else {
                    shared.append(contentsOf: instanceRecords)
                }
            }
        }
        // Instances sharing a topic deliver side by side, not one day after the other.
        shared.sort { $0.time < $1.time }
        return records + shared.map(\.record)
    }

    /// Produces `records` and waits until the broker has acknowledged all of them.
    public static func produce(_ records: [SimulatedRecord], with producer: KafkaProducer,
                               progress: ((Int) -> Void)? = nil) throws(KafkaError) {
        for (index, record) in records.enumerated() {
            try producer.send(record.outgoing())
            if index % 100_000 == 99_999 { progress?(index + 1) }
        }
        try producer.awaitDeliveries()
        progress?(records.count)
    }
}

/// The totals a correct accounting must produce, computed directly from the events (not with the stage library).
public struct ExpectedTotals: Sendable, Equatable {
    /// One expected total.
    public struct Entry: Sendable, Equatable {
        /// Summed quantity.
        public var quantity: Quantity
        /// Unit.
        public var unit: String
        /// Number of events.
        public var eventCount: Int64
        /// The host provider the events named, if any.
        public var provider: String?

        /// Creates an entry.
        public init(quantity: Quantity, unit: String, eventCount: Int64, provider: String? = nil) {
            self.quantity = quantity
            self.unit = unit
            self.eventCount = eventCount
            self.provider = provider
        }
    }

    /// Totals by key and window start (milliseconds).
    public var entries: [ExpectedKey: Entry] = [:]

    /// A key and hourly window.
    public struct ExpectedKey: Hashable, Sendable, Comparable {
        /// The usage key.
        public var key: UsageKey
        /// Window start, UTC.
        public var windowStart: Timestamp

        /// Creates a key.
        public init(key: UsageKey, windowStart: Timestamp) {
            self.key = key
            self.windowStart = windowStart
        }

        public static func < (lhs: ExpectedKey, rhs: ExpectedKey) -> Bool {
            (lhs.key, lhs.windowStart) < (rhs.key, rhs.windowStart)
        }
    }

    /// Computes the expected hourly sums of the events in `records` that no scope rule excludes (`scope: out`
    /// always excludes), keyed by `key`.
    public init(records: [SimulatedRecord], scope: [ScopeRule] = [], key fields: KeyFields = .standard) {
        for record in records {
            let event = record.event
            guard event.scope == .billable, !scope.contains(where: { $0.excludes(event) }) else { continue }
            let hour = Timestamp(milliseconds: event.time.milliseconds / 3_600_000 * 3_600_000)
            let usageKey = UsageKey(tenant: event.tenant, instance: fields.instance ? event.instance : "*",
                                    component: fields.component ? event.component : "*", metric: event.metric)
            let key = ExpectedKey(key: usageKey, windowStart: hour)
            var entry = entries[key] ?? Entry(quantity: .zero, unit: event.unit, eventCount: 0, provider: event.provider)
            entry.quantity = Quantity(micros: entry.quantity.micros + event.quantity.micros)
            entry.eventCount += 1
            entries[key] = entry
        }
    }

    /// Creates expected totals from entries.
    public init(entries: [ExpectedKey: Entry]) { self.entries = entries }

    /// Compares with actual totals and describes every difference (empty when equal).
    public func differences(from actual: [UsageTotal]) -> [String] {
        var seen: [ExpectedKey: UsageTotal] = [:]
        var problems: [String] = []
        for total in actual {
            let key = ExpectedKey(key: total.key, windowStart: total.windowStart)
            if seen[key] != nil { problems.append("\(total.key) \(total.windowStart): appears twice") }
            seen[key] = total
        }
        for (key, entry) in entries.sorted(by: { $0.key < $1.key }) {
            guard let total = seen[key] else {
                problems.append("\(key.key) \(key.windowStart): missing (expected \(entry.quantity) \(entry.unit))")
                continue
            }
            if total.quantity != entry.quantity || total.eventCount != entry.eventCount || total.unit != entry.unit
                || (entry.provider != nil && total.provider != entry.provider) {
                problems.append("\(key.key) \(key.windowStart): got \(total.quantity) \(total.unit) from \(total.eventCount) events, expected \(entry.quantity) \(entry.unit) from \(entry.eventCount)")
            }
        }
        for key in seen.keys where entries[key] == nil {
            problems.append("\(key.key) \(key.windowStart): unexpected total")
        }
        return problems
    }

    /// JSON lines, one total per line, sorted (the `simulate --expected` file format).
    public func jsonLines() -> String {
        entries.sorted { $0.key < $1.key }.map { key, entry in
            var json = JSONWriter()
            json.beginObject()
            json.field("tenant", key.key.tenant)
            json.field("instance", key.key.instance)
            json.field("component", key.key.component)
            json.field("metric", key.key.metric)
            json.field("windowStart", key.windowStart.rfc3339)
            json.field("quantity", raw: entry.quantity.description)
            json.field("unit", entry.unit)
            json.field("eventCount", raw: String(entry.eventCount))
            json.endObject()
            return String(decoding: json.bytes, as: UTF8.self)
        }.joined(separator: "\n") + "\n"
    }
}

/// A small, fast, seedable generator (SplitMix64), so that simulations are reproducible everywhere.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// Creates a generator from a seed.
    public init(seed: UInt64) { state = seed }

    /// The next value.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
