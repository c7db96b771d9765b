import Foundation
import Kafka
import Logging
import ProcessSupport
import UsageStages
import UsageStandard
import UsageTopology

/// The accounting loop's driver: hands each event (records polled, the commit interval, a rebalance) to
/// `AccountingState` and performs the action it returns (send, commit, abort, begin, start partitions at offsets)
/// against librdkafka, deciding nothing itself. Lives on the pipeline thread only.
final class PipelineLoop<Flow: EmittingStage> where Flow.Input == IncomingRecord<KafkaRecord>, Flow.Output == Void {
    private let pipeline: UsagePipeline
    private let configuration: UsagePipelineConfiguration
    private let logger: Logger
    /// Transactional: totals, dead letters, checkpoints and consumer offsets commit together or not at all.
    private let producer: KafkaProducer
    private let runner: FlowRunner<Flow>
    /// An error raised inside a rebalance callback, thrown once `poll` returns.
    private var rebalanceError: Error?
    private var rejectionsLogged = 0
    private let started = ContinuousClock.now
    /// When the first record (not re-read for a restore) was consumed, for the caught-up summary.
    private var firstRecordAt: ContinuousClock.Instant?
    /// Reused for every total's key and value.
    private var keyBuffer: [UInt8] = []
    private var valueBuffer: [UInt8] = []
    private let totalsHeaders = [KafkaHeader(name: "content-type", string: UsageStandard.structuredContentType)]

    init(pipeline: UsagePipeline, makeFlow: @escaping (KafkaTopicPartition) -> Flow) throws {
        self.pipeline = pipeline
        configuration = pipeline.configuration
        logger = pipeline.log
        runner = FlowRunner(state: AccountingState(makeFlow: makeFlow))
        logger.info("starting", metadata: ["librdkafka": "\(librdkafkaVersion)", "group": "\(configuration.groupID)",
                                           "topology": "\(configuration.topology.name)",
                                           "pattern": "\(configuration.topology.source.topics)"])
        try configuration.createOutputTopics(logger: logger)
        var producerConfiguration = configuration.kafka
        producerConfiguration["transactional.id"] = configuration.transactionalID
        // As Kafka Streams does under exactly-once: a transaction left open by a crashed process (whose successor has
        // another transactional id) blocks read_committed readers of its partitions for at most 10 s.
        // lz4: totals are repetitive JSON; compressed batches are several times smaller on the wire and on the broker.
        producerConfiguration = producerConfiguration.withDefaults(["transaction.timeout.ms": "10000", "compression.type": "lz4"])
        producer = try KafkaProducer(configuration: producerConfiguration, logger: logger)
        // Fences an earlier process with the same transactional id and aborts what it left open.
        try producer.initTransactions()
        try producer.beginTransaction()
    }

    func run() throws {
        try awaitRegistry()
        let consumer = try KafkaConsumer(configuration: configuration.consumerConfiguration, logger: logger) { [unowned self] event, consumer in
            self.rebalance(event, consumer)
        }
        try consumer.subscribe([configuration.topology.source.topics])
        let clock = ContinuousClock()
        var lastFlush = clock.now
        let interval = Duration.milliseconds(configuration.commitIntervalMilliseconds)
        defer {
            // Leaving the group runs the revoke handler, which emits and commits what is left.
            consumer.close()
            publishCounters()
        }
        var lastHealth = clock.now - .seconds(1)
        while !pipeline.shouldStop {
            let read = try runner.poll(consumer, timeoutMilliseconds: 100) { record, error in reject(record, error) }
            if let error = rebalanceError { throw error }
            if read > 0 {
                if firstRecordAt == nil, runner.state.delta.recordsRead > 0 { firstRecordAt = .now }
                try sendClosedWindows()
                publishCounters()
            }
            tick(consumer)
            if clock.now - lastHealth >= .milliseconds(250) {
                publishHealth(consumer)
                lastHealth = clock.now
            }
            if clock.now - lastFlush >= interval {
                try flush(consumer)
                lastFlush = clock.now
            }
            if read == 0, case .untilCaughtUp(let wanted) = pipeline.runMode,
               consumer.assignment.count >= wanted, consumer.hasReachedEnd(of: consumer.assignment) {
                try flush(consumer)
                logCaughtUp()
                break
            }
        }
        try flush(consumer)
    }

