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
///
/// The partitions, their slot index and the counters are stored properties, touched per record without a copy; where
/// the open transaction stands is one enum, `TransactionState`, in the style of postgres-nio's state machines. An
/// event in a state where it cannot happen (`illegal` below) is a bug of the driver: debug builds stop at an
/// `assertionFailure`; release builds poison the state (`failed`) and return `fail`, so nothing commits after it.
///
/// | event \ state       | empty              | holding            | committing       | deadLetterFailed   | failed      |
/// |---------------------|--------------------|--------------------|------------------|--------------------|-------------|
/// | `recordRead`        | count; DL: holding | count; DL          | count (asserted) | count              | count       |
/// | `takeClosedWindows` | finals: holding    | finals: holding    | illegal          | finals             | none        |
/// | `deadLetterFailed`  | deadLetterFailed   | deadLetterFailed   | illegal          | keeps first        | stays       |
/// | `commitDue`         | nothing, or commit | commit             | illegal          | fail               | fail        |
/// | `revoked`           | the same + forget  | commit + forget    | illegal          | fail               | fail        |
/// | `committed`         | illegal            | illegal            | beginNext: empty | illegal            | illegal     |
/// | `commitFailed`      | failed             | failed             | failed           | failed             | keeps first |
/// | `lost`              | abort+begin: empty | abort+begin: empty | illegal          | abort+begin: empty | abort+begin |
///
/// DL: a refused record, sent as a dead letter. commit: returns the plan; the state is `committing`. forget: the
/// revoked partitions are forgotten once the commit succeeded (at once if nothing is due). abort+begin:
/// `abortAndBeginNext`, dropping every partition. `assigned`, `restore`, `assignmentFailed` and `tick` change no
/// transaction state and are illegal only while `committing`; `restore` is also illegal unless `assigned` just
/// returned `readCheckpoints`.
struct AccountingState<Headers: CloudEventHeaderSource, Flow: EmittingStage>
    where Flow.Input == IncomingRecord<Headers>, Flow.Output == Void {
    /// Where the flows of newly assigned partitions come from.
    let makeFlow: (KafkaTopicPartition) -> Flow
    /// Records behind the end beyond which a partition holds its provisional totals back.
    let provisionalLagLimit: Int64
    /// The assigned partitions, by slot.
    private(set) var partitions: [Partition] = []
    /// The slot of each assigned partition.
    private(set) var index: [KafkaTopicPartition: Int] = [:]
    /// Changes whenever slots move (assignment, revocation, loss): a driver's slot cache is stale then.
    private(set) var generation = 0
    /// Partitions revoked at the last rebalance, kept in case they come straight back.
    private var revoked: [KafkaTopicPartition: Partition] = [:]
    /// Partitions of the current assignment waiting for `restore`, with their committed offsets.
    private var pendingRestore: [KafkaTopicPartition: Int64] = [:]
    /// Where the open transaction stands.
    private(set) var transaction = TransactionState.empty(committedBefore: false)
    /// Counters since the driver last took them.
    var delta = PipelineCounters.Snapshot()

    init(makeFlow: @escaping (KafkaTopicPartition) -> Flow, provisionalLagLimit: Int64 = 10_000) {
        self.makeFlow = makeFlow
        self.provisionalLagLimit = provisionalLagLimit
    }

    // MARK: Records

    /// Runs one record of the partition in `slot` through its flow. Records below the partition's restore point
    /// only rebuild state; the others are counted. The hot path: it touches the transaction only for a dead letter.
    mutating func recordRead(_ record: IncomingRecord<Headers>, slot: Int) -> RecordAction {
        guard partitions.indices.contains(slot) else {
            // Not counted and no checkpoint may pass it: the state is poisoned.
            _ = illegal("a record for slot \(slot) (\(partitions.count) partitions)")
            return .none
        }
        assert(!isCommitting, "a record read cannot happen while the transaction is committing (a bug)")
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
            deadLetterSent()
            return .deadLetter(error)
        }
        return .none
    }

    /// A dead letter goes into the open transaction: a commit is due for it.
    private mutating func deadLetterSent() {
        switch transaction {
        case .empty(let before):
            transaction = .holding(finals: 0, deadLetters: true, committedBefore: before)
        case .holding(let finals, false, let before):
            transaction = .holding(finals: finals, deadLetters: true, committedBefore: before)
        case .holding, .deadLetterFailed, .failed:
            break
        case .committing:
            _ = illegal("a dead letter")
        }
    }

    /// A dead letter could not be enqueued: not sent means not passed, so no checkpoint may move past it. A report of
    /// what the driver already did; the next `commitDue` returns `fail`, unless the partitions are lost first.
    mutating func deadLetterFailed(_ error: String) {
        switch transaction {
        case .empty(let before), .holding(_, _, let before):
            transaction = .deadLetterFailed(error, committedBefore: before)
        case .deadLetterFailed, .failed:
            break
        case .committing:
            _ = illegal("a failed dead letter")
        }
    }

    /// After a poll batch: the final totals of windows that closed in it, to send into the open transaction at once
    /// (so that the broker takes them while the loop reads on). The driver calls `commitFailed` if sending fails.
    mutating func takeClosedWindows() -> [UsageTotal] {
        switch transaction {
        case .empty, .holding, .deadLetterFailed: break
        case .failed: return []
        case .committing:
            _ = illegal("takeClosedWindows")
            return []
        }
        var finals: [UsageTotal] = []
        for slot in partitions.indices {
            finals += partitions[slot].flow.takeEmissions(symbols: partitions[slot].context.symbols, provisional: false)
        }
        guard !finals.isEmpty else { return finals }
        switch transaction {
        case .empty(let before):
            transaction = .holding(finals: finals.count, deadLetters: false, committedBefore: before)
        case .holding(let sent, let deadLetters, let before):
            transaction = .holding(finals: sent + finals.count, deadLetters: deadLetters, committedBefore: before)
        case .committing, .deadLetterFailed, .failed:
            // A transaction with a failed dead letter is only ever aborted: what it holds is not counted.
            break
        }
        return finals
    }

    // MARK: Transactions

    /// The commit interval passed (or the loop stops): what the next transaction holds. `highWatermark` tells a
    /// partition's end as last seen; a partition more than `provisionalLagLimit` records behind holds its provisional
    /// totals back (they would be outdated by the next commit); final totals are never held back.
    mutating func commitDue(highWatermark: (KafkaTopicPartition) -> Int64?) -> CommitAction {
        planCommit(highWatermark: highWatermark, forgetting: nil)
    }

    /// The transaction of `plan` committed: the driver begins the next one.
    mutating func committed(_ plan: CommitPlan) -> TransactionAction {
        // Compared once per commit: the checkpoints held as committed must be the ones that were.
        guard case .committing(let planned, let finals, let forgetting, let before) = transaction, plan == planned else {
            return .fail(illegal("committed (of a plan not planned)"))
        }
        for checkpoint in plan.checkpoints {
            if let slot = index[checkpoint.topicPartition] { partitions[slot].committed = checkpoint }
        }
        delta.totalsWritten += plan.totals.count + finals
        delta.commits += 1
        transaction = .empty(committedBefore: true)
        if let forgetting { forget(forgetting) }
        return .beginNext(firstCommit: !before)
    }

    /// A send or the commit failed: the driver aborts the transaction and stops; nothing may be committed after.
    /// A report of what the driver already did, so it returns nothing.
    mutating func commitFailed(_ error: String) {
        poison(error)
    }

    /// Plans a commit (`commitDue`, or `revoked` with the partitions to forget once it committed).
    private mutating func planCommit(highWatermark: (KafkaTopicPartition) -> Int64?,
                                     forgetting: [KafkaTopicPartition]?) -> CommitAction {
        let finals: Int, deadLetters: Bool, before: Bool
        switch transaction {
        case .empty(let committedBefore):
            (finals, deadLetters, before) = (0, false, committedBefore)
        case .holding(let sent, let pending, let committedBefore):
            (finals, deadLetters, before) = (sent, pending, committedBefore)
        case .committing:
            return .fail(illegal(forgetting == nil ? "commitDue" : "revoked"))
        case .deadLetterFailed(let reason, _), .failed(let reason, _):
            return .fail(reason)
        }
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
        guard !totals.isEmpty || finals > 0 || !checkpoints.isEmpty || deadLetters else {
            if let forgetting { forget(forgetting) }
            return .nothing
        }
        let plan = CommitPlan(totals: totals, checkpoints: checkpoints)
        transaction = .committing(plan: plan, finals: finals, forgetting: forgetting, committedBefore: before)
        return .commit(plan)
    }

    // MARK: Rebalances

    /// Partitions were assigned; `committed` holds the group's committed offsets for them (absent: none). A partition
    /// revoked at the last rebalance and given straight back at the offset it committed keeps its state; the others
    /// start afresh, restored from their checkpoints when the group has an offset for them.
    mutating func assigned(_ assigned: [KafkaTopicPartition], committed: [KafkaTopicPartition: Int64],
                           now: ContinuousClock.Instant) -> AssignAction {
        guard !isCommitting else { return .fail(illegal("assigned")) }
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

    /// The checkpoints found for the partitions `assigned` asked about (by partition, then next offset): where each
    /// starts, and for logging, the checkpoint each resumes from.
    mutating func restore(_ checkpoints: [KafkaTopicPartition: [Int64: Checkpoint]]) -> RestoreAction {
        guard !isCommitting, !pendingRestore.isEmpty else { return .fail(illegal("restore without readCheckpoints")) }
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
        return .start(starts, resumed: resumed)
    }

    /// Partitions are being revoked: commit what they (and every other partition) hold, as `commitDue` plans it; they
    /// are forgotten (kept aside in case they come straight back) once that committed, or at once if nothing is due.
    mutating func revoked(_ gone: [KafkaTopicPartition], highWatermark: (KafkaTopicPartition) -> Int64?) -> CommitAction {
        planCommit(highWatermark: highWatermark, forgetting: gone)
    }

    /// The consumer could not take partitions it was given: forget them (their records will not come). A report: the
    /// consumer's next poll throws, which stops the loop.
    mutating func assignmentFailed(_ failed: [KafkaTopicPartition]) {
        guard !isCommitting else {
            _ = illegal("assignmentFailed")
            return
        }
        for tp in failed { _ = remove(tp) }
        for tp in failed { pendingRestore[tp] = nil }
    }

    /// The member was out of the group (a zombie): another member may own the partitions and the broker refuses this
    /// member's offsets. The open transaction (which spans every partition) must be aborted and a new one begun; all
    /// state is dropped, and partitions assigned again are restored from their committed checkpoints. A failed
    /// dead letter goes with the aborted transaction; a failed commit does not (memory is still ahead).
    mutating func lost() -> TransactionAction {
        switch transaction {
        case .empty(let before), .holding(_, _, let before), .deadLetterFailed(_, let before):
            transaction = .empty(committedBefore: before)
        case .failed:
            break
        case .committing:
            return .fail(illegal("lost"))
        }
        partitions = []
        index = [:]
        revoked = [:]
        pendingRestore = [:]
        generation += 1
        return .abortAndBeginNext
    }

    // MARK: Time

    /// Advances the watermark of partitions that are caught up and have had no record for `idleMilliseconds` to
    /// `wallClock - idleMilliseconds`, so that a quiet tenant's windows close; also records when each partition last
    /// moved. The new watermark is part of the next checkpoint, so a restart makes the same decision. Returns the
    /// partitions advanced, with their new watermark, for the log.
    mutating func tick(now: ContinuousClock.Instant, wallClock: Int64, idleMilliseconds: Int64?,
                       highWatermark: (KafkaTopicPartition) -> Int64?) -> [(KafkaTopicPartition, Timestamp)] {
        guard !isCommitting else {
            _ = illegal("tick")
            return []
        }
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

    /// Closes every open window of every partition, as if time had moved far on (the end of a replay); their final
    /// totals are then taken with `takeClosedWindows`.
    mutating func closeAllWindows() {
        for slot in partitions.indices {
            partitions[slot].context.replaying = false
            partitions[slot].context.watermark = Timestamp(milliseconds: .max / 2)
            partitions[slot].flow.watermarkAdvanced(context: partitions[slot].context)
        }
    }

    // MARK: Failures

    /// Poisons the state (see the type's documentation); the first error is kept.
    private mutating func poison(_ error: String) {
        switch transaction {
        case .empty(let before), .holding(_, _, let before), .committing(_, _, _, let before), .deadLetterFailed(_, let before):
            transaction = .failed(error, committedBefore: before)
        case .failed:
            break
        }
    }

    /// An event came in a state where it cannot happen: a bug of the driver. Stops a debug build; a release build is
    /// poisoned, so nothing is committed after it and a restart restores the last committed state. Returns the reason.
    private mutating func illegal(_ event: String) -> String {
        let reason = "\(event) cannot happen while the transaction is \(transaction.name) (a bug)"
        assertionFailure(reason)
        poison(reason)
        return reason
    }

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

    /// Forgets revoked partitions, keeping them aside until the next assignment in case they come straight back.
    private mutating func forget(_ gone: [KafkaTopicPartition]) {
        revoked = [:]
        for tp in gone {
            if let partition = remove(tp) { revoked[tp] = partition }
        }
    }
}
