import Foundation
import Kafka
import Logging
import UsageStages
import UsageStandard
import UsageTopology

/// Everything the pipeline needs to know: the topology (flow, sinks, policy) plus connections.
public struct UsagePipelineConfiguration: Sendable {
    /// librdkafka properties shared by the consumer and the producer (at least `bootstrap.servers`;
    /// SASL/TLS settings go here too).
    public var kafka: KafkaConfiguration
    /// The PostgreSQL connection URL; nil: totals go to Kafka only (billing reads the totals topic).
    public var databaseURL: String?
    /// The accounting flow.
    public var topology: Topology
    /// How often totals are emitted and offsets committed.
    public var commitIntervalMilliseconds: Int64
    /// A stable name for this replica (e.g. its pod name), used as the consumer's `group.instance.id` (static
    /// membership): a restarted replica takes its partitions back without waiting for the group to time the old
    /// process out. Must differ between replicas running at the same time. Nil: dynamic membership.
    public var memberID: String?
    /// The instance registry's compacted topic (standard section 11): the service follows it, creates each
    /// registered instance's event topic and drops the usage of links an instance's registration marks not
    /// accounted. Nil (the default here; `ferris-usage run` follows `ferris.instances` unless told otherwise): no
    /// registry, the topology's scope rules only.
    public var instanceTopic: String?

    /// Creates a configuration; the optional arguments override the topology's values.
    public init(brokers: String, databaseURL: String?, topology: Topology = .standard, groupID: String? = nil,
                topicPattern: String? = nil, totalsTopic: String? = nil, deadLetterTopic: String? = nil,
                totalsTable: String? = nil, commitIntervalMilliseconds: Int64 = 1_000, kafka: [String: String] = [:]) {
        var properties = kafka
        properties["bootstrap.servers"] = brokers
        self.kafka = KafkaConfiguration(properties)
        self.databaseURL = databaseURL
        var topology = topology
        if let groupID { topology.source.group = groupID }
        if let topicPattern { topology.source.topics = topicPattern }
        if let totalsTopic { topology.sinks.totalsTopic = totalsTopic }
        if let deadLetterTopic { topology.sinks.deadLetterTopic = deadLetterTopic }
        if let totalsTable { topology.sinks.table = totalsTable }
        self.topology = topology
        self.commitIntervalMilliseconds = commitIntervalMilliseconds
        self.memberID = nil
        self.instanceNonce = UUID().uuidString
    }

    private let instanceNonce: String

    /// The consumer group; replicas with the same group share the partitions.
    public var groupID: String { topology.source.group }
    /// The compacted topic totals are written to.
    public var totalsTopic: String { topology.sinks.totalsTopic }
    /// Where rejected and late records go.
    public var deadLetterTopic: String { topology.sinks.deadLetterTopic }
    /// The compacted topic holding each input partition's checkpoint (written in the totals' transactions).
    public var checkpointTopic: String { totalsTopic + ".checkpoints" }
    /// The producer's `transactional.id`: stable across restarts of one replica when `memberID` is set, so that a
    /// restart fences the crashed process and aborts its open transaction at once (otherwise the broker aborts it
    /// after `transaction.timeout.ms`). Zombies are also fenced through the consumer group generation.
    public var transactionalID: String { "ferris-usage.\(groupID).\(memberID ?? instanceNonce)" }
    /// The consumer group of the PostgreSQL sink, which reads the totals topic.
    public var sinkGroupID: String { groupID + ".postgres" }
    /// The CloudEvents `source` of emitted totals.
    public var totalsSource: String { "/ferris-usage/\(groupID)" }

    var consumerConfiguration: KafkaConfiguration {
        var config = kafka.withDefaults([
            "session.timeout.ms": "6000",
            "heartbeat.interval.ms": "500",
            "max.poll.interval.ms": "60000",
            "topic.metadata.refresh.interval.ms": "5000",
            "partition.assignment.strategy": "range,roundrobin",
            "isolation.level": "read_committed",
            // Larger fetches keep the loop busy while it is behind: with librdkafka's defaults (1 MiB per partition,
            // 100,000 queued messages) a consumer of small records waited on the broker most of the time (measured:
            // 134,000 records/s with the defaults, 402,000 with these; benchmarks/README.md). The prefetch queue stays
            // bounded by queued.max.messages.kbytes (64 MiB) whatever the partition count.
            "max.partition.fetch.bytes": "10485760",
            "queued.min.messages": "1000000",
        ])
        // Partition ends are how the loops tell they caught up (`KafkaConsumer.hasReachedEnd`).
        config["enable.partition.eof"] = "true"
        config["group.id"] = groupID
        if let memberID { config["group.instance.id"] = memberID }
        return config
    }

    /// Creates the totals, dead-letter and checkpoint topics unless they exist.
    func createOutputTopics(logger: Logger) throws {
        let admin = try KafkaAdmin(configuration: kafka, logger: logger)
        try admin.createTopics([
            KafkaNewTopic(name: totalsTopic, partitions: 3, configs: ["cleanup.policy": "compact"]),
            KafkaNewTopic(name: deadLetterTopic, partitions: 3,
                          configs: ["cleanup.policy": "delete", "retention.ms": "\(35 * 86_400_000)"]),
            KafkaNewTopic(name: checkpointTopic, partitions: 1,
                          configs: ["cleanup.policy": "compact", "segment.ms": "600000", "min.cleanable.dirty.ratio": "0.1"]),
        ])
    }
}
