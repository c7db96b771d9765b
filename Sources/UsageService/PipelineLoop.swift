import Foundation
import Kafka
import Logging
import UsageStages
import UsageStandard
import UsageTopology

/// One input partition's state on the pipeline thread: its flow of stages and their shared context.
final class PartitionState {
    let topicPartition: KafkaTopicPartition
    var flow: AccountingFlow<KafkaRecord>
    var context = FlowContext()
    /// When `nextOffset` last moved (checked once per poll, not per record), for idle advancing.
    var lastProgressAt = ContinuousClock.now
    var lastProgressOffset: Int64?
    /// The next offset to commit ("last processed + 1"); nil until a record was read or a commit found.
    var nextOffset: Int64?
    /// Records below this offset were accounted before the last restart and are only replayed.
    var replayUntil: Int64 = -1
    /// The last checkpoint committed (with its offset) in a Kafka transaction.
    var committed: Checkpoint?

    init(_ tp: KafkaTopicPartition, topology: Topology) {
        topicPartition = tp
        flow = topology.makeFlow(partition: "\(tp.topic):\(tp.partition)")
    }

    /// The checkpoint to commit now; nil while the partition is still being rebuilt or nothing was read.
    var checkpoint: Checkpoint? {
        guard let next = nextOffset, next >= replayUntil else { return nil }
        return Checkpoint(topicPartition, nextOffset: next, rebuildFrom: min(flow.second.rebuildFrom ?? next, next),
                          watermark: context.watermark)
    }
}

/// The consume loop. Lives on the pipeline thread only.
final class PipelineLoop {
    private let pipeline: UsagePipeline
    private let configuration: UsagePipelineConfiguration
    private let logger: Logger
    /// Transactional: totals, dead letters, checkpoints and consumer offsets commit together or not at all.
    private let producer: KafkaProducer
    private var consumer: KafkaConsumer?
    private var partitions: [KafkaTopicPartition: PartitionState] = [:]
    /// State of partitions revoked at the last rebalance, kept in case they come straight back.
    private var revoked: [KafkaTopicPartition: PartitionState] = [:]
    private var byIdentity: [PartitionIdentity: PartitionState] = [:]
    private var delta = PipelineCounters.Snapshot()
    private var rebalanceError: Error?
    private var rejectionsLogged = 0
    private var deadLetterFailure: KafkaError?
    /// Dead letters were sent in the open transaction.
    private var deadLettersPending = false
    /// Set once a flush failed: totals it had taken may be lost from memory, so no later checkpoint may be
    /// written by this loop (the restart rebuilds from the last good one).
    private var flushFailure: Error?
    private let started = ContinuousClock.now
    private var committedOnce = false
    /// When the first record (not re-read for a restore) was consumed, for the caught-up summary.
    private var firstRecordAt: ContinuousClock.Instant?
    /// Records behind the partition's end beyond which provisional totals wait (see `commitTransaction`).
    static let provisionalLagLimit: Int64 = 10_000
    /// Reused for every total's key and value.
    private var keyBuffer: [UInt8] = []
    private var valueBuffer: [UInt8] = []
    /// Final totals already sent into the open transaction (see `sendClosedWindows`).
    private var sentSinceCommit = 0
    private let totalsHeaders = [KafkaHeader(name: "content-type", string: UsageStandard.structuredContentType)]

    struct PartitionIdentity: Hashable {
        var topic: ObjectIdentifierLike
        var partition: Int32
    }

