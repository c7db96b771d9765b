import Foundation
import Kafka
import Logging
import UsageStandard

/// The collector's Kafka side: usage events to the instances' event topics (binary mode, key = tenant, idempotent
/// producer) and cursors to a compacted topic (key = instance id). Every method blocks (librdkafka): call them
/// through `Blocking.run`.
final class EventPublisher: @unchecked Sendable {
    /// The cursor topic's configuration: compacted; a tombstone removes an instance's cursor.
    static let cursorTopicConfigs = ["cleanup.policy": "compact", "segment.ms": "600000", "min.cleanable.dirty.ratio": "0.1"]
    /// The event topics' configuration, as the standard requires (retained 35 days for re-accounting).
    static let eventTopicConfigs = ["retention.ms": "\(35 * 86_400_000)"]

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

    /// The stored cursors: instance id -> start of its last delivered interval (ms).
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
            guard case .success(let json) = JSONValue.parse(Array(value)), let text = json["lastIntervalStart"]?.string,
                  let time = Timestamp.parse(text) else {
                logger.warning("a cursor record is unreadable; ignored", metadata: ["instance": "\(key)"])
                return
            }
            cursors[key] = time.milliseconds
        }
        return cursors
    }

    /// Sends `events` to their instance's topic (created if missing) and waits until the broker has them all.
    func publish(_ events: [UsageEvent], instance: String) throws {
        let topic = UsageStandard.eventTopic(instance: instance)
        if !knownTopics.contains(topic) {
            try KafkaAdmin(configuration: kafka, logger: logger)
                .createTopics([KafkaNewTopic(name: topic, partitions: 3, configs: Self.eventTopicConfigs)])
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
    func storeCursor(instance: String, lastStart: Int64, intervalMilliseconds: Int64) throws {
        let value = JSONValue.object([("instance", .string(instance)),
                                      ("lastIntervalStart", .string(Timestamp(milliseconds: lastStart).rfc3339)),
                                      ("intervalSeconds", .number(String(intervalMilliseconds / 1000)))]).bytes
        try producer.send(topic: cursorTopic, key: Array(instance.utf8), value: value)
        try producer.awaitDeliveries(timeoutMilliseconds: 30_000)
    }
}

/// Runs blocking work (librdkafka calls) on a thread of its own, never on Swift's cooperative pool.
enum Blocking {
    static func run<T: Sendable>(_ name: String, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { continuation.resume(with: Result { try body() }) }
            thread.name = name
            thread.start()
        }
    }
}
