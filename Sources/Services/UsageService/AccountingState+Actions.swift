import Kafka
import UsageStages
import UsageStandard

// The states of `AccountingState`'s open transaction and the actions its events return (see the type's table).
extension AccountingState {
    /// Where the open Kafka transaction stands: the one piece of state the exactly-once rules turn on. The bulk data
    /// (partitions, counters) are stored beside it, so a record never switches on (or copies) a payload.
    /// `committedBefore` tells whether any transaction committed yet, for the "first transaction committed" log.
    enum TransactionState: Equatable {
        /// The open transaction holds nothing yet: a commit is only due if a partition has a total or a checkpoint.
        case empty(committedBefore: Bool)
        /// The open transaction holds `finals` final totals sent at once and, if `deadLetters`, dead letters: a commit
        /// is due even if nothing else changed, or they would wait for the next record.
        case holding(finals: Int, deadLetters: Bool, committedBefore: Bool)
        /// `plan` was handed to the driver, which is sending and committing it with the `finals` sent before; the
        /// partitions in `forgetting` (a revoke's) are forgotten once it committed. Only `committed` or
        /// `commitFailed` can follow, since the driver commits without polling in between.
        case committing(plan: CommitPlan, finals: Int, forgetting: [KafkaTopicPartition]?, committedBefore: Bool)
        /// A dead letter could not be enqueued, so no checkpoint may pass it: the transaction can only be aborted,
        /// because the partitions were lost (which begins a clean one) or because the loop stops.
        case deadLetterFailed(String, committedBefore: Bool)
        /// A send or commit failed (or an event came that cannot happen): memory may be ahead of what committed, so
        /// only a restart from the committed checkpoints may go on. Never left.
        case failed(String, committedBefore: Bool)

        /// The state's name, for the message of an illegal event.
        var name: String {
            switch self {
            case .empty: "empty"
            case .holding: "holding"
            case .committing: "committing"
            case .deadLetterFailed: "dead letter failed"
            case .failed: "failed"
            }
        }
    }

    /// What to do with one record read: nothing, or send it to the dead-letter topic with the reason. No payload but
    /// the error, so the per-record path allocates nothing.
    enum RecordAction {
        /// The record was counted, dropped as out of scope or repeated, or only re-read: nothing to send.
        case none
        /// Send the record unchanged to the dead-letter topic, into the open transaction; call `deadLetterFailed`
        /// if it cannot be enqueued.
        case deadLetter(UsageDecodeError)
    }

    /// What a commit puts in one Kafka transaction besides the records already sent into it.
    struct CommitPlan: Equatable {
        /// Totals to send now.
        var totals: [UsageTotal]
        /// Checkpoints to send, with the consumer offsets they carry.
        var checkpoints: [Checkpoint]
    }

    /// What the driver must do after `commitDue` or `revoked`.
    enum CommitAction: Equatable {
        /// Nothing changed since the last commit (after `revoked`: the partitions are forgotten already).
        case nothing
        /// Send the plan's totals and checkpoints, send the offsets, commit, then call `committed` (or
        /// `commitFailed`).
        case commit(CommitPlan)
        /// The transaction cannot be committed: abort it and stop with this error.
        case fail(String)
    }

    /// What the driver must do with the open transaction after `committed` or `lost`.
    enum TransactionAction: Equatable {
        /// Begin the next transaction; `firstCommit` tells that the one just committed was the first (for the log).
        case beginNext(firstCommit: Bool)
        /// Abort the open transaction (it spans partitions another member may own now) and begin a new one.
        case abortAndBeginNext
        /// Abort the open transaction and stop with this error: the state is poisoned.
        case fail(String)
    }

    /// What the driver must do with an assignment.
    enum AssignAction: Equatable {
        /// Start reading at these offsets (partitions not listed start at the group's committed offset, or per
        /// `auto.offset.reset` without one).
        case start([KafkaTopicPartition: Int64])
        /// Read the checkpoint topic, then call `restore` with what it holds for these partitions.
        case readCheckpoints([KafkaTopicPartition])
        /// Stop with this error: the state is poisoned.
        case fail(String)
    }

