import Kafka
import Logging
import UsageStandard

/// The instances' event topics, `ferris.events.<instance>`: created when an instance appears in the registry (by the
/// collector before it publishes, and by the accounting service when it learns of the instance), never deleted.
/// Blocking: call from a dedicated thread.
public enum InstanceEventTopics {
    /// Partitions of a new event topic: records are keyed by tenant, and an instance has few tenants (usually one).
    public static let partitions: Int32 = 3
    /// The standard's retention: 35 days, so that every accounted event can be replayed for re-accounting.
    public static let configs = ["retention.ms": "\(35 * 86_400_000)", "cleanup.policy": "delete"]

    /// The event topic of `instance`.
    public static func name(of instance: String) -> String { UsageStandard.eventTopic(instance: instance) }

    /// Creates the event topics of `instances` that do not exist yet (an existing topic is left as it is).
    public static func create(for instances: [String], kafka: KafkaConfiguration, logger: Logger) throws(KafkaError) {
        try KafkaAdmin(configuration: kafka, logger: logger)
            .createTopics(instances.map { KafkaNewTopic(name: name(of: $0), partitions: partitions, configs: configs) })
    }
}
