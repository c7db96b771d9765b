import Kafka
import UsageStages
import UsageStandard

/// The accounting loop's state, without I/O: the assigned partitions with their flows, the open Kafka transaction and
/// what it holds, and the counters. Each method takes an event (records read, partitions assigned, revoked or lost, a
/// commit due, committed or failed) and returns what the driver (`PipelineLoop`) must do: send these totals, commit
/// this plan, start reading these partitions at these offsets, abort. So every transition is unit-tested without a
/// broker (`UsageServiceTests`).
///
/// Exactly once rests on three rules kept here: a partition's checkpoint is only committed once its rebuild has read
/// up to the offset it was restored at; a failed send or commit poisons the state (memory is then ahead of what
/// committed, so only a restart from the committed checkpoints may go on); lost partitions drop all state.
struct AccountingState<Headers: CloudEventHeaderSource, Flow: EmittingStage>
    where Flow.Input == IncomingRecord<Headers>, Flow.Output == Void {
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

    /// What a commit puts in one Kafka transaction besides the records already sent into it.
    struct CommitPlan: Equatable {
        /// Totals to send now.
        var totals: [UsageTotal]
        /// Checkpoints to send, with the consumer offsets they carry.
        var checkpoints: [Checkpoint]
    }

    /// What the driver must do after `commitDue` or `revoking`.
    enum CommitAction: Equatable {
        /// Nothing changed since the last commit.
        case nothing
        /// Send the plan's totals and checkpoints, send the offsets, commit, then call `committed` (or `failed`).
        case commit(CommitPlan)
        /// The state is poisoned: abort the open transaction and stop with this error.
        case fail(String)
    }

    /// What the driver must do with an assignment.
    enum AssignAction: Equatable {
        /// Start reading at these offsets (partitions not listed start at the group's committed offset, or per
        /// `auto.offset.reset` without one).
        case start([KafkaTopicPartition: Int64])
        /// Read the checkpoint topic, then call `restore` with what it holds for these partitions.
        case readCheckpoints([KafkaTopicPartition])
    }

    /// Where the flows of newly assigned partitions come from.
    let makeFlow: (KafkaTopicPartition) -> Flow
    /// Records behind the end beyond which a partition holds its provisional totals back.
    let provisionalLagLimit: Int64
    private(set) var partitions: [Partition] = []
    private var index: [KafkaTopicPartition: Int] = [:]
    /// Changes whenever slots move (assignment, revocation, loss): a driver's slot cache is stale then.
    private(set) var generation = 0
    /// Partitions revoked at the last rebalance, kept in case they come straight back.
    private var revoked: [KafkaTopicPartition: Partition] = [:]
    /// Partitions of the current assignment waiting for `restore`, with their committed offsets.
    private var pendingRestore: [KafkaTopicPartition: Int64] = [:]
    /// Final totals already sent into the open transaction, and whether dead letters were.
    private(set) var sentSinceCommit = 0
    private(set) var deadLettersPending = false
    /// Set once a send or commit failed (see the type's documentation); never cleared.
    private(set) var failure: String?
    /// Set when a dead letter could not be enqueued into the open transaction; cleared when that transaction is
    /// aborted because the partitions were lost.
    private(set) var deadLetterFailure: String?
    /// Counters since the driver last took them.
    var delta = PipelineCounters.Snapshot()
    /// Whether any transaction committed yet.
    private(set) var committedOnce = false

    init(makeFlow: @escaping (KafkaTopicPartition) -> Flow, provisionalLagLimit: Int64 = 10_000) {
        self.makeFlow = makeFlow
        self.provisionalLagLimit = provisionalLagLimit
    }

    /// The slot of an assigned partition, for `recordRead`.
    func slot(of tp: KafkaTopicPartition) -> Int? { index[tp] }

    // MARK: Records

    /// What to do with one record read: nothing, or send it to the dead-letter topic with the reason.
    enum RecordAction {
        case none
        case deadLetter(UsageDecodeError)
    }

    /// Runs one record of the partition in `slot` through its flow. Records below the partition's restore point
    /// only rebuild state; the others are counted.
    mutating func recordRead(_ record: IncomingRecord<Headers>, slot: Int) -> RecordAction {
        let offset = record.offset
        partitions[slot].nextOffset = offset + 1
        let replaying = offset < partitions[slot].replayUntil
        partitions[slot].context.replaying = replaying
        let outcome = partitions[slot].process(record)
        guard !replaying else { return .none }
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
            delta.rejected[error.reason.rawValue, default: 0] += 1
            deadLettersPending = true
            return .deadLetter(error)
        }
        return .none
    }

    /// A dead letter could not be enqueued: not sent means not passed, so no checkpoint may move past it.
    mutating func deadLetterFailed(_ error: String) {
        deadLetterFailure = deadLetterFailure ?? error
    }

    /// After a poll batch: the final totals of windows that closed in it, to send into the open transaction at once
    /// (so that the broker takes them while the loop reads on). The driver calls `commitFailed` if sending fails.
    mutating func takeClosedWindows() -> [UsageTotal] {
        guard failure == nil else { return [] }
        var finals: [UsageTotal] = []
        for slot in partitions.indices {
            finals += partitions[slot].flow.takeEmissions(symbols: partitions[slot].context.symbols, provisional: false)
        }
        sentSinceCommit += finals.count
        return finals
    }

    // MARK: Transactions

    /// The commit interval passed (or the loop stops): what the next transaction holds. `highWatermark` tells a
    /// partition's end as last seen; a partition more than `provisionalLagLimit` records behind holds its provisional
    /// totals back (they would be outdated by the next commit); final totals are never held back.
    mutating func commitDue(highWatermark: (KafkaTopicPartition) -> Int64?) -> CommitAction {
        if let failure = failure ?? deadLetterFailure { return .fail(failure) }
        var totals: [UsageTotal] = []
        var checkpoints: [Checkpoint] = []
        for slot in partitions.indices {
            let tp = partitions[slot].topicPartition
            let lag = partitions[slot].nextOffset.flatMap { next in highWatermark(tp).map { $0 - next } }
            // Nor while the partition is being rebuilt: its windows do not hold every event yet.
            let rebuilt = (partitions[slot].nextOffset ?? -1) >= partitions[slot].replayUntil
            let provisional = (lag ?? 0) <= provisionalLagLimit && rebuilt
            totals += partitions[slot].flow.takeEmissions(symbols: partitions[slot].context.symbols, provisional: provisional)
            if let checkpoint = partitions[slot].checkpoint, checkpoint != partitions[slot].committed {
                checkpoints.append(checkpoint)
            }
        }
        guard !totals.isEmpty || sentSinceCommit > 0 || !checkpoints.isEmpty || deadLettersPending else { return .nothing }
        return .commit(CommitPlan(totals: totals, checkpoints: checkpoints))
    }

    /// The transaction of `plan` committed (the driver begins the next one).
    mutating func committed(_ plan: CommitPlan) {
        for checkpoint in plan.checkpoints {
            if let slot = index[checkpoint.topicPartition] { partitions[slot].committed = checkpoint }
        }
        delta.totalsWritten += plan.totals.count + sentSinceCommit
        delta.commits += 1
        sentSinceCommit = 0
        deadLettersPending = false
        committedOnce = true
    }

    /// A send or the commit failed: the driver aborts the transaction and stops; nothing may be committed after.
    mutating func commitFailed(_ error: String) {
        failure = failure ?? error
    }

    // MARK: Rebalances

    /// Partitions were assigned; `committed` holds the group's committed offsets for them (absent: none). A partition
    /// revoked at the last rebalance and given straight back at the offset it committed keeps its state; the others
    /// start afresh, restored from their checkpoints when the group has an offset for them.
    mutating func assigned(_ assigned: [KafkaTopicPartition], committed: [KafkaTopicPartition: Int64],
                           now: ContinuousClock.Instant) -> AssignAction {
        defer { revoked = [:] }
        var starts: [KafkaTopicPartition: Int64] = [:]
        pendingRestore = [:]
        for tp in assigned where index[tp] == nil {
            if let kept = revoked[tp], let offset = committed[tp], kept.nextOffset == offset, kept.committed?.nextOffset == offset {
                add(kept)
                starts[tp] = offset
            } else {
                add(Partition(topicPartition: tp, flow: makeFlow(tp), lastProgressAt: now))
                if let offset = committed[tp] { pendingRestore[tp] = offset }
            }
        }
        guard pendingRestore.isEmpty else { return .readCheckpoints(pendingRestore.keys.sorted(by: partitionOrder)) }
        return .start(starts)
    }

    /// The checkpoints found for the partitions `assigned` asked about (by partition, then next offset). Returns where
    /// each starts, and for logging, the checkpoint each resumes from (nil: accounted again from its beginning).
    mutating func restore(_ checkpoints: [KafkaTopicPartition: [Int64: Checkpoint]])
        -> (starts: [KafkaTopicPartition: Int64], resumed: [(KafkaTopicPartition, Checkpoint?)]) {
        var starts: [KafkaTopicPartition: Int64] = [:]
        var resumed: [(KafkaTopicPartition, Checkpoint?)] = []
        for (tp, offset) in pendingRestore.sorted(by: { partitionOrder($0.key, $1.key) }) {
            guard let slot = index[tp] else { continue }
            let resume = Checkpoint.resume(committed: offset, candidates: checkpoints[tp])
            starts[tp] = resume.start
            // Until the rebuild has read up to `replayUntil`, the partition has no checkpoint to commit.
            partitions[slot].nextOffset = resume.start
            partitions[slot].replayUntil = resume.replayUntil
            if let checkpoint = resume.checkpoint {
                partitions[slot].context.watermark = checkpoint.watermark
                if checkpoint.nextOffset == offset { partitions[slot].committed = checkpoint }
            }
            resumed.append((tp, resume.checkpoint))
        }
        pendingRestore = [:]
        return (starts, resumed)
    }

    /// Partitions are being revoked: first commit what they (and every other partition) hold, with `commitDue`; then
    /// call `revoked`.
    mutating func revoked(_ gone: [KafkaTopicPartition]) {
        revoked = [:]
        for tp in gone {
            if let partition = remove(tp) { revoked[tp] = partition }
        }
    }

    /// The consumer could not take partitions it was given: forget them (their records will not come).
    mutating func assignmentFailed(_ failed: [KafkaTopicPartition]) {
        for tp in failed { _ = remove(tp) }
        for tp in failed { pendingRestore[tp] = nil }
    }

    /// The member was out of the group (a zombie): another member may own the partitions and the broker refuses this
    /// member's offsets. The driver aborts the open transaction (which spans every partition) and begins a new one;
    /// all state is dropped, and partitions assigned again are restored from their committed checkpoints.
    mutating func lost() {
        partitions = []
        index = [:]
        revoked = [:]
        pendingRestore = [:]
        generation += 1
        deadLettersPending = false
        deadLetterFailure = nil
        sentSinceCommit = 0
    }

    // MARK: Time

    /// Advances the watermark of partitions that are caught up and have had no record for `idleMilliseconds` to
    /// `wallClock - idleMilliseconds`, so that a quiet tenant's windows close; also records when each partition last
    /// moved. The new watermark is part of the next checkpoint, so a restart makes the same decision. Returns the
    /// partitions advanced, with their new watermark.
    mutating func tick(now: ContinuousClock.Instant, wallClock: Int64, idleMilliseconds: Int64?,
                       highWatermark: (KafkaTopicPartition) -> Int64?) -> [(KafkaTopicPartition, Timestamp)] {
        var advanced: [(KafkaTopicPartition, Timestamp)] = []
        for slot in partitions.indices {
            if partitions[slot].nextOffset != partitions[slot].lastProgressOffset {
                partitions[slot].lastProgressOffset = partitions[slot].nextOffset
                partitions[slot].lastProgressAt = now
                continue
            }
            let partition = partitions[slot]
            guard let idle = idleMilliseconds, now - partition.lastProgressAt >= .milliseconds(idle),
                  partition.flow.openWindowCount > 0, let next = partition.nextOffset, next >= partition.replayUntil,
                  let high = highWatermark(partition.topicPartition), next >= high else { continue }
            let target = Timestamp(milliseconds: wallClock - idle)
            guard target.milliseconds > (partition.context.watermark?.milliseconds ?? .min) else { continue }
            partitions[slot].context.replaying = false
            partitions[slot].context.watermark = target
            partitions[slot].flow.watermarkAdvanced(context: partitions[slot].context)
            advanced.append((partition.topicPartition, target))
        }
        return advanced
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

    /// The watermark of an assigned partition.
    func watermark(of tp: KafkaTopicPartition) -> Timestamp? { index[tp].flatMap { partitions[$0].context.watermark } }

    /// Closes every open window of every partition, as if time had moved far on (the end of a replay); their final
    /// totals are then taken with `takeClosedWindows`.
    mutating func closeAllWindows() {
        for slot in partitions.indices {
            partitions[slot].context.replaying = false
            partitions[slot].context.watermark = Timestamp(milliseconds: .max / 2)
            partitions[slot].flow.watermarkAdvanced(context: partitions[slot].context)
        }
    }

    /// The next offset of an assigned partition.
    func nextOffset(of tp: KafkaTopicPartition) -> Int64? { index[tp].flatMap { partitions[$0].nextOffset } }

    // MARK: Slots

    private mutating func add(_ partition: Partition) {
        index[partition.topicPartition] = partitions.count
        partitions.append(partition)
        generation += 1
    }

    private mutating func remove(_ tp: KafkaTopicPartition) -> Partition? {
        guard let slot = index.removeValue(forKey: tp) else { return nil }
        let partition = partitions.remove(at: slot)
        for later in slot..<partitions.count { index[partitions[later].topicPartition] = later }
        generation += 1
        return partition
    }
}

/// Partitions in a stable order: by topic, then number.
private func partitionOrder(_ a: KafkaTopicPartition, _ b: KafkaTopicPartition) -> Bool {
    (a.topic, a.partition) < (b.topic, b.partition)
}
