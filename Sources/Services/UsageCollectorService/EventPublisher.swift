import Foundation
import Kafka
import Logging
import UsageRegistry
import UsageStandard

/// The collector's Kafka side: usage events to the instances' event topics (binary mode, key = tenant, idempotent
/// producer) and cursors to a compacted topic (key = instance id). Every method blocks (librdkafka): call them
/// through `DedicatedThread.run`, one at a time.
final class EventPublisher: @unchecked Sendable {
    /// The cursor topic's configuration: compacted, so the latest cursor per instance stays.
    static let cursorTopicConfigs = ["cleanup.policy": "compact"]

    private let kafka: KafkaConfiguration
    private let cursorTopic: String
    private let logger: Logger
    private let producer: KafkaProducer
    private var knownTopics: Set<String> = []

    init(kafka: KafkaConfiguration, cursorTopic: String, logger: Logger) throws {
        self.kafka = kafka
        self.cursorTopic = cursorTopic
        self.logger = logger
        var config = kafka
        config["enable.idempotence"] = "true"
        config["acks"] = "all"
        self.producer = try KafkaProducer(configuration: config, logger: logger)
    }

    /// The stored cursors: instance id -> collected until (ms since the epoch).
    func loadCursors() throws -> [String: Int64] {
        try KafkaAdmin(configuration: kafka, logger: logger)
            .createTopics([KafkaNewTopic(name: cursorTopic, partitions: 1, configs: Self.cursorTopicConfigs)])
        var cursors: [String: Int64] = [:]
        try KafkaTopicReader.readAll(kafka, topic: cursorTopic, logger: logger) { record in
            guard let key = record.key.map({ String(decoding: $0, as: UTF8.self) }) else { return }
            guard let value = record.value else {
                cursors[key] = nil
                return
            }
            guard let until = Self.collectedUntil(Array(value)) else {
                // Never silently: an unreadable cursor means the instance starts again from its registry time (within
                // the backfill), and its repeated events are dropped by the service as duplicates.
                logger.error("a cursor record is unreadable; the instance is collected as if it had none",
                             metadata: ["instance": "\(key)", "topic": "\(cursorTopic)"])
                return
            }
            cursors[key] = until
        }
        return cursors
    }

    /// The cursor record's value: `{"instance": ..., "collectedUntil": "<RFC 3339>"}`.
    static func cursorValue(instance: String, collectedUntil: Int64) -> [UInt8] {
        JSONValue.object([("instance", .string(instance)),
                          ("collectedUntil", .string(Timestamp(milliseconds: collectedUntil).rfc3339))]).bytes
    }

    static func collectedUntil(_ value: [UInt8]) -> Int64? {
        guard case .success(let json) = JSONValue.parse(value), let text = json["collectedUntil"]?.string else { return nil }
        return Timestamp.parse(text)?.milliseconds
    }

    /// Sends `events` to their instance's topic (created if missing) and waits until the broker has them all.
    func publish(_ events: [UsageEvent], instance: String) throws {
        let topic = InstanceEventTopics.name(of: instance)
        if !knownTopics.contains(topic) {
            try InstanceEventTopics.create(for: [instance], kafka: kafka, logger: logger)
            knownTopics.insert(topic)
        }
        for event in events {
            let encoded = UsageEventEncoder.encode(event, mode: .binary)
            try producer.send(topic: topic, key: Array(event.tenant.utf8), value: encoded.value,
                              headers: encoded.headers.map { KafkaHeader(name: $0.name, string: $0.value) })
        }
        try producer.awaitDeliveries(timeoutMilliseconds: 30_000)
    }

    /// Stores the cursor of `instance` and waits until the broker has it.
    func storeCursor(instance: String, collectedUntil: Int64) throws {
        try producer.send(topic: cursorTopic, key: Array(instance.utf8),
                          value: Self.cursorValue(instance: instance, collectedUntil: collectedUntil))
        try producer.awaitDeliveries(timeoutMilliseconds: 30_000)
    }
}