    init(pipeline: UsagePipeline) throws {
        self.pipeline = pipeline
        configuration = pipeline.configuration
        logger = pipeline.log
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
        let consumer = try KafkaConsumer(configuration: configuration.consumerConfiguration, logger: logger) { [unowned self] event, consumer in
            self.rebalance(event, consumer)
        }
        self.consumer = consumer
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
            let read = try consumer.poll(timeoutMilliseconds: 100) { record in process(record) }
            if let error = rebalanceError { throw error }
            if read > 0 {
                try sendClosedWindows()
                publishCounters()
            }
            advanceIdlePartitions(consumer)
            if clock.now - lastHealth >= .milliseconds(250) {
                publishHealth(consumer)
                lastHealth = clock.now
            }
            if clock.now - lastFlush >= interval {
                try flush(consumer)
                lastFlush = clock.now
            }
            if read == 0, case .untilCaughtUp(let wanted) = pipeline.runMode, caughtUp(consumer, wanted: wanted) {
                try flush(consumer)
                publishCounters()
                let done = pipeline.counters.snapshot
                let elapsed = firstRecordAt.map { ContinuousClock.now - $0 } ?? .zero
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                logger.info("caught up with every assigned partition; stopping", metadata: [
                    "records": "\(done.recordsRead)", "totals": "\(done.totalsWritten)",
                    "seconds_first_record_to_last_commit": "\(seconds)",
                    "records_per_second": "\(seconds > 0 ? Int(Double(done.recordsRead) / seconds) : 0)",
                ])
                break
            }
        }
        try flush(consumer)
    }

    private func process(_ record: KafkaRecord) {
        let identity = PartitionIdentity(topic: record.topicIdentity, partition: record.partition)
        let state: PartitionState
        if let known = byIdentity[identity] {
            state = known
        } else {
            let tp = KafkaTopicPartition(topic: record.topic, partition: record.partition)
            guard let assigned = partitions[tp] else { return }
            byIdentity[identity] = assigned
            state = assigned
        }
        let offset = record.offset
        state.nextOffset = offset + 1
        let replaying = offset < state.replayUntil
        state.context.replaying = replaying
        let outcome = state.flow.process(record.incoming, context: &state.context)
        guard !replaying else { return }
        if firstRecordAt == nil { firstRecordAt = .now }
        delta.recordsRead += 1
        switch outcome {
        case .next:
            delta.eventsCounted += 1
        case .dropped(.outOfScope(let rule)):
            delta.outOfScope += 1
            delta.outOfScopeByRule[rule, default: 0] += 1
        case .dropped(.duplicate):
            delta.duplicates += 1
        case .rejected(let error):
            if error.reason == .late { delta.late += 1 }
            reject(record, error, state)
        }
    }

    /// Advances the watermark of partitions that are caught up and have had no record for the topology's idle
    /// timeout to "now minus the idle timeout", so that a quiet tenant's windows close. The new watermark is part
    /// of the next checkpoint, so a restart makes the same decision.
    /// Also records when each partition last moved (for idle advancing and stall detection).
    private func advanceIdlePartitions(_ consumer: KafkaConsumer) {
        let now = ContinuousClock.now
        let wallClock = Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
        let idle = configuration.topology.window.idleMilliseconds
        for state in partitions.values {
            if state.nextOffset != state.lastProgressOffset {
                state.lastProgressOffset = state.nextOffset
                state.lastProgressAt = now
                continue
            }
            guard let idle, now - state.lastProgressAt >= .milliseconds(idle), state.flow.second.openWindowCount > 0,
                  let next = state.nextOffset, next >= state.replayUntil,
                  let high = consumer.cachedWatermarks(state.topicPartition)?.high, next >= high else { continue }
            let target = Timestamp(milliseconds: wallClock - idle)
            guard target.milliseconds > (state.context.watermark?.milliseconds ?? .min) else { continue }
            state.context.replaying = false
            state.context.watermark = target
            state.flow.watermarkAdvanced(context: state.context)
            logger.info("idle partition: watermark advanced by wall clock",
                        metadata: ["partition": "\(state.topicPartition)", "watermark": "\(target)"])
        }
    }

    /// Sends a rejected record to the dead-letter topic unchanged, with headers giving the reason, a message and
    /// where it came from, in the open transaction (so it is committed with the offset that passes it).
    private func reject(_ record: KafkaRecord, _ error: UsageDecodeError, _ state: PartitionState) {
        delta.rejected[error.reason.rawValue, default: 0] += 1
        if rejectionsLogged < 20 {
            rejectionsLogged += 1
            logger.warning("record rejected: \(error)", metadata: ["reason": "\(error.reason.rawValue)",
                                                                   "partition": "\(state.topicPartition)", "offset": "\(record.offset)"])
        }
        let headers = record.headers + [
            KafkaHeader(name: DeadLetter.reason, string: error.reason.rawValue),
            KafkaHeader(name: DeadLetter.attribute, string: error.attribute),
            KafkaHeader(name: DeadLetter.message, string: error.description),
            KafkaHeader(name: DeadLetter.topic, string: state.topicPartition.topic),
            KafkaHeader(name: DeadLetter.partition, string: String(state.topicPartition.partition)),
            KafkaHeader(name: DeadLetter.offset, string: String(record.offset)),
        ]
        deadLettersPending = true
        do {
            try producer.send(topic: configuration.deadLetterTopic, key: record.key.map { Array($0) },
                              value: record.value.map { Array($0) }, headers: headers,
                              timestampMilliseconds: record.timestampMilliseconds)
        } catch {
            // Not sent means not passed: the flush fails before any checkpoint moves past this record.
            deadLetterFailure = deadLetterFailure ?? error
        }
    }

    /// Commits one Kafka transaction holding the changed totals, the dead letters sent since the last one, each
    /// changed partition's checkpoint and the consumer offsets, then opens the next. A failure aborts the
    /// transaction and poisons the loop: memory is ahead of what committed, so only a restart (which restores from
    /// the committed checkpoints) may continue.
    private func flush(_ consumer: KafkaConsumer) throws {
        if let flushFailure { throw flushFailure }
        do {
            try commitTransaction(consumer)
        } catch {
            flushFailure = error
            do {
                try producer.abortTransaction()
            } catch let abortError {
                logger.error("aborting the failed transaction failed too: \(abortError)")
            }
            throw error
        }
    }

    private func commitTransaction(_ consumer: KafkaConsumer) throws {
        rejectionsLogged = 0
        if let failure = deadLetterFailure { throw failure }
        var totals: [UsageTotal] = []
        var checkpoints: [Checkpoint] = []
        for state in partitions.values {
            // A partition far behind its end holds its provisional totals back: they would be outdated by the next
            // commit, and writing them would slow the catch-up. Final totals are never held back.
            let lag = state.nextOffset.flatMap { next in consumer.cachedWatermarks(state.topicPartition).map { $0.high - next } }
            let provisional = (lag ?? 0) <= Self.provisionalLagLimit
            totals.append(contentsOf: state.flow.second.takeEmissions(symbols: state.context.symbols, provisional: provisional))
            if let checkpoint = state.checkpoint, checkpoint != state.committed { checkpoints.append(checkpoint) }
        }
        guard !totals.isEmpty || sentSinceCommit > 0 || !checkpoints.isEmpty || deadLettersPending else { return }
        let clock = ContinuousClock()
        let started = clock.now
        try send(totals)
        for checkpoint in checkpoints {
            try producer.send(topic: configuration.checkpointTopic, key: checkpoint.recordKey(group: configuration.groupID),
                              value: checkpoint.recordValue)
        }
        try producer.sendOffsetsToTransaction(
            checkpoints.map { KafkaCommittedOffset($0.topicPartition, offset: $0.nextOffset) }, consumer: consumer)
        try producer.commitTransaction()
        deadLettersPending = false
        if !committedOnce {
            committedOnce = true
            logger.info("first transaction committed", metadata: ["seconds_since_start": "\(ContinuousClock.now - self.started)",
                                                                    "totals": "\(totals.count)", "partitions": "\(checkpoints.count)"])
        }
        for checkpoint in checkpoints { partitions[checkpoint.topicPartition]?.committed = checkpoint }
        delta.totalsWritten += totals.count + sentSinceCommit
        sentSinceCommit = 0
        delta.commits += 1
        logger.debug("transaction committed", metadata: ["totals": "\(totals.count)", "partitions": "\(checkpoints.count)",
                                                        "seconds": "\(clock.now - started)"])
        let elapsed = (clock.now - started).components
        let microseconds = elapsed.seconds * 1_000_000 + elapsed.attoseconds / 1_000_000_000_000
        pipeline.counters.updateHealth { $0.lastCommitSeconds = Double(microseconds) / 1_000_000 }
        pipeline.counters.recordCommit(clock.now - started)
        publishCounters()
        try producer.beginTransaction()
    }

    /// Sends the final totals of windows that closed in the last batch into the open transaction right away, so
    /// that the broker takes them while the loop reads on and the commit has little left to wait for. A failure
    /// poisons the loop like a failed commit.
    private func sendClosedWindows() throws {
        if let flushFailure { throw flushFailure }
        do {
            for state in partitions.values {
                let finals = state.flow.second.takeEmissions(symbols: state.context.symbols, provisional: false)
                try send(finals)
                sentSinceCommit += finals.count
            }
        } catch {
            flushFailure = error
            throw error
        }
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

    /// Publishes lag, progress and open windows for `/readyz` and `/metrics`.
    private func publishHealth(_ consumer: KafkaConsumer) {
        var progress: [KafkaTopicPartition: PipelineCounters.Health.Partition] = [:]
        var openWindows = 0
        for (tp, state) in partitions {
            let lag = consumer.cachedWatermarks(tp).map { max(0, $0.high - max(state.nextOffset ?? $0.low, $0.low)) }
            progress[tp] = .init(lag: lag, lastProgress: state.lastProgressAt)
            openWindows += state.flow.second.openWindowCount
        }
        let now = ContinuousClock.now
        pipeline.counters.updateHealth {
            $0.lastLoop = now
            $0.partitions = progress
            $0.openWindows = openWindows
        }
    }

    private func publishCounters() {
        pipeline.counters.publish(delta)
        delta = PipelineCounters.Snapshot()
    }

    private func rebalance(_ event: KafkaRebalance, _ consumer: KafkaConsumer) -> [KafkaTopicPartition: Int64] {
        do {
            switch event {
            case .assigned(let assigned):
                pipeline.counters.updateHealth { $0.joined = true }
                return try assign(assigned, consumer)
            case .revoked(let gone):
                try flush(consumer)
                revoked = [:]
                for tp in gone { revoked[tp] = partitions.removeValue(forKey: tp) }
                byIdentity = byIdentity.filter { partitions[$0.value.topicPartition] != nil }
                return [:]
            case .lost(let lost):
                // A zombie: another member may own these partitions now, and the broker refuses our offsets. The
                // open transaction (which spans every partition) is aborted and all state dropped; partitions
                // assigned again are restored from their committed checkpoints.
                logger.warning("partitions lost (this member was out of the group): aborting the open transaction",
                               metadata: ["partitions": "\(lost)"])
                try producer.abortTransaction()
                try producer.beginTransaction()
                partitions = [:]
                revoked = [:]
                byIdentity = [:]
                deadLettersPending = false
                deadLetterFailure = nil
                return [:]
            case .assignFailed(let failed):
                // Never read: drop what `.assigned` prepared (the next poll throws, and the loop stops).
                for tp in failed { partitions[tp] = nil }
                byIdentity = byIdentity.filter { partitions[$0.value.topicPartition] != nil }
                return [:]
            }
        } catch {
            logger.error("rebalance handling failed: \(error)")
            rebalanceError = rebalanceError ?? error
            return [:]
        }
    }

    /// Restores each assigned partition at the group's committed offset: from the checkpoint committed with that
    /// offset (see `Checkpoint.resume`), the partition is re-read silently from the checkpoint's rebuild-from offset,
    /// which restores its open windows and dedupe memory. A partition revoked and given straight back at the offset it committed keeps its
    /// state.
    private func assign(_ assigned: [KafkaTopicPartition], _ consumer: KafkaConsumer) throws -> [KafkaTopicPartition: Int64] {
        defer { revoked = [:] }
        var committed: [KafkaTopicPartition: Int64] = [:]
        for entry in try consumer.committed(assigned) where entry.offset >= 0 { committed[entry.topicPartition] = entry.offset }
        var starts: [KafkaTopicPartition: Int64] = [:]
        var toRestore: [KafkaTopicPartition] = []
        for tp in assigned {
            if let kept = revoked[tp], let offset = committed[tp], kept.nextOffset == offset, kept.committed?.nextOffset == offset {
                partitions[tp] = kept
                starts[tp] = offset
            } else {
                partitions[tp] = PartitionState(tp, topology: configuration.topology)
                if committed[tp] != nil { toRestore.append(tp) }
            }
        }
        guard !toRestore.isEmpty else { return starts }
        let checkpoints = try Checkpoint.readAll(configuration.kafka, topic: configuration.checkpointTopic,
                                                 group: configuration.groupID, logger: logger)
        for tp in toRestore {
            guard let state = partitions[tp], let offset = committed[tp] else { continue }
            let resume = Checkpoint.resume(committed: offset, candidates: checkpoints[tp])
            starts[tp] = resume.start
            // Until the rebuild has read up to `replayUntil`, the partition has no checkpoint to commit.
            state.nextOffset = resume.start
            state.replayUntil = resume.replayUntil
            if let checkpoint = resume.checkpoint {
                state.context.watermark = checkpoint.watermark
                if checkpoint.nextOffset == offset { state.committed = checkpoint }
                logger.info("restoring from checkpoint", metadata: [
                    "partition": "\(tp)", "rebuild_from": "\(checkpoint.rebuildFrom)", "checkpoint": "\(checkpoint.nextOffset)",
                    "committed_offset": "\(offset)", "seconds_since_start": "\(ContinuousClock.now - started)"])
            } else {
                logger.warning("no checkpoint for a partition with a committed offset: accounting it again from its beginning",
                               metadata: ["partition": "\(tp)", "committed_offset": "\(offset)"])
            }
        }
        return starts
    }

    private func caughtUp(_ consumer: KafkaConsumer, wanted: Int) -> Bool {
        guard consumer.assignment.count >= wanted else { return false }
        // Watermarks from fetch responses: some brokers answer ListOffsets with a stale end offset.
        let positions = consumer.positions(Array(consumer.assignment))
        for tp in consumer.assignment {
            guard let high = consumer.cachedWatermarks(tp)?.high else { return false }
            if max(partitions[tp]?.nextOffset ?? 0, positions[tp] ?? 0) < high { return false }
        }
        return true
    }
}
