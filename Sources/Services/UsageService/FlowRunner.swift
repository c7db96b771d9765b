import Kafka
import UsageStages
import UsageStandard

/// Feeds what a consumer polls into the partitions' flows: the step the live loop (`PipelineLoop`) and replays
/// (`Replay`) share. Owns the `AccountingState`; a rebalance handler running inside `poll` may change it (its
/// accesses never overlap the per-record ones).
final class FlowRunner<Flow: EmittingStage> where Flow.Input == IncomingRecord<KafkaRecord>, Flow.Output == Void {
    /// The state the records go into.
    var state: AccountingState<KafkaRecord, Flow>
    /// Slots by the record's cheap topic identity, valid for `cachedGeneration` of the state.
    private var slots: [PartitionIdentity: Int] = [:]
    private var cachedGeneration = -1

    private struct PartitionIdentity: Hashable {
        var topic: ObjectIdentifierLike
        var partition: Int32
    }

    init(state: AccountingState<KafkaRecord, Flow>) {
        self.state = state
    }

    /// Polls one batch (waiting at most `timeoutMilliseconds` for the first record) and runs each record through its
    /// partition's flow; `deadLetter` is called for each record the flow refuses. Records of partitions not (or no
    /// longer) assigned are skipped. Returns the number of records polled.
    @discardableResult
    func poll(_ consumer: KafkaConsumer, timeoutMilliseconds: Int32,
              deadLetter: (KafkaRecord, UsageDecodeError) -> Void) throws -> Int {
        try consumer.poll(timeoutMilliseconds: timeoutMilliseconds) { record in
            guard let slot = slot(of: record) else { return }
            if case .deadLetter(let error) = state.recordRead(record.incoming, slot: slot) { deadLetter(record, error) }
        }
    }

    private func slot(of record: KafkaRecord) -> Int? {
        if cachedGeneration != state.generation {
            slots = [:]
            cachedGeneration = state.generation
        }
        let identity = PartitionIdentity(topic: record.topicIdentity, partition: record.partition)
        if let slot = slots[identity] { return slot }
        guard let slot = state.slot(of: KafkaTopicPartition(topic: record.topic, partition: record.partition)) else { return nil }
        slots[identity] = slot
        return slot
    }
}
