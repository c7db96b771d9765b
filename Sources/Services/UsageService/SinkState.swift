import Kafka
import ProcessSupport
import UsageStandard

/// The PostgreSQL sink as a state machine without I/O: events in, actions out. `PostgresSinkLoop` reports what
/// happened (a poll, a write, a rebalance, a stop request, the broker's end offsets) and performs the action each
/// event returns; `next(now:)` says what to do when nothing happened. Time comes in with the events, so tests drive it.
///
/// Liveness is the point of this type: whatever happens to the database, the driver polls the consumer at least every
/// `idlePoll` (so the group never evicts the member for not polling), and while writes fail it waits for the backoff
/// in those polls instead of spinning; reading pauses while a full batch waits or writes fail, so memory stays bounded.
///
/// Two enums hold the state. `lifecycle` is how writing goes; `finish` is how the run may end besides a stop (the
/// accounting loop finishing, then the totals topic's end offsets asked of the broker after it).
/// The bulk data (totals and offsets read, per partition) are plain stored properties, so a read copies no enum
/// payload. What each event does in each state (`!`: cannot happen: asserts in debug builds, and in release does what
/// the row's note says; events not listed change nothing in that state):
///
/// | lifecycle      | next(now:)                        | written()          | writeFailed(now:)      | stopRequested(now:) |
/// |----------------|-----------------------------------|--------------------|------------------------|---------------------|
/// | reading        | pause/resume, write, checks, poll | ! none             | ! none                 | stopping(+10 s)     |
/// | writing(from)  | ! as writeFailed                  | back to from, commit | waitingToRetry (from stopping: done, stop) | ! none |
/// | waitingToRetry | as reading, write once due        | ! none             | ! none                 | done, stop          |
/// | stopping       | as reading; done, stop at deadline | ! none            | ! none                 | none                |
/// | done           | ! stop                            | ! none             | ! none                 | stop                |
///
/// | finish             | accountingFinished(now:)          | endOffsets(_:now:)     | endOffsetsFailed(now:) | next(now:)        |
/// |--------------------|-----------------------------------|------------------------|------------------------|-------------------|
/// | accountingRunning  | askingEnds, ask                   | ! none                 | ! none                 | -                 |
/// | endsToAsk(at)      | none                              | ! none                 | ! none                 | askingEnds, ask at `at` |
/// | askingEnds         | none                              | ends(warnAt: +30 s)    | endsToAsk(+1 s)        | -                 |
/// | ends(warnAt)       | none                              | ! none                 | ! none                 | end check (until caught up, or stopping); warn at warnAt, once |
///
/// `read` and `polled` only record data; `revoked` and `assigned` may pause or resume; `caughtUp` answers a
/// `checkCaughtUp` (true: done, stop); `commitRefused` answers a refused commit in any state.
struct SinkState {
    /// How writing goes.
    enum Lifecycle: Equatable {
        /// Reading, and writing when a batch is ready; the last write (if any) succeeded.
        case reading
        /// The driver is writing the batch; `from` is the state the write started in.
        case writing(from: WriteStart)
        /// The last write failed: the batch is kept, reading pauses while it waits, and it is retried at `at`.
        case waitingToRetry(at: ContinuousClock.Instant)
        /// The pipeline stops: what the accounting loop committed last is copied first, until `deadline` at most.
        case stopping(deadline: ContinuousClock.Instant)
        /// The loop has ended.
        case done
    }

    /// The state a write started in (where it goes back to).
    enum WriteStart: Equatable {
        case reading
        case retrying
        case stopping(deadline: ContinuousClock.Instant)
    }

    /// How the run may end besides a stop request.
    enum Finish: Equatable {
        /// The accounting loop still runs.
        case accountingRunning
        /// The accounting loop finished: the end offsets are to be asked of the broker at `at` (again, after a failure).
        case endsToAsk(at: ContinuousClock.Instant)
        /// The accounting loop finished: the driver asks the broker the end offsets.
        case askingEnds
        /// The run (until caught up, or a graceful stop) ends once everything below these offsets is written; if that
        /// takes until `warnAt`, say that another producer's open transaction holds the end back (once).
        case ends([KafkaTopicPartition: Int64], warnAt: ContinuousClock.Instant?)
    }

