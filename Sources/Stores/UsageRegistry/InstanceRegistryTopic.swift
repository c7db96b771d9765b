import Kafka
import Logging
import UsageStandard

/// The instance topic on Kafka: creating it and publishing instance events to it. Blocking: call from a dedicated
/// thread.
public enum InstanceRegistryTopic {
    /// The topic's configuration: compacted (the latest event per instance stays), and superseded versions are kept
    /// for 35 days (`min.compaction.lag.ms`) so that re-accounting a past range can see the registry as it was.
    public static let configs = [
        "cleanup.policy": "compact",
        "min.compaction.lag.ms": "\(35 * 86_400_000)",
        "delete.retention.ms": "\(35 * 86_400_000)",
    ]

    /// Creates `topic` with `configs` (one partition: the registry is small and read whole) unless it exists.
    public static func create(kafka: KafkaConfiguration, topic: String = UsageStandard.instanceTopic, logger: Logger) throws {
        try KafkaAdmin(configuration: kafka, logger: logger)
            .createTopics([KafkaNewTopic(name: topic, partitions: 1, configs: configs)])
    }

    /// Publishes `events` (structured mode, key = instance id) with an idempotent producer and waits until the
    /// broker has them.
    public static func publish(_ events: [InstanceEvent], kafka: KafkaConfiguration,
                               topic: String = UsageStandard.instanceTopic, logger: Logger) throws {
        try create(kafka: kafka, topic: topic, logger: logger)
        let producer = try KafkaProducer(configuration: kafka, logger: logger)
        for event in events {
            let encoded = InstanceEventEncoder.encode(event)
            try producer.send(topic: topic, key: encoded.key, value: encoded.value,
                              headers: encoded.headers.map { KafkaHeader(name: $0.name, string: $0.value) },
                              timestampMilliseconds: event.time.milliseconds)
        }
        try producer.awaitDeliveries()
    }
}
