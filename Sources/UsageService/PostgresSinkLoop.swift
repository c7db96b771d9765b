import Kafka
import Logging
import UsageStandard

/// Copies the totals topic into PostgreSQL, as its own consumer (`read_committed`, group `<group>.postgres`) in the
/// same process as the accounting loop.
///
/// Separate from the accounting transaction on purpose: the Kafka totals never wait for the database, and a
/// PostgreSQL outage only delays this copy. Offsets are committed to Kafka after the rows are written, so a crash
/// re-delivers some totals, which the sink's monotonic guard makes harmless. While the database is unreachable the
/// batch in hand is retried with backoff (0.5 s doubling to 10 s), the partitions are paused (the group membership
/// stays alive), nothing is dropped, and the lag is published in `PipelineCounters.sinkLag`.
final class PostgresSinkLoop {
    private let pipeline: UsagePipeline
    private let configuration: UsagePipelineConfiguration
    private let logger: Logger
    private var sink: PostgresTotalsSink?
    /// Totals read but not yet written, per partition, and the offset after the last record read per partition.
    private var pending: [KafkaTopicPartition: [UsageTotal]] = [:]
    private var pendingCount = 0
    private var pendingOffsets: [KafkaTopicPartition: Int64] = [:]
    /// Set on revoke: the pending totals of revoked partitions are dropped (their offsets were not committed).
    private var revokedPartitions: Set<KafkaTopicPartition> = []
    private var paused = false
    private var delta = PipelineCounters.Snapshot()
    private let maxBatch = 5_000

    init(pipeline: UsagePipeline) {
        self.pipeline = pipeline
        configuration = pipeline.configuration
        logger = pipeline.log
    }

    /// Runs until the pipeline stops (after copying what the accounting loop committed last, for at most 10 s).
    /// With `stopWhenCaughtUp`, every partition of the totals topic is read (no group assignment) and the loop
    /// returns once `accountingFinished()` is true and everything is written.
    func run(stopWhenCaughtUp: Bool, accountingFinished: () -> Bool) throws {
        var config = configuration.consumerConfiguration
        config["group.id"] = configuration.sinkGroupID
        config["group.instance.id"] = configuration.memberID.map { $0 + ".postgres" }
        let consumer = try KafkaConsumer(configuration: config, logger: logger) { [unowned self] event, _ in
            switch event {
            case .revoked(let gone), .lost(let gone), .assignFailed(let gone): revokedPartitions.formUnion(gone)
            case .assigned: break
            }
            return [:]
        }
        defer {
            consumer.close()
            pipeline.counters.publish(delta)
        }
        if stopWhenCaughtUp {
            try configuration.createOutputTopics(logger: logger)
            let admin = try KafkaAdmin(configuration: configuration.kafka, logger: logger)
            let count = try admin.topics()[configuration.totalsTopic] ?? 0
            let partitions = (0..<count).map { KafkaTopicPartition(topic: configuration.totalsTopic, partition: $0) }
            var starts: [KafkaTopicPartition: Int64] = [:]
            for entry in try consumer.committed(partitions) { starts[entry.topicPartition] = entry.offset >= 0 ? entry.offset : KafkaOffset.beginning }
            try consumer.assign(starts)
        } else {
            try consumer.subscribe([configuration.totalsTopic])
        }
        let clock = ContinuousClock()
        var backoff = Duration.milliseconds(500)
        var nextAttempt = clock.now
        var failing = false
        var stopDeadline: ContinuousClock.Instant?
        var finishedAt: ContinuousClock.Instant?
        while true {
            if pipeline.shouldStop {
                // A graceful stop first copies what the accounting loop committed last (bounded; not while failing).
                let deadline = stopDeadline ?? clock.now + .seconds(10)
                stopDeadline = deadline
                if failing || clock.now >= deadline
                    || (accountingFinished() && pendingOffsets.isEmpty && caughtUp(consumer)) { break }
            }
            if !revokedPartitions.isEmpty { dropRevoked() }
            if pendingCount < maxBatch {
                try consumer.poll(timeoutMilliseconds: pendingOffsets.isEmpty || failing ? 100 : 0) { record in read(record) }
            }
            if !pendingOffsets.isEmpty, clock.now >= nextAttempt {
                do {
                    try write(consumer)
                    if failing {
                        logger.info("PostgreSQL sink recovered; writing again")
                        failing = false
                        backoff = .milliseconds(500)
                    }
                    if paused {
                        try consumer.resume(Array(consumer.assignment))
                        paused = false
                    }
                } catch {
                    delta.sinkFailures += 1
                    pipeline.counters.publish(delta)
                    delta = PipelineCounters.Snapshot()
                    logger.error("PostgreSQL sink write failed; retrying in \(backoff) (totals are kept, nothing is dropped): \(error)",
                                 metadata: ["pending_totals": "\(pendingCount)", "lag": "\(pipeline.counters.sinkLag)"])
                    sink = nil
                    failing = true
                    nextAttempt = clock.now + backoff
                    backoff = min(backoff * 2, .seconds(10))
                    if !paused {
                        try consumer.pause(Array(consumer.assignment))
                        paused = true
                    }
                }
            }
            publishLag(consumer)
            if stopWhenCaughtUp, accountingFinished() {
                // The end offsets come from fetch responses, which a caught-up consumer gets at least every
                // fetch.wait.max.ms (500 ms): after a second they include the accounting loop's last transaction.
                let finished = finishedAt ?? clock.now
                finishedAt = finished
                if clock.now - finished >= .seconds(1), pendingOffsets.isEmpty, caughtUp(consumer) { break }
            }
        }
    }