    /// Totals are written once this many wait, or as soon as a poll finds nothing more to read.
    let writeBatch: Int
    /// Reading pauses once this many totals wait to be written (they only pile up beyond `writeBatch` while writes fail).
    let maxBatch: Int
    /// The longest a poll waits.
    let idlePoll: Duration
    /// Whether the run ends once everything the accounting loop committed is written (end offsets asked of the broker).
    let untilCaughtUp: Bool
    /// How long a graceful stop may go on copying.
    static let stopGrace: Duration = .seconds(10)
    /// How long after a failure the end offsets are asked again.
    static let endsRetry: Duration = .seconds(1)
    /// How long after the end offsets were asked an unreached end is said.
    static let heldBackWarning: Duration = .seconds(30)

    private(set) var lifecycle: Lifecycle = .reading
    private(set) var finish: Finish = .accountingRunning
    /// Totals read but not yet written, and the offset after the last record read, per partition.
    private(set) var pending: [KafkaTopicPartition: [UsageTotal]] = [:]
    private(set) var pendingCount = 0
    private(set) var pendingOffsets: [KafkaTopicPartition: Int64] = [:]
    /// Records read so far: a write covers exactly the records read before it started.
    private var reads = 0
    /// `reads` when the write in flight started.
    private var readsAtWrite = 0
    /// Whether the driver paused every assigned partition.
    private(set) var paused = false
    /// Whether the last poll returned records (so more may be waiting: keep reading into the batch).
    private var moreWaiting = false
    /// Whether `checkCaughtUp` was asked since the last poll (the answer only changes with a poll).
    private var checkedSincePoll = false
    private var retry: RetryBackoff
    private var commits = Commits.committing

    init(writeBatch: Int = 20_000, maxBatch: Int = 50_000, idlePoll: Duration = .milliseconds(100), untilCaughtUp: Bool = false,
         retry: RetryBackoff = RetryBackoff(initial: .milliseconds(500), maximum: .seconds(10))) {
        self.writeBatch = writeBatch
        self.maxBatch = maxBatch
        self.idlePoll = idlePoll
        self.untilCaughtUp = untilCaughtUp
        self.retry = retry
    }

    /// Every total in hand, for a write.
    var batch: [UsageTotal] { pending.values.flatMap { $0 } }

    /// The wait the next failed write gets (0.5 s doubling to 10 s; back to 0.5 s after a success).
    var backoff: Duration {
        var next = retry
        return next.failed()
    }

    // MARK: Data

    /// A record of the totals topic was read: `total` is its total (nil for a record with nothing to copy).
    mutating func read(_ tp: KafkaTopicPartition, offset: Int64, total: UsageTotal?) {
        reads &+= 1
        pendingOffsets[tp] = offset + 1
        guard let total else { return }
        pending[tp, default: []].append(total)
        pendingCount += 1
    }

    /// A poll returned `records` records (totals or not).
    mutating func polled(records: Int) {
        moreWaiting = records > 0
        checkedSincePoll = false
    }

    // MARK: Events

