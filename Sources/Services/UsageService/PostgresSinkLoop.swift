import Kafka
import Logging
import ProcessSupport
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
    private let clock = ContinuousClock()
    private var table: TotalsTable?
    private var state = SinkState()
    private var revokedPartitions: [KafkaTopicPartition] = []
    /// Partitions assigned at the last rebalance (nil: none since the last loop); once it is over they are paused or
    /// resumed to match the state (librdkafka keeps a partition's pause across an unassign and a later assign, so a
    /// partition paused before a rebalance would otherwise come back paused and never be read).
    private var newlyAssigned: [KafkaTopicPartition]?
    /// Reading every partition outside group management (`stopWhenCaughtUp`), with the client that asks their ends.
    private var admin: KafkaAdmin?
    private var partitions: [KafkaTopicPartition] = []
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
            case .assigned(let added): newlyAssigned = (newlyAssigned ?? []) + added
            }
            return [:]
        }
        defer {
            consumer.close()
            pipeline.counters.publish(delta)
        }
        state = SinkState(untilCaughtUp: stopWhenCaughtUp)
        if stopWhenCaughtUp {
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
        // What happened since the last action goes to the state first; then it says what to do next.
        while true {
            if !revokedPartitions.isEmpty {
                let gone = revokedPartitions
                revokedPartitions = []
                guard try perform(state.revoked(gone), consumer) else { return }
            }
            if let added = newlyAssigned {
                newlyAssigned = nil
                guard try perform(state.assigned(added.filter { consumer.assignment.contains($0) }), consumer) else { return }
            }
            if pipeline.shouldStop {
                guard try perform(state.stopRequested(now: clock.now), consumer) else { return }
            }
            if state.finish == .accountingRunning, accountingFinished() {
                guard try perform(state.accountingFinished(now: clock.now), consumer) else { return }
            }
            guard try perform(state.next(now: clock.now), consumer) else { return }
        }
    }

    /// Performs `action` and what the events it reports return; false once the loop ends.
    private func perform(_ action: SinkState.Action, _ consumer: KafkaConsumer) throws -> Bool {
        switch action {
        case .none, .retryWrite, .retryEndOffsets:
            // The retries are said where the failure is known (`write`, `askEndOffsets`).
            return true
        case .pause:
            try consumer.pause(Array(consumer.assignment))
        case .resume:
            try consumer.resume(Array(consumer.assignment))
        case .pausePartitions(let added):
            try consumer.pause(added)
        case .resumePartitions(let added):
            try consumer.resume(added)
        case .write(let retrying):
            return try perform(write(retrying: retrying), consumer)
        case .commit(let offsets):
            commit(offsets, consumer)
        case .poll(let timeout):
            let records = try consumer.poll(timeoutMilliseconds: Int32(timeout.wholeMilliseconds)) { record in read(record) }
            state.polled(records: records)
            publishLag(consumer)
        case .askEndOffsets:
            return try perform(askEndOffsets(consumer), consumer)
        case .checkCaughtUp(let readUpTo):
            return try perform(state.caughtUp(consumer.hasRead(upTo: readUpTo)), consumer)
        case .warnEndHeldBack(let ends):
            logger.warning("""
                PostgreSQL sink: the totals topic's end is not reached 30 s after the accounting finished; \
                an open transaction of another ferris-usage holds it back until it commits or aborts
                """, metadata: ["ends": "\(ends)"])
        case .stop:
            return false
        }
        return true
    }

    /// Asks the broker the end offsets of the totals partitions this sink reads (all of them until caught up, else its
    /// assignment); `SinkState.accountingFinished` says why then.
    private func askEndOffsets(_ consumer: KafkaConsumer) -> SinkState.Action {
        do {
            let client = try admin ?? KafkaAdmin(configuration: configuration.kafka, logger: logger)
            admin = client
            let ends = try client.endOffsets(of: state.untilCaughtUp ? partitions : Array(consumer.assignment))
            return state.endOffsets(ends, now: clock.now)
        } catch {
            let action = state.endOffsetsFailed(now: clock.now)
            if case .retryEndOffsets(let wait) = action {
                logger.warning("PostgreSQL sink: could not ask the totals topic's end offsets; asking again in \(wait): \(error)")
            }
            return action
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

    /// Writes the batch in hand; returns what the state says after.
    private func write(retrying: Bool) -> SinkState.Action {
        let count = state.pendingCount
        do {
            guard let url = configuration.databaseURL else { throw TotalsStoreError("the PostgreSQL sink runs without a database URL") }
            let table = try self.table ?? TotalsTable(url: url, table: configuration.topology.sinks.table)
            self.table = table
            try table.write(state.batch)
        } catch {
            table = nil
            delta.sinkFailures += 1
            let action = state.writeFailed(now: clock.now)
            let metadata: Logger.Metadata = ["pending_totals": "\(count)", "lag": "\(pipeline.counters.sinkLag)"]
            if case .retryWrite(let wait) = action {
                logger.error("PostgreSQL sink write failed; retrying in \(wait) (totals are kept, nothing is dropped): \(error)",
                             metadata: metadata)
            } else {
                logger.error("""
                    PostgreSQL sink write failed while stopping; the next run copies these totals (their offsets are \
                    not committed): \(error)
                    """, metadata: metadata)
            }
            publishDelta()
            return action
        }
        if retrying { logger.info("PostgreSQL sink recovered; writing again") }
        delta.sinkRowsWritten += count
        let action = state.written()
        publishDelta()
        return action
    }

    /// Commits the offsets of rows written; a refused commit is said once (`SinkState.commitRefused`).
    private func commit(_ offsets: [KafkaCommittedOffset], _ consumer: KafkaConsumer) {
        do {
            try consumer.commit(offsets)
        } catch {
            switch state.commitRefused(notMember: error.isNotGroupMember, outsideGroup: state.untilCaughtUp) {
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