    private func read(_ record: KafkaRecord) {
        let tp = KafkaTopicPartition(topic: record.topic, partition: record.partition)
        pendingOffsets[tp] = record.offset + 1
        // Tombstones are not written by this service; a null value has nothing to copy.
        guard let value = record.value else { return }
        switch UsageTotalCodec.decode(Array(value)) {
        case .success(let total):
            pending[tp, default: []].append(total)
            pendingCount += 1
        case .failure(let error):
            logger.error("a record on the totals topic is not a usage total; skipped",
                         metadata: ["partition": "\(tp)", "offset": "\(record.offset)", "error": "\(error)"])
        }
    }

    private func write(_ consumer: KafkaConsumer) throws {
        guard let url = configuration.databaseURL else { throw UsageServiceError("the PostgreSQL sink runs without a database URL") }
        let sink = try self.sink ?? PostgresTotalsSink(url: url, table: configuration.topology.sinks.table,
                                                       logger: logger)
        self.sink = sink
        try sink.write(pending.values.flatMap { $0 })
        delta.sinkRowsWritten += pendingCount
        pending.removeAll(keepingCapacity: true)
        pendingCount = 0
        let offsets = pendingOffsets.map { KafkaCommittedOffset($0.key, offset: $0.value) }
        pendingOffsets.removeAll()
        do {
            try consumer.commit(offsets)
        } catch {
            // The rows are written; a re-delivery after a restart is absorbed by the upsert guard.
            logger.warning("PostgreSQL sink could not commit its offsets: \(error)")
        }
        pipeline.counters.publish(delta)
        delta = PipelineCounters.Snapshot()
    }

    /// Forgets what was read from revoked partitions: their offsets were not committed, so the next owner reads it.
    private func dropRevoked() {
        for tp in revokedPartitions {
            pendingCount -= pending.removeValue(forKey: tp)?.count ?? 0
            pendingOffsets[tp] = nil
        }
        revokedPartitions = []
    }

    /// Totals not yet in PostgreSQL: records behind the end of the assigned partitions plus the batch in hand.
    private func publishLag(_ consumer: KafkaConsumer) {
        let positions = consumer.positions(Array(consumer.assignment))
        var lag = pendingCount
        for tp in consumer.assignment {
            guard let high = consumer.cachedWatermarks(tp)?.high, let position = positions[tp], position >= 0 else { continue }
            lag += Int(max(0, high - position))
        }
        pipeline.counters.setSinkLag(lag)
    }

    private func caughtUp(_ consumer: KafkaConsumer) -> Bool {
        let positions = consumer.positions(Array(consumer.assignment))
        return consumer.assignment.allSatisfy { tp in
            guard let (low, high) = consumer.cachedWatermarks(tp) else { return false }
            return (positions[tp].flatMap { $0 >= 0 ? $0 : nil } ?? low) >= high
        }
    }
}
