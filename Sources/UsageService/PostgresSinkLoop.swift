import Kafka
import Logging
import UsagePostgres
import UsageStandard

/// Copies the totals topic into PostgreSQL, as its own consumer (`read_committed`, group `<group>.postgres`) in the
/// same process as the accounting loop; performs what `SinkState` decides.
///
/// Separate from the accounting transaction on purpose: the Kafka totals never wait for the database, and a
/// PostgreSQL outage only delays this copy. Offsets are committed to Kafka after the rows are written, so a crash
/// re-delivers some totals, which the table's monotonic guard makes harmless. While the database is unreachable the
/// batch in hand is retried with backoff (0.5 s doubling to 10 s), the partitions are paused while the consumer keeps
/// polling (the group membership stays alive; no busy loop), nothing is dropped, and the lag is published in
/// `PipelineCounters.sinkLag`.
final class PostgresSinkLoop {
    private let pipeline: UsagePipeline
    private let configuration: UsagePipelineConfiguration
    private let logger: Logger
    private var table: TotalsTable?
    private var state = SinkState()
    private var revokedPartitions: [KafkaTopicPartition] = []
    /// Partitions assigned at the last rebalance: once it is over they are paused or resumed to match the state
    /// (librdkafka keeps a partition's pause across an unassign and a later assign, so a partition paused before a
    /// rebalance would otherwise come back paused and never be read).
    private var newlyAssigned: [KafkaTopicPartition] = []
    /// Reading every partition outside group management (`stopWhenCaughtUp`).
    private var readsOutsideGroup = false
    private var delta = PipelineCounters.Snapshot()

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
            case .revoked(let gone), .lost(let gone), .assignFailed(let gone): revokedPartitions += gone
            case .assigned(let added):
                state.assigned()
                newlyAssigned += added
            }
            return [:]
        }
        defer {
            consumer.close()
            pipeline.counters.publish(delta)
        }
        var admin: KafkaAdmin?
        var partitions: [KafkaTopicPartition] = []
        if stopWhenCaughtUp {
            readsOutsideGroup = true
            try configuration.createOutputTopics(logger: logger)
            let client = try KafkaAdmin(configuration: configuration.kafka, logger: logger)
            admin = client
            let count = try client.topics()[configuration.totalsTopic] ?? 0
            partitions = (0..<count).map { KafkaTopicPartition(topic: configuration.totalsTopic, partition: $0) }
            var starts: [KafkaTopicPartition: Int64] = [:]
            for entry in try consumer.committed(partitions) { starts[entry.topicPartition] = entry.offset >= 0 ? entry.offset : KafkaOffset.beginning }
            try consumer.assign(starts)
        } else {
            try consumer.subscribe([configuration.totalsTopic])
        }
        let clock = ContinuousClock()
        var stopDeadline: ContinuousClock.Instant?
        var ends: [KafkaTopicPartition: Int64]?
        var endsAskedAt: ContinuousClock.Instant?
        var nextEndsAttempt = clock.now
        while true {
            if pipeline.shouldStop {
                // A graceful stop first copies what the accounting loop committed last (bounded; not while failing).
                let deadline = stopDeadline ?? clock.now + .seconds(10)
                stopDeadline = deadline
                if state.failing || clock.now >= deadline
                    || (accountingFinished() && state.pendingOffsets.isEmpty && consumer.hasReachedEnd(of: consumer.assignment)) { break }
            }
            if !revokedPartitions.isEmpty {
                state.revoked(revokedPartitions)
                revokedPartitions = []
            }
            if !newlyAssigned.isEmpty {
                let added = newlyAssigned.filter { consumer.assignment.contains($0) }
                if state.paused { try consumer.pause(added) } else { try consumer.resume(added) }
                newlyAssigned = []
            }
            let step = state.next(now: clock.now)
            if let pause = step.pause {
                let assigned = Array(consumer.assignment)
                if pause { try consumer.pause(assigned) } else { try consumer.resume(assigned) }
            }
            if step.write { write(consumer, now: clock.now) }
            let milliseconds = step.pollTimeout.components.seconds * 1000 + step.pollTimeout.components.attoseconds / 1_000_000_000_000_000
            state.polled(records: try consumer.poll(timeoutMilliseconds: Int32(milliseconds)) { record in read(record) })
            publishLag(consumer)
            if let admin, accountingFinished() {
                // Asked of the broker once, after the accounting loop committed its last transaction, so every total
                // it wrote lies below them. (Ends seen in fetch responses may predate that transaction when the
                // machine is busy: a sink that trusted them stopped before copying it.)
                if ends == nil, clock.now >= nextEndsAttempt {
                    do {
                        ends = try admin.endOffsets(of: partitions)
                        endsAskedAt = clock.now
                    } catch {
                        nextEndsAttempt = clock.now + .seconds(1)
                        logger.warning("PostgreSQL sink: could not ask the totals topic's end offsets; asking again in 1 s: \(error)")
                    }
                }
                if let targets = ends {
                    if state.pendingOffsets.isEmpty, consumer.hasRead(upTo: targets) { break }
                    if let asked = endsAskedAt, clock.now - asked >= .seconds(30) {
                        endsAskedAt = nil
                        logger.warning("""
                            PostgreSQL sink: the totals topic's end is not reached 30 s after the accounting finished; \
                            an open transaction of another ferris-usage holds it back until it commits or aborts
                            """, metadata: ["ends": "\(targets)"])
                    }
                }
            }
        }
    }

    private func read(_ record: KafkaRecord) {
        let tp = KafkaTopicPartition(topic: record.topic, partition: record.partition)
        // Tombstones are not written by this service; a null value has nothing to copy.
        guard let value = record.value else {
            state.read(tp, offset: record.offset, total: nil)
            return
        }
        switch UsageTotalCodec.decode(Array(value)) {
        case .success(let total):
            state.read(tp, offset: record.offset, total: total)
        case .failure(let error):
            logger.error("a record on the totals topic is not a usage total; skipped",
                         metadata: ["partition": "\(tp)", "offset": "\(record.offset)", "error": "\(error)"])
            state.read(tp, offset: record.offset, total: nil)
        }
    }

    private func write(_ consumer: KafkaConsumer, now: ContinuousClock.Instant) {
        let wasFailing = state.failing
        let count = state.pendingCount
        do {
            guard let url = configuration.databaseURL else { throw TotalsStoreError("the PostgreSQL sink runs without a database URL") }
            let table = try self.table ?? TotalsTable(url: url, table: configuration.topology.sinks.table)
            self.table = table
            try table.write(state.batch)
        } catch {
            table = nil
            delta.sinkFailures += 1
            let wait = state.writeFailed(now: now)
            logger.error("PostgreSQL sink write failed; retrying in \(wait) (totals are kept, nothing is dropped): \(error)",
                         metadata: ["pending_totals": "\(count)", "lag": "\(pipeline.counters.sinkLag)"])
            publishDelta()
            return
        }
        if wasFailing { logger.info("PostgreSQL sink recovered; writing again") }
        delta.sinkRowsWritten += count
        commit(state.written(), consumer)
        publishDelta()
    }

    /// Commits the offsets of rows written; a refused commit is said once (`SinkState.commitRefused`).
    private func commit(_ offsets: [KafkaCommittedOffset], _ consumer: KafkaConsumer) {
        guard state.commitsEnabled else { return }
        do {
            try consumer.commit(offsets)
        } catch {
            switch state.commitRefused(notMember: error.isNotGroupMember, outsideGroup: readsOutsideGroup) {
            case .silent:
                break
            case .say:
                logger.warning("PostgreSQL sink could not commit its offsets (the rows are written; whoever reads them again rewrites them harmlessly); said once until the next assignment: \(error)")
            case .stopCommitting:
                logger.notice("""
                    PostgreSQL sink: the group \(configuration.sinkGroupID) has members (another ferris-usage, or one that was \
                    killed and whose session has not expired), so this run copies every total but leaves the group's offsets \
                    to them; nothing is lost (rows are idempotent): \(error)
                    """)
            }
        }
    }

    private func publishDelta() {
        pipeline.counters.publish(delta)
        delta = PipelineCounters.Snapshot()
    }

    /// Totals not yet in PostgreSQL: records behind the end of the assigned partitions plus the batch in hand.
    private func publishLag(_ consumer: KafkaConsumer) {
        let positions = consumer.positions(Array(consumer.assignment))
        var lag = state.pendingCount
        for tp in consumer.assignment {
            guard let high = consumer.cachedWatermarks(tp)?.high, let position = positions[tp], position >= 0 else { continue }
            lag += Int(max(0, high - position))
        }
        pipeline.counters.setSinkLag(lag)
    }
}