    /// What to do at `now` when no event asked for something.
    mutating func next(now: ContinuousClock.Instant) -> Action {
        var retryAt: ContinuousClock.Instant?
        switch lifecycle {
        case .done:
            illegal("next after the loop ended")
            return .stop
        case .writing:
            // Release: a write whose outcome was never reported is taken as failed (its batch is kept, nothing is
            // committed, and it is written again after the backoff).
            illegal("next while a write is in flight")
            if writeFailed(now: now) == .stop { return .stop }
            return next(now: now)
        case .stopping(let deadline) where now >= deadline:
            lifecycle = .done
            return .stop
        case .waitingToRetry(let at):
            retryAt = at
        case .reading, .stopping:
            break
        }
        if case .endsToAsk(let at) = finish, now >= at {
            finish = .askingEnds
            return .askEndOffsets
        }
        if pendingOffsets.isEmpty, !checkedSincePoll, let check = caughtUpCheck {
            checkedSincePoll = true
            return check
        }
        if case .ends(let targets, let warnAt?) = finish, now >= warnAt {
            finish = .ends(targets, warnAt: nil)
            return .warnEndHeldBack(targets)
        }
        if let change = pauseChange() { return change }
        // Large batches cost PostgreSQL less per row; a poll that finds nothing more ends the batch, so a trickle
        // is written at once.
        let ready = pendingCount >= writeBatch || !moreWaiting
        if !pendingOffsets.isEmpty, ready, retryAt.map({ now >= $0 }) ?? true {
            let start: WriteStart = switch lifecycle {
            case .stopping(let deadline): .stopping(deadline: deadline)
            case .waitingToRetry: .retrying
            default: .reading
            }
            lifecycle = .writing(from: start)
            readsAtWrite = reads
            return .write(retrying: start == .retrying)
        }
        if pendingOffsets.isEmpty { return .poll(timeout: idlePoll) }
        // Something waits: read on at once, or, while a retry waits, poll until it is due (at most `idlePoll`).
        guard let retryAt else { return .poll(timeout: .zero) }
        return .poll(timeout: max(.zero, min(idlePoll, retryAt - now)))
    }

    /// The batch was written: commit its offsets, and forget it.
    mutating func written() -> Action {
        guard case .writing(let start) = lifecycle else {
            illegal("written without a write in flight")
            return .none
        }
        retry.succeeded()
        lifecycle = if case .stopping(let deadline) = start { .stopping(deadline: deadline) } else { .reading }
        guard reads == readsAtWrite else {
            // Release: records read during the write are not in it; keep everything (rewriting rows is harmless).
            illegal("records read while a write was in flight")
            return .none
        }
        let offsets = pendingOffsets.map { KafkaCommittedOffset($0.key, offset: $0.value) }
        pending.removeAll(keepingCapacity: true)
        pendingCount = 0
        pendingOffsets.removeAll()
        return commits == .stopped ? .none : .commit(offsets)
    }

    /// The write failed at `now`: the batch is kept and retried after the backoff (0.5 s doubling to 10 s), unless
    /// the pipeline stops: then the loop ends (the offsets are not committed; the next run copies the batch).
    mutating func writeFailed(now: ContinuousClock.Instant) -> Action {
        guard case .writing(let start) = lifecycle else {
            illegal("writeFailed without a write in flight")
            return .none
        }
        let wait = retry.failed()
        if case .stopping = start {
            lifecycle = .done
            return .stop
        }
        lifecycle = .waitingToRetry(at: now + wait)
        return .retryWrite(in: wait)
    }

    /// The pipeline stops: copy what the accounting loop committed last, for `stopGrace` at most, and not while
    /// writes fail. Repeated requests change nothing.
    mutating func stopRequested(now: ContinuousClock.Instant) -> Action {
        switch lifecycle {
        case .reading:
            lifecycle = .stopping(deadline: now + Self.stopGrace)
            return .none
        case .waitingToRetry, .done:
            lifecycle = .done
            return .stop
        case .stopping:
            return .none
        case .writing:
            // Release: ignored; the driver asks again before its next action.
            illegal("stopRequested while a write is in flight")
            return .none
        }
    }

    /// The accounting loop finished (committed its last transaction) at `now`: the end offsets are asked now, so every
    /// total it wrote lies below them, for a run until caught up and for a graceful stop alike. (A partition's end as
    /// the consumer last saw it may predate that transaction: a sink that trusted it stopped before copying it.)
    /// Repeated calls change nothing.
    mutating func accountingFinished(now: ContinuousClock.Instant) -> Action {
        guard finish == .accountingRunning, lifecycle != .done else { return .none }
        finish = .askingEnds
        return .askEndOffsets
    }

    /// The broker answered `askEndOffsets` at `now`.
    mutating func endOffsets(_ ends: [KafkaTopicPartition: Int64], now: ContinuousClock.Instant) -> Action {
        guard finish == .askingEnds else {
            illegal("endOffsets without asking")
            return .none
        }
        finish = .ends(ends, warnAt: now + Self.heldBackWarning)
        return .none
    }

