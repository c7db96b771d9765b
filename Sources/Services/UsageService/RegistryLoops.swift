import Kafka
import Logging
import UsageRegistry
import UsageStages
import UsageStandard

/// Follows the instance registry (`ferris.instances`) for the accounting flows: every replica reads it whole, from
/// its beginning, and keeps `InstanceScopes` current, so that the flows judge each event by the registry as it was at
/// the event's time. Creates the event topic of every registered instance (`ferris.events.<instance>`, 35 days'
/// retention) that is missing, so a new instance is accounted with no other step: the pattern subscription picks the
/// topic up on the next metadata refresh. A deleted instance's topic is left alone.
final class RegistryFollowLoop {
    private let pipeline: UsagePipeline
    private let scopes: InstanceScopes
    private let topic: String
    private let logger: Logger

    init(pipeline: UsagePipeline, scopes: InstanceScopes, topic: String) {
        self.pipeline = pipeline
        self.scopes = scopes
        self.topic = topic
        logger = pipeline.log
    }

    func run() throws {
        let kafka = pipeline.configuration.kafka
        let follower = InstanceRegistryFollower(kafka: kafka, topic: topic, logger: logger)
        let logger = logger
        func createTopics(_ instances: [String]) throws {
            guard !instances.isEmpty else { return }
            try InstanceEventTopics.create(for: instances, kafka: kafka, logger: logger)
        }
        try follower.run(shouldStop: { pipeline.helpersShouldStop }, onRecord: { [scopes] _, outcome in
            // Before the first catch-up the follower fills a registry of its own: `onCaughtUp` takes it whole.
            guard follower.isCaughtUp else { return }
            if case .success(.created(let instance)) = outcome {
                try createTopics([instance.id])
                logger.info("instance registered: its event topic exists", metadata: ["instance": "\(instance.id)",
                                                                                      "topic": "\(InstanceEventTopics.name(of: instance.id))"])
            }
            if case .success = outcome { scopes.update(follower.registry) }
        }, onCaughtUp: { [scopes] in
            let registry = follower.registry
            try createTopics(registry.instances.keys.sorted())
            scopes.update(registry)
        })
    }
}

/// Dead-letters the instance events the registry refuses (schema, key, namespace conflicts), once per deployment:
/// only the member of the consumer group `<group>.registry` that holds the registry topic does it, and commits the
/// offset past each refused record after the dead letter is acknowledged (so a crash in between repeats at most that
/// record, recognisable by its `ferris-dlq-topic/partition/offset` headers). On assignment it re-reads the topic from
/// its beginning without dead-lettering up to the committed offset, so that namespace ownership is judged exactly as
/// the registry followers judge it.
final class RegistryDeadLetterLoop {
    private let pipeline: UsagePipeline
    private let topic: String
    private let logger: Logger
    /// Per assigned partition: the group's committed offset (records below it were handled before).
    private var handledBefore: [KafkaTopicPartition: Int64] = [:]
    private var nextOffsets: [KafkaTopicPartition: Int64] = [:]
    private var registry = InstanceRegistry()
    private var delta = PipelineCounters.Snapshot()

    init(pipeline: UsagePipeline, topic: String) {
        self.pipeline = pipeline
        self.topic = topic
        logger = pipeline.log
    }

    func run() throws {
        let configuration = pipeline.configuration
        let producer = try KafkaProducer(configuration: configuration.kafka, logger: logger)
        var config = configuration.consumerConfiguration
        config["group.id"] = configuration.groupID + ".registry"
        // Dynamic membership: a stopping replica leaves the group at once (its close must never wait on a rebalance of
        // this helper group), and the registry topic is small enough to re-read on every assignment.
        config["group.instance.id"] = nil
        let consumer = try KafkaConsumer(configuration: config, logger: logger) { [unowned self] event, consumer in
            switch event {
            case .assigned(let assigned):
                // Every partition is re-read from its beginning; dead letters start at the committed offset.
                registry = InstanceRegistry()
                handledBefore = [:]
                for entry in (try? consumer.committed(assigned)) ?? [] { handledBefore[entry.topicPartition] = max(0, entry.offset) }
                return Dictionary(uniqueKeysWithValues: assigned.map { ($0, KafkaOffset.beginning) })
            case .revoked(let gone), .lost(let gone), .assignFailed(let gone):
                for tp in gone { handledBefore[tp] = nil; nextOffsets[tp] = nil }
                return [:]
            }
        }
        defer {
            consumer.close()
            pipeline.counters.publish(delta)
        }
        try consumer.subscribe([topic])
        while !pipeline.helpersShouldStop {
            var refused = false
            try consumer.poll(timeoutMilliseconds: 200) { record in
                let tp = KafkaTopicPartition(topic: record.topic, partition: record.partition)
                let outcome = InstanceRegistryFollower.decode(record).flatMap { decoded in
                    registry.apply(decoded, recordTime: Timestamp(milliseconds: record.timestampMilliseconds ?? 0))
                }
                nextOffsets[tp] = record.offset + 1
                guard case .failure(let error) = outcome, record.offset >= handledBefore[tp] ?? 0 else { return }
                refused = true
                delta.instanceEventsRejected[error.reason.rawValue, default: 0] += 1
                try producer.send(topic: configuration.deadLetterTopic, key: record.key.map { Array($0) },
                                  value: record.value.map { Array($0) }, headers: record.headers + [
                                      KafkaHeader(name: DeadLetter.reason, string: error.reason.rawValue),
                                      KafkaHeader(name: DeadLetter.attribute, string: error.attribute),
                                      KafkaHeader(name: DeadLetter.message, string: error.description),
                                      KafkaHeader(name: DeadLetter.topic, string: tp.topic),
                                      KafkaHeader(name: DeadLetter.partition, string: String(tp.partition)),
                                      KafkaHeader(name: DeadLetter.offset, string: String(record.offset)),
                                  ], timestampMilliseconds: record.timestampMilliseconds)
            }
            // Commit what was handled past the committed offset, dead letters acknowledged first.
            let advanced = nextOffsets.filter { $0.value > (handledBefore[$0.key] ?? 0) }
            guard !advanced.isEmpty else { continue }
            if refused { try producer.awaitDeliveries() }
            do {
                try consumer.commit(advanced.map { KafkaCommittedOffset($0.key, offset: $0.value) })
                for (tp, offset) in advanced { handledBefore[tp] = offset }
            } catch {
                // A rebalance is under way: the partition's next owner starts at the committed offset.
                logger.warning("could not commit the registry dead-letter offsets (a rebalance?): \(error)")
            }
            pipeline.counters.publish(delta)
            delta = PipelineCounters.Snapshot()
        }
    }
}