    /// Waits until the instance registry has been read to its end: until then an event of a link that is not
    /// accounted could not be recognised as such.
    private func awaitRegistry() throws {
        guard let scopes = pipeline.instanceScopes, let topic = configuration.instanceTopic else { return }
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(120)
        while !scopes.isReady && !pipeline.shouldStop {
            guard clock.now < deadline else {
                throw UsageServiceError("the instance registry (topic \(topic)) was not read within 120 s; is the broker reachable? (--without-registry runs without it)")
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    // MARK: Actions

    /// Sends a rejected record to the dead-letter topic unchanged, with headers giving the reason, a message and
    /// where it came from, in the open transaction (so it is committed with the offset that passes it).
    private func reject(_ record: KafkaRecord, _ error: UsageDecodeError) {
        let tp = KafkaTopicPartition(topic: record.topic, partition: record.partition)
        if rejectionsLogged < 20 {
            rejectionsLogged += 1
            logger.warning("record rejected: \(error)", metadata: ["reason": "\(error.reason.rawValue)",
                                                                   "partition": "\(tp)", "offset": "\(record.offset)"])
        }
        let headers = record.headers + [
            KafkaHeader(name: DeadLetter.reason, string: error.reason.rawValue),
            KafkaHeader(name: DeadLetter.attribute, string: error.attribute),
            KafkaHeader(name: DeadLetter.message, string: error.description),
            KafkaHeader(name: DeadLetter.topic, string: tp.topic),
            KafkaHeader(name: DeadLetter.partition, string: String(tp.partition)),
            KafkaHeader(name: DeadLetter.offset, string: String(record.offset)),
        ]
        do {
            try producer.send(topic: configuration.deadLetterTopic, key: record.key.map { Array($0) },
                              value: record.value.map { Array($0) }, headers: headers,
                              timestampMilliseconds: record.timestampMilliseconds)
        } catch {
            runner.state.deadLetterFailed("\(error)")
        }
    }

    /// Sends the final totals of windows that closed in the last batch into the open transaction.
    private func sendClosedWindows() throws {
        let finals = runner.state.takeClosedWindows()
        do {
            try send(finals)
        } catch {
            runner.state.commitFailed("\(error)")
            throw error
        }
    }

    /// The commit interval passed (or the loop stops): commits what `AccountingState.commitDue` plans.
    private func flush(_ consumer: KafkaConsumer) throws {
        try perform(runner.state.commitDue { consumer.cachedWatermarks($0)?.high }, consumer)
    }

    /// Performs a `CommitAction`: commits one Kafka transaction holding the plan, then does what `committed` returns
    /// (begins the next one). A failure aborts the transaction and stops the loop.
    private func perform(_ action: AccountingState<KafkaRecord, Flow>.CommitAction, _ consumer: KafkaConsumer) throws {
        rejectionsLogged = 0
        switch action {
        case .nothing:
            return
        case .fail(let reason):
            try abort(UsageServiceError("the open transaction cannot be committed (\(reason)); restarting restores the last committed state"))
        case .commit(let plan):
            let clock = ContinuousClock()
            let began = clock.now
            do {
                try send(plan.totals)
                for checkpoint in plan.checkpoints {
                    try producer.send(topic: configuration.checkpointTopic, key: checkpoint.recordKey(group: configuration.groupID),
                                      value: checkpoint.recordValue)
                }
                try producer.sendOffsetsToTransaction(
                    plan.checkpoints.map { KafkaCommittedOffset($0.topicPartition, offset: $0.nextOffset) }, consumer: consumer)
                try producer.commitTransaction()
            } catch {
                runner.state.commitFailed("\(error)")
                try abort(error)
            }
            let next = runner.state.committed(plan)
            let elapsed = clock.now - began
            if case .beginNext(firstCommit: true) = next {
                logger.info("first transaction committed", metadata: [
                    "seconds_since_start": "\(ContinuousClock.now - started)", "totals": "\(plan.totals.count)",
                    "partitions": "\(plan.checkpoints.count)"])
            }
            logger.debug("transaction committed", metadata: ["totals": "\(plan.totals.count)",
                                                            "partitions": "\(plan.checkpoints.count)", "seconds": "\(elapsed)"])
            pipeline.counters.updateHealth { $0.lastCommitSeconds = elapsed.secondsValue }
            pipeline.counters.recordCommit(elapsed)
            publishCounters()
            try perform(next)
        }
    }

    /// Performs a `TransactionAction` on the open transaction.
    private func perform(_ action: AccountingState<KafkaRecord, Flow>.TransactionAction) throws {
        switch action {
        case .beginNext:
            try producer.beginTransaction()
        case .abortAndBeginNext:
            try producer.abortTransaction()
            try producer.beginTransaction()
        case .fail(let reason):
            try abort(UsageServiceError("the accounting state cannot go on (\(reason)); restarting restores the last committed state"))
        }
    }

    /// Aborts the open transaction and throws `error`.
    private func abort(_ error: Error) throws -> Never {
        do {
            try producer.abortTransaction()
        } catch let abortError {
            logger.error("aborting the failed transaction failed too: \(abortError)")
        }
        throw error
    }

    private func send(_ totals: [UsageTotal]) throws {
        for total in totals {
            keyBuffer.removeAll(keepingCapacity: true)
            valueBuffer.removeAll(keepingCapacity: true)
            total.appendRecordKey(to: &keyBuffer)
            UsageTotalCodec.encode(total, source: configuration.totalsSource, into: &valueBuffer)
            try keyBuffer.withUnsafeBytes { key in
                try valueBuffer.withUnsafeBytes { value in
                    try producer.send(topic: configuration.totalsTopic, keyBytes: key, valueBytes: value, headers: totalsHeaders)
                }
            }
        }
    }

    // MARK: Rebalances

    private func rebalance(_ event: KafkaRebalance, _ consumer: KafkaConsumer) -> [KafkaTopicPartition: Int64] {
        do {
            switch event {
            case .assigned(let assigned):
                pipeline.counters.updateHealth { $0.joined = true }
                return try assign(assigned, consumer)
            case .revoked(let gone):
                // Commits what is held, then the partitions are forgotten.
                try perform(runner.state.revoked(gone) { consumer.cachedWatermarks($0)?.high }, consumer)
                return [:]
            case .lost(let lost):
                logger.warning("partitions lost (this member was out of the group): aborting the open transaction",
                               metadata: ["partitions": "\(lost)"])
                try perform(runner.state.lost())
                return [:]
            case .assignFailed(let failed):
                // Never read: drop what `.assigned` prepared (the next poll throws, and the loop stops).
                runner.state.assignmentFailed(failed)
                return [:]
            }
        } catch {
            logger.error("rebalance handling failed: \(error)")
            rebalanceError = rebalanceError ?? error
            return [:]
        }
    }

    /// Restores each assigned partition at the group's committed offset (see `AccountingState.assigned`).
    private func assign(_ assigned: [KafkaTopicPartition], _ consumer: KafkaConsumer) throws -> [KafkaTopicPartition: Int64] {
        var committed: [KafkaTopicPartition: Int64] = [:]
        for entry in try consumer.committed(assigned) where entry.offset >= 0 { committed[entry.topicPartition] = entry.offset }
        switch runner.state.assigned(assigned, committed: committed, now: .now) {
        case .start(let starts):
            return starts
        case .fail(let reason):
            throw UsageServiceError("the assignment cannot be taken (\(reason)); restarting restores the last committed state")
        case .readCheckpoints:
            let checkpoints = try Checkpoint.readAll(configuration.kafka, topic: configuration.checkpointTopic,
                                                     group: configuration.groupID, logger: logger)
            switch runner.state.restore(checkpoints) {
            case .fail(let reason):
                throw UsageServiceError("the checkpoints cannot be restored (\(reason)); restarting restores the last committed state")
            case .start(let starts, let resumed):
                for (tp, checkpoint) in resumed {
                    if let checkpoint {
                        logger.info("restoring from checkpoint", metadata: [
                            "partition": "\(tp)", "rebuild_from": "\(checkpoint.rebuildFrom)", "checkpoint": "\(checkpoint.nextOffset)",
                            "committed_offset": "\(committed[tp] ?? -1)", "seconds_since_start": "\(ContinuousClock.now - started)"])
                    } else {
                        logger.warning("no checkpoint for a partition with a committed offset: accounting it again from its beginning",
                                       metadata: ["partition": "\(tp)", "committed_offset": "\(committed[tp] ?? -1)"])
                    }
                }
                return starts
            }
        }
    }

    // MARK: Time, health, counters

    private func tick(_ consumer: KafkaConsumer) {
        let advanced = runner.state.tick(now: .now, wallClock: WallClock.milliseconds(), idleMilliseconds: configuration.topology.window.idleMilliseconds) {
            consumer.cachedWatermarks($0)?.high
        }
        for (tp, watermark) in advanced {
            logger.info("idle partition: watermark advanced by wall clock", metadata: ["partition": "\(tp)", "watermark": "\(watermark)"])
        }
    }

    /// Publishes lag, progress and open windows for `/readyz` and `/metrics`.
    private func publishHealth(_ consumer: KafkaConsumer) {
        let (partitions, openWindows) = runner.state.health { consumer.cachedWatermarks($0) }
        let now = ContinuousClock.now
        pipeline.counters.updateHealth {
            $0.lastLoop = now
            $0.partitions = partitions
            $0.openWindows = openWindows
        }
    }

    private func publishCounters() {
        pipeline.counters.publish(runner.state.delta)
        runner.state.delta = PipelineCounters.Snapshot()
    }

    private func logCaughtUp() {
        publishCounters()
        let done = pipeline.counters.snapshot
        let elapsed = firstRecordAt.map { ContinuousClock.now - $0 } ?? .zero
        let seconds = elapsed.secondsValue
        logger.info("caught up with every assigned partition; stopping", metadata: [
            "records": "\(done.recordsRead)", "totals": "\(done.totalsWritten)",
            "seconds_first_record_to_last_commit": "\(seconds)",
            "records_per_second": "\(seconds > 0 ? Int(Double(done.recordsRead) / seconds) : 0)",
        ])
    }
}
