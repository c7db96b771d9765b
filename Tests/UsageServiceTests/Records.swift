import Kafka
import Testing
import UsageStages
import UsageStandard
import UsageTopology
@testable import UsageService

let hour: Int64 = 3_600_000
let base: Int64 = 1_795_611_600_000 // 2026-11-25T13:00:00Z
let tp0 = KafkaTopicPartition(topic: "ferris.events.acme", partition: 0)
let tp1 = KafkaTopicPartition(topic: "ferris.events.acme", partition: 1)

/// Headers as owned (name, value) pairs.
struct TestHeaders: CloudEventHeaderSource {
    var list: [(name: String, value: String)]
    func forEachHeader(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer?) -> Void) {
        for header in list {
            Array(header.name.utf8).withUnsafeBytes { name in Array(header.value.utf8).withUnsafeBytes { body(name, $0) } }
        }
    }
}

/// A record of the standard, owned, to hand to the state as a borrowed `IncomingRecord`.
struct TestRecord {
    var headers: TestHeaders
    var key: [UInt8]?
    var value: [UInt8]
    var offset: Int64

    /// A binary-mode usage event at `ms` (quantity in micros), keyed by its tenant.
    init(_ ms: Int64, offset: Int64, quantity: Int64 = 1_000_000, tenant: String = "acme", id: String? = nil, keyed: Bool = true) {
        let event = UsageEvent(id: id ?? "e\(offset)", source: "/ferris/gcp/acme/kafka", time: Timestamp(milliseconds: ms),
                               tenant: tenant, instance: "acme-gcp", component: "kafka", metric: "cpu_core_seconds",
                               quantity: Quantity(micros: quantity), unit: "Core-Seconds")
        let encoded = UsageEventEncoder.encode(event, mode: .binary)
        headers = TestHeaders(list: encoded.headers)
        key = keyed ? Array(tenant.utf8) : nil
        value = encoded.value
        self.offset = offset
    }

    /// A record that is not a usage event.
    init(garbageAt offset: Int64) {
        headers = TestHeaders(list: [("content-type", "application/json")])
        key = Array("acme".utf8)
        value = Array("not json".utf8)
        self.offset = offset
    }
}

/// The standard topology's flow over test headers.
func makeTestFlow(_ tp: KafkaTopicPartition) -> some EmittingStage<IncomingRecord<TestHeaders>, Void> {
    Topology.standard.makeFlow(partition: "\(tp.topic):\(tp.partition)", headers: TestHeaders.self)
}

extension AccountingState where Headers == TestHeaders {
    /// Reads `record` on `tp` (which must be assigned).
    mutating func read(_ record: TestRecord, on tp: KafkaTopicPartition = tp0) -> RecordAction {
        guard let slot = slot(of: tp) else { fatalError("\(tp) is not assigned") }
        return read(record, slot: slot)
    }

    /// Reads `record` as a record of the partition in `slot` (assigned or not).
    mutating func read(_ record: TestRecord, slot: Int) -> RecordAction {
        record.value.withUnsafeBytes { value in
            func run(_ key: UnsafeRawBufferPointer?) -> RecordAction {
                recordRead(IncomingRecord(headers: record.headers, key: key, value: value, timestamp: nil, offset: record.offset),
                           slot: slot)
            }
            guard let key = record.key else { return run(nil) }
            return key.withUnsafeBytes { run($0) }
        }
    }

    /// Reads events at the given times on `tp`, at consecutive offsets from `from`.
    mutating func read(times: [Int64], from offset: Int64 = 0, on tp: KafkaTopicPartition = tp0) {
        for (index, time) in times.enumerated() { _ = read(TestRecord(time, offset: offset + Int64(index)), on: tp) }
    }

    /// The plan of the next commit, or nil if there is none.
    mutating func plan(highWatermark: Int64? = nil) -> CommitPlan? {
        switch commitDue(highWatermark: { _ in highWatermark }) {
        case .commit(let plan): return plan
        case .nothing, .fail: return nil
        }
    }

    /// Restores from `checkpoints` (after `assigned` asked for them): where each partition starts and the checkpoint
    /// each resumes from; records an issue (and returns nothing) if the state refuses.
    mutating func restored(_ checkpoints: [KafkaTopicPartition: [Int64: Checkpoint]])
        -> (starts: [KafkaTopicPartition: Int64], resumed: [(KafkaTopicPartition, Checkpoint?)]) {
        switch restore(checkpoints) {
        case .start(let starts, let resumed):
            return (starts, resumed)
        case .fail(let reason):
            Issue.record("restore refused: \(reason)")
            return ([:], [])
        }
    }

    /// Whether a send or commit failed (or an illegal event came): the state is poisoned.
    var isFailed: Bool {
        if case .failed = transaction { return true }
        return false
    }
}

extension AccountingState.RecordAction {
    var isNone: Bool { if case .none = self { return true } else { return false } }
}