    /// Asking the end offsets failed at `now`: they are asked again a second later.
    mutating func endOffsetsFailed(now: ContinuousClock.Instant) -> Action {
        guard finish == .askingEnds else {
            illegal("endOffsetsFailed without asking")
            return .none
        }
        finish = .endsToAsk(at: now + Self.endsRetry)
        return .retryEndOffsets(in: Self.endsRetry)
    }

    /// The answer to `checkCaughtUp`: true ends the loop (everything read is written).
    mutating func caughtUp(_ yes: Bool) -> Action {
        guard checkedSincePoll, pendingOffsets.isEmpty, caughtUpCheck != nil else {
            // Release: an answer to a question not asked ends nothing.
            illegal("caughtUp without checkCaughtUp")
            return .none
        }
        guard yes else { return .none }
        lifecycle = .done
        return .stop
    }

    /// Partitions were revoked or lost (or their assignment failed): what was read from them is forgotten (their
    /// offsets were not committed, so the next owner reads it again). Reading resumes if nothing is left to wait for.
    mutating func revoked(_ gone: [KafkaTopicPartition]) -> Action {
        if case .writing = lifecycle {
            // Release: nothing is forgotten; the write's commit is refused for the partitions no longer owned.
            illegal("revoked while a write is in flight")
            return .none
        }
        for tp in gone {
            pendingCount -= pending.removeValue(forKey: tp)?.count ?? 0
            pendingOffsets[tp] = nil
        }
        return pauseChange() ?? .none
    }

    /// Partitions were assigned (`added`: those still assigned once the rebalance is over): they are paused or
    /// resumed to match the others, and a refused commit is said again if it happens.
    mutating func assigned(_ added: [KafkaTopicPartition]) -> Action {
        if commits == .refusalSaid { commits = .committing }
        guard !added.isEmpty else { return .none }
        return paused ? .pausePartitions(added) : .resumePartitions(added)
    }

    // MARK: Refused commits

    /// Whether offsets are still committed (see `commitRefused`).
    var commitsEnabled: Bool { commits != .stopped }

    /// A commit was refused; `notMember` when the coordinator said the committer is not a member of the group's
    /// current generation, `outsideGroup` when this sink reads without group management.
    mutating func commitRefused(notMember: Bool, outsideGroup: Bool) -> CommitRefusal {
        if notMember && outsideGroup {
            commits = .stopped
            return .stopCommitting
        }
        guard commits == .committing else { return .silent }
        commits = .refusalSaid
        return .say
    }

    // MARK: Helpers

    private enum Commits: Equatable {
        case committing
        /// A refusal was said since the last assignment.
        case refusalSaid
        /// Commits are off for the run.
        case stopped
    }

    /// The end check `next` asks for, if any: once the broker's end offsets after the accounting's last transaction
    /// are known, in a run until caught up or a graceful stop (a stop without them ends at its deadline). Needs nothing
    /// pending.
    private var caughtUpCheck: Action? {
        guard case .ends(let targets, _) = finish else { return nil }
        let stopping = if case .stopping = lifecycle { true } else { false }
        return untilCaughtUp || stopping ? .checkCaughtUp(readUpTo: targets) : nil
    }

    /// Pauses reading while writes fail with something pending or while `maxBatch` totals wait; resumes otherwise.
    /// While writes fail, reading waits only while something waits to be written: a rebalance may take the pending
    /// totals away (to another member), and a sink that stayed paused then would never read, never write and never
    /// find out that the database is back.
    private mutating func pauseChange() -> Action? {
        let failing = if case .waitingToRetry = lifecycle { true } else { false }
        let shouldPause = (failing && !pendingOffsets.isEmpty) || pendingCount >= maxBatch
        guard shouldPause != paused else { return nil }
        paused = shouldPause
        return shouldPause ? .pause : .resume
    }

    private func illegal(_ event: String) {
        assertionFailure("PostgreSQL sink: \(event) (state \(lifecycle), \(finish))")
    }
}
