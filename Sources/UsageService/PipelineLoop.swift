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
    /// The offset of the last checkpoint written.
    var checkpointedOffset: Int64?

    init(_ tp: KafkaTopicPartition, topology: Topology) {
        topicPartition = tp
        flow = topology.makeFlow(partition: "\(tp.topic):\(tp.partition)")
    }
}

/// The consume loop. Lives on the pipeline thread only.
final class PipelineLoop {
    private let pipeline: UsagePipeline
    private let configuration: UsagePipelineConfiguration
    private let logger: Logger
    private let producer: KafkaProducer
    private let sink: PostgresTotalsSink
    private var consumer: KafkaConsumer?
    private var partitions: [KafkaTopicPartition: PartitionState] = [:]
    /// State of partitions revoked at the last rebalance, kept in case they come straight back.
    private var revoked: [KafkaTopicPartition: PartitionState] = [:]
    private var byIdentity: [PartitionIdentity: PartitionState] = [:]
    private var delta = PipelineCounters.Snapshot()
    private var rebalanceError: Error?
    private var rejectionsLogged = 0
    private var deadLetterFailure: KafkaError?
    /// Set once a flush failed: totals it had taken may be lost from memory, so no later checkpoint may be
    /// written by this loop (the restart rebuilds from the last good one).
    private var flushFailure: Error?
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
        let admin = try KafkaAdmin(configuration: configuration.kafka, logger: logger)
        try admin.createTopics([
            KafkaNewTopic(name: configuration.totalsTopic, partitions: 3, configs: ["cleanup.policy": "compact"]),
            KafkaNewTopic(name: configuration.deadLetterTopic, partitions: 3,
                          configs: ["cleanup.policy": "delete", "retention.ms": "\(35 * 86_400_000)"]),
        ])
        producer = try KafkaProducer(configuration: configuration.kafka, logger: logger)
        sink = try PostgresTotalsSink(url: configuration.databaseURL, table: configuration.topology.sinks.table, logger: logger)
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
        while !pipeline.shouldStop {
            let read = try consumer.poll(timeoutMilliseconds: 100) { record in process(record) }
            if let error = rebalanceError { throw error }
            if read > 0 { publishCounters() }
            advanceIdlePartitions(consumer)
            if clock.now - lastFlush >= interval {
                try flush(consumer)
                lastFlush = clock.now
            }
            if read == 0, case .untilCaughtUp(let wanted) = pipeline.runMode, caughtUp(consumer, wanted: wanted) {
                try flush(consumer)
                logger.info("caught up with every assigned partition; stopping")
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
        let incoming = IncomingRecord(headers: record, key: record.key, value: record.value,
                                      timestamp: record.timestampMilliseconds.map(Timestamp.init(milliseconds:)), offset: offset)
        let outcome = state.flow.process(incoming, context: &state.context)
        guard !replaying else { return }
        delta.recordsRead += 1
        switch outcome {
        case .next:
            delta.eventsCounted += 1
        case .dropped(.outOfScope):
            delta.outOfScope += 1
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
    private func advanceIdlePartitions(_ consumer: KafkaConsumer) {
        guard let idle = configuration.topology.window.idleMilliseconds else { return }
        let now = ContinuousClock.now
        let wallClock = Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
        for state in partitions.values {
            if state.nextOffset != state.lastProgressOffset {
                state.lastProgressOffset = state.nextOffset
                state.lastProgressAt = now
                continue
            }
            guard now - state.lastProgressAt >= .milliseconds(idle), state.flow.second.openWindowCount > 0,
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
    /// where it came from. Delivery is awaited with the next flush, before the checkpoint that passes it.
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
        do {
            try producer.send(topic: configuration.deadLetterTopic, key: record.key.map { Array($0) },
                              value: record.value.map { Array($0) }, headers: headers,
                              timestampMilliseconds: record.timestampMilliseconds)
        } catch {
            // Not sent means not passed: the flush fails before any checkpoint moves past this record.
            deadLetterFailure = deadLetterFailure ?? error
        }
    }

    /// Emits changed totals to the totals topic (acknowledged), then writes them with the partitions'
    /// checkpoints to PostgreSQL in one transaction, then commits the consumer offsets.
    private func flush(_ consumer: KafkaConsumer) throws {
        if let flushFailure { throw flushFailure }
        do {
            try emitAndCheckpoint(consumer)
        } catch {
            flushFailure = error
            throw error
        }
    }

    private func emitAndCheckpoint(_ consumer: KafkaConsumer) throws {
        rejectionsLogged = 0
        if let failure = deadLetterFailure { throw failure }
        var totals: [UsageTotal] = []
        for state in partitions.values { totals.append(contentsOf: state.flow.second.takeEmissions()) }
        var checkpoints: [Checkpoint] = []
        for state in partitions.values {
            guard let next = state.nextOffset, next != state.checkpointedOffset else { continue }
            checkpoints.append(Checkpoint(state.topicPartition, nextOffset: next,
                                          rebuildFrom: min(state.flow.second.rebuildFrom ?? next, next),
                                          watermark: state.context.watermark))
        }
        guard !totals.isEmpty || !checkpoints.isEmpty else { return }
        // Awaiting deliveries covers the dead-letter records sent since the last flush too.
        for total in totals {
            try producer.send(topic: configuration.totalsTopic, key: Array(total.recordKey.utf8),
                              value: UsageTotalCodec.encode(total, source: configuration.totalsSource),
                              headers: totalsHeaders)
        }
        try producer.awaitDeliveries()
        try sink.write(totals, checkpoints: checkpoints, group: configuration.groupID)
        delta.totalsWritten += totals.count
        for checkpoint in checkpoints { partitions[checkpoint.topicPartition]?.checkpointedOffset = checkpoint.nextOffset }
        if !checkpoints.isEmpty {
            // Committed offsets are for lag monitoring and tools; the checkpoint is what restarts use.
            try consumer.commit(checkpoints.map { KafkaCommittedOffset($0.topicPartition, offset: $0.nextOffset) })
            delta.commits += 1
        }
        publishCounters()
    }

    private func publishCounters() {
        pipeline.counters.publish(delta)
        delta = PipelineCounters.Snapshot()
    }

    private func rebalance(_ event: KafkaRebalance, _ consumer: KafkaConsumer) -> [KafkaTopicPartition: Int64] {
        do {
            switch event {
            case .assigned(let assigned):
                return try assign(assigned, consumer)
            case .revoked(let lost):
                try flush(consumer)
                revoked = [:]
                for tp in lost { revoked[tp] = partitions.removeValue(forKey: tp) }
                byIdentity = byIdentity.filter { partitions[$0.value.topicPartition] != nil }
                return [:]
            }
        } catch {
            logger.error("rebalance handling failed: \(error)")
            rebalanceError = rebalanceError ?? error
            return [:]
        }
    }

    private func assign(_ assigned: [KafkaTopicPartition], _ consumer: KafkaConsumer) throws -> [KafkaTopicPartition: Int64] {
        let checkpoints = try sink.checkpoints(group: configuration.groupID, partitions: assigned)
        let missing = assigned.filter { checkpoints[$0] == nil }
        let committed = missing.isEmpty ? [] : try consumer.committed(missing)
        var starts: [KafkaTopicPartition: Int64] = [:]
        defer { revoked = [:] }
        for tp in assigned {
            // A partition that comes back at the offset we checkpointed (nobody else accounted it meanwhile)
            // keeps its in-memory state: no rebuild needed.
            if let kept = revoked[tp], let checkpoint = checkpoints[tp],
               kept.checkpointedOffset == checkpoint.nextOffset, kept.nextOffset == checkpoint.nextOffset {
                partitions[tp] = kept
                starts[tp] = checkpoint.nextOffset
                continue
            }
            let state = PartitionState(tp, topology: configuration.topology)
            partitions[tp] = state
            if let checkpoint = checkpoints[tp] {
                state.nextOffset = checkpoint.nextOffset
                state.checkpointedOffset = checkpoint.nextOffset
                state.replayUntil = checkpoint.nextOffset
                state.context.watermark = checkpoint.watermark
                starts[tp] = checkpoint.rebuildFrom
                logger.info("resuming from checkpoint", metadata: [
                    "partition": "\(tp)", "rebuild_from": "\(checkpoint.rebuildFrom)", "next_offset": "\(checkpoint.nextOffset)"])
            } else if let offset = committed.first(where: { $0.topicPartition == tp })?.offset, offset >= 0 {
                // Offsets committed without a checkpoint (e.g. the checkpoint table was dropped): open windows
                // cannot be rebuilt, so their totals restart from this offset.
                logger.warning("no checkpoint for a partition with committed offsets; open windows are not rebuilt",
                               metadata: ["partition": "\(tp)", "offset": "\(offset)"])
                state.nextOffset = offset
            }
        }
        return starts
    }

    private func caughtUp(_ consumer: KafkaConsumer, wanted: Int) -> Bool {
        guard consumer.assignment.count >= wanted else { return false }
        // Watermarks from fetch responses: some brokers answer ListOffsets with a stale end offset.
        for tp in consumer.assignment {
            guard let high = consumer.cachedWatermarks(tp)?.high else { return false }
            if (partitions[tp]?.nextOffset ?? 0) < high { return false }
        }
        return true
    }
}