    /// What the driver must do with the checkpoints `restore` was given.
    enum RestoreAction {
        /// Start the partitions at these offsets; `resumed` tells, for the log, the checkpoint each resumes from (nil:
        /// accounted again from its beginning).
        case start([KafkaTopicPartition: Int64], resumed: [(KafkaTopicPartition, Checkpoint?)])
        /// Stop with this error: the state is poisoned.
        case fail(String)
    }
}

extension AccountingState {
    /// One assigned input partition.
    struct Partition {
        let topicPartition: KafkaTopicPartition
        var flow: Flow
        var context = FlowContext()
        /// The next offset to commit ("last processed + 1"); nil until a record was read or a restore set it.
        var nextOffset: Int64?
        /// Records below this offset were accounted before the last restart and are only re-read.
        var replayUntil: Int64 = -1
        /// The last checkpoint committed (in a Kafka transaction) for this partition.
        var committed: Checkpoint?
        /// When `nextOffset` last moved (checked once per poll, not per record), for idle advancing and stalls.
        var lastProgressAt: ContinuousClock.Instant
        /// `nextOffset` as `tick` last saw it: a change is progress.
        var lastProgressOffset: Int64?

        /// Runs one record through the flow.
        @inline(__always)
        mutating func process(_ record: IncomingRecord<Headers>) -> StageOutcome<Void> {
            flow.process(record, context: &context)
        }

        /// The checkpoint to commit now; nil while the partition is still being rebuilt or nothing was read.
        var checkpoint: Checkpoint? {
            guard let next = nextOffset, next >= replayUntil else { return nil }
            return Checkpoint(topicPartition, nextOffset: next, rebuildFrom: min(flow.rebuildFrom ?? next, next),
                              watermark: context.watermark)
        }
    }

    // MARK: Queries (no event: they change nothing)

    /// The slot of an assigned partition, for `recordRead`.
    func slot(of tp: KafkaTopicPartition) -> Int? { index[tp] }

    /// The watermark of an assigned partition.
    func watermark(of tp: KafkaTopicPartition) -> Timestamp? { index[tp].flatMap { partitions[$0].context.watermark } }

    /// The next offset of an assigned partition.
    func nextOffset(of tp: KafkaTopicPartition) -> Int64? { index[tp].flatMap { partitions[$0].nextOffset } }

    /// Whether a commit is under way (between `commit` and `committed` or `commitFailed`).
    var isCommitting: Bool {
        if case .committing = transaction { return true }
        return false
    }

    /// Final totals sent into the open transaction (or the one being committed) since the last commit.
    var sentSinceCommit: Int {
        switch transaction {
        case .holding(let finals, _, _), .committing(_, let finals, _, _): finals
        case .empty, .deadLetterFailed, .failed: 0
        }
    }

    /// Whether any transaction committed yet.
    var committedOnce: Bool {
        switch transaction {
        case .empty(let before), .holding(_, _, let before), .committing(_, _, _, let before),
             .deadLetterFailed(_, let before), .failed(_, let before): before
        }
    }

    /// Lag and last progress of every partition, and the open windows, for `/readyz` and `/metrics`.
    func health(highWatermark: (KafkaTopicPartition) -> (low: Int64, high: Int64)?)
        -> (partitions: [KafkaTopicPartition: PipelineCounters.Health.Partition], openWindows: Int) {
        var progress: [KafkaTopicPartition: PipelineCounters.Health.Partition] = [:]
        var openWindows = 0
        for partition in partitions {
            let lag = highWatermark(partition.topicPartition).map { max(0, $0.high - max(partition.nextOffset ?? $0.low, $0.low)) }
            progress[partition.topicPartition] = .init(lag: lag, lastProgress: partition.lastProgressAt)
            openWindows += partition.flow.openWindowCount
        }
        return (progress, openWindows)
    }
}

/// Partitions in a stable order: by topic, then number.
func partitionOrder(_ a: KafkaTopicPartition, _ b: KafkaTopicPartition) -> Bool {
    (a.topic, a.partition) < (b.topic, b.partition)
}
