import Kafka
import UsageStages
import UsageStandard

/// Everything the pipeline needs to know.
public struct UsagePipelineConfiguration: Sendable {
    /// librdkafka properties shared by the consumer and the producer (at least `bootstrap.servers`;
    /// SASL/TLS settings go here too).
    public var kafka: KafkaConfiguration
    /// The consumer group; replicas with the same group share the partitions.
    public var groupID: String
    /// The instance event topics, as a regular expression (librdkafka pattern subscription).
    public var topicPattern: String
    /// The compacted topic totals are written to.
    public var totalsTopic: String
    /// Where rejected and late records go, unchanged, with headers saying why.
    public var deadLetterTopic: String
    /// The PostgreSQL connection URL.
    public var databaseURL: String
    /// The PostgreSQL table for totals.
    public var totalsTable: String
    /// The window definition (hourly by default).
    public var windows: TumblingWindows
    /// How long after a window's end its events are still accepted.
    public var graceMilliseconds: Int64
    /// How often totals are emitted and offsets committed.
    public var commitIntervalMilliseconds: Int64
    /// What the decoder accepts: metric registry, accounting horizon, clock skew.
    public var policy: UsageEventDecoder.Policy

    /// Creates a configuration with the defaults of the ferris namespace.
    public init(brokers: String, databaseURL: String, groupID: String = "ferris-usage",
                topicPattern: String = #"^ferris\.events\..+"#, totalsTopic: String = "ferris.usage.totals",
                deadLetterTopic: String = "ferris.usage.deadletter",
                totalsTable: String = "usage_totals", windows: TumblingWindows = .hourly,
                graceMilliseconds: Int64 = 3_600_000, commitIntervalMilliseconds: Int64 = 1_000,
                policy: UsageEventDecoder.Policy = .init(), kafka: [String: String] = [:]) {
        var properties = kafka
        properties["bootstrap.servers"] = brokers
        self.kafka = KafkaConfiguration(properties)
        self.groupID = groupID
        self.topicPattern = topicPattern
        self.totalsTopic = totalsTopic
        self.deadLetterTopic = deadLetterTopic
        self.databaseURL = databaseURL
        self.totalsTable = totalsTable
        self.windows = windows
        self.graceMilliseconds = graceMilliseconds
        self.commitIntervalMilliseconds = commitIntervalMilliseconds
        self.policy = policy
    }

    /// The CloudEvents `source` of emitted totals.
    public var totalsSource: String { "/ferris-usage/\(groupID)" }

    var consumerConfiguration: KafkaConfiguration {
        var config = kafka.withDefaults([
            "session.timeout.ms": "6000",
            "heartbeat.interval.ms": "500",
            "max.poll.interval.ms": "60000",
            "topic.metadata.refresh.interval.ms": "5000",
            "partition.assignment.strategy": "range,roundrobin",
        ])
        config["group.id"] = groupID
        return config
    }
}
