import Kafka
import Logging
import Synchronization
import UsageStandard

/// Reads the compacted instance topic (`ferris.instances`) from its beginning and then follows it, applying each
/// record to an `InstanceRegistry`. Outside any consumer group: every reader sees the whole registry.
///
/// `run` blocks (librdkafka): call it from a dedicated thread. `registry`, `version` and `isCaughtUp` may be read from
/// any thread while it runs. The registry it shows is whole: after a restart of `run` (e.g. the broker was
/// unreachable), the topic is read again into a new registry, which replaces the shown one only once it is caught up.
public final class InstanceRegistryFollower: Sendable {
    /// What happened to one record: the registry change, or why it was refused (dead-letter it with
    /// `error.reason.rawValue` as `ferris-dlq-reason`).
    public typealias Outcome = Result<InstanceRegistry.Change, InstanceEventError>

    private struct State {
        var registry = InstanceRegistry()
        var version = 0
        var caughtUp = false
        var applied = 0
        var rejected: [String: Int] = [:]
    }

    private let kafka: KafkaConfiguration
    /// The instance topic.
    public let topic: String
    private let logger: Logger
    private let state = Mutex(State())

    /// Creates a follower of `topic` on the cluster `kafka` (`bootstrap.servers` and security properties).
    public init(kafka: KafkaConfiguration, topic: String = UsageStandard.instanceTopic, logger: Logger) {
        self.kafka = kafka
        self.topic = topic
        self.logger = logger
    }

    /// The registry: as read at the first catch-up, and every record applied since (empty before).
    public var registry: InstanceRegistry { state.withLock { $0.registry } }
    /// Grows each time `registry` changes: compare it to tell whether to look again.
    public var version: Int { state.withLock { $0.version } }
    /// Whether the topic has been read to the end it had when `run` first started.
    public var isCaughtUp: Bool { state.withLock { $0.caughtUp } }
    /// Records applied, and records refused per reason code.
    public var counts: (applied: Int, rejected: [String: Int]) { state.withLock { ($0.applied, $0.rejected) } }

    /// Creates the topic if it is missing, reads it to its end (then calls `onCaughtUp` once per call) and follows it
    /// until `shouldStop` returns true. Every record is decoded and applied; `onRecord` sees the record (valid only
    /// during the call) and the outcome, e.g. to dead-letter refused records or to act on a new instance (after a
    /// restart of `run`, it sees every record again). A refused record never stops the follower.
    public func run(shouldStop: () -> Bool,
                    onRecord: (KafkaRecord, Outcome) throws -> Void = { _, _ in },
                    onCaughtUp: () throws -> Void = {}) throws {
        try InstanceRegistryTopic.create(kafka: kafka, topic: topic, logger: logger)
        let partitionCount = try KafkaAdmin(configuration: kafka, logger: logger).topics()[topic] ?? 1
        var config = kafka
        config["group.id"] = "ferris-usage-registry-reader"  // required by librdkafka; nothing is committed
        config["enable.auto.commit"] = "false"
        config["enable.partition.eof"] = "true"
        config["isolation.level"] = "read_committed"
        let consumer = try KafkaConsumer(configuration: config, logger: logger) { _, _ in [:] }
        defer { consumer.close() }
        let partitions = (0..<partitionCount).map { KafkaTopicPartition(topic: topic, partition: $0) }
        try consumer.assign(Dictionary(uniqueKeysWithValues: partitions.map { ($0, KafkaOffset.beginning) }))
        // Until caught up, records go into a registry of this run's own; then it becomes the shown one.
        var fresh: InstanceRegistry? = InstanceRegistry()
        while !shouldStop() {
            _ = try consumer.poll(timeoutMilliseconds: 200) { record in
                try onRecord(record, apply(record, to: &fresh))
            }
            if let caughtUp = fresh, consumer.hasReachedEnd(of: partitions) {
                fresh = nil
                state.withLock {
                    $0.registry = caughtUp
                    $0.version += 1
                    $0.caughtUp = true
                }
                logger.info("instance registry read", metadata: ["topic": "\(topic)", "instances": "\(caughtUp.instances.count)"])
                try onCaughtUp()
            }
        }
    }

    /// The registry read once to the topic's current end, with every version still on the topic (for a replay, which
    /// decides with `InstanceRegistry.instance(_:at:)` as the registry was when the usage happened).
    public static func read(kafka: KafkaConfiguration, topic: String = UsageStandard.instanceTopic,
                            logger: Logger) throws -> InstanceRegistry {
        let follower = InstanceRegistryFollower(kafka: kafka, topic: topic, logger: logger)
        try follower.run(shouldStop: { follower.isCaughtUp })
        return follower.registry
    }

    /// Decodes one record of the instance topic.
    public static func decode(_ record: KafkaRecord) -> Result<InstanceRecord, InstanceEventError> {
        InstanceEventDecoder.decode(key: record.key.map { Array($0) }, value: record.value.map { Array($0) },
                                    headers: record.headers.map { (name: $0.name, value: $0.value) })
    }

    private func apply(_ record: KafkaRecord, to fresh: inout InstanceRegistry?) -> Outcome {
        let recordTime = Timestamp(milliseconds: record.timestampMilliseconds ?? 0)
        let outcome: Outcome
        switch Self.decode(record) {
        case .failure(let error):
            outcome = .failure(error)
        case .success(let decoded):
            if var registry = fresh {
                fresh = nil  // one copy of the registry, mutated in place
                outcome = registry.apply(decoded, recordTime: recordTime)
                fresh = registry
            } else {
                outcome = state.withLock { state in
                    let result = state.registry.apply(decoded, recordTime: recordTime)
                    if case .success = result { state.version += 1 }
                    return result
                }
            }
        }
        switch outcome {
        case .success(let change):
            state.withLock { $0.applied += 1 }
            log(change)
        case .failure(let error):
            state.withLock { $0.rejected[error.reason.rawValue, default: 0] += 1 }
            logger.warning("instance event refused", metadata: [
                "reason": "\(error.reason.rawValue)", "problem": "\(error)", "partition": "\(record.partition)",
                "offset": "\(record.offset)"])
        }
        return outcome
    }

    private func log(_ change: InstanceRegistry.Change) {
        switch change {
        case .created(let instance):
            logger.info("instance created", metadata: ["instance": "\(instance.id)", "tenant": "\(instance.tenant)"])
        case .updated(_, let instance):
            logger.info("instance updated", metadata: ["instance": "\(instance.id)", "tenant": "\(instance.tenant)"])
        case .deleted(let instance):
            logger.info("instance deleted", metadata: ["instance": "\(instance.id)", "tenant": "\(instance.tenant)"])
        case .unchanged:
            break
        }
    }
}
