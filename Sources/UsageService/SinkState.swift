import Kafka
import UsageStandard

/// The PostgreSQL sink's state, without I/O: the totals read but not yet written, the offsets to commit after them,
/// and the retry schedule. `PostgresSinkLoop` performs what `next` asks for.
///
/// Liveness is the point of this type: whatever happens to the database, the driver polls the consumer at least every
/// `idlePoll` (so the group never evicts the member for not polling), and while writes fail it waits for the backoff
/// in those polls instead of spinning; reading pauses while a full batch waits or writes fail, so memory stays bounded.
struct SinkState {
    /// What the driver does next, in this order: pause or resume reading, write the pending batch, then poll.
    struct Step: Equatable {
        /// Pause (true) or resume (false) every assigned partition; nil: leave as is.
        var pause: Bool?
        /// Write the pending totals now (then call `written` or `writeFailed`).
        var write: Bool
        /// How long the poll after may wait for records.
        var pollTimeout: Duration
    }

    /// Totals are written once this many wait, or as soon as a poll finds nothing more to read.
    let writeBatch: Int
    /// Reading pauses once this many totals wait to be written (they only pile up beyond `writeBatch` while writes fail).
    let maxBatch: Int
    /// The longest a poll waits.
    let idlePoll: Duration
    /// Totals read but not yet written, and the offset after the last record read, per partition.
    private(set) var pending: [KafkaTopicPartition: [UsageTotal]] = [:]
    private(set) var pendingCount = 0
    private(set) var pendingOffsets: [KafkaTopicPartition: Int64] = [:]
    private(set) var paused = false
    /// Whether the last poll returned records (so more may be waiting: keep reading into the batch).
    private var moreWaiting = false
    /// Whether the last write failed.
    private(set) var failing = false
    private(set) var backoff: Duration
    private var nextAttempt: ContinuousClock.Instant?
    private let firstBackoff: Duration
    private let maxBackoff: Duration

    init(writeBatch: Int = 20_000, maxBatch: Int = 50_000, idlePoll: Duration = .milliseconds(100), firstBackoff: Duration = .milliseconds(500),
         maxBackoff: Duration = .seconds(10)) {
        self.writeBatch = writeBatch
        self.maxBatch = maxBatch
        self.idlePoll = idlePoll
        self.firstBackoff = firstBackoff
        self.maxBackoff = maxBackoff
        backoff = firstBackoff
    }

    /// A record of the totals topic was read: `total` is its total (nil for a record with nothing to copy).
    mutating func read(_ tp: KafkaTopicPartition, offset: Int64, total: UsageTotal?) {
        pendingOffsets[tp] = offset + 1
        guard let total else { return }
        pending[tp, default: []].append(total)
        pendingCount += 1
    }

    /// A poll returned `records` records (totals or not).
    mutating func polled(records: Int) { moreWaiting = records > 0 }

    /// Partitions were revoked or lost: what was read from them is forgotten (their offsets were not committed, so
    /// the next owner reads it again).
    mutating func revoked(_ gone: [KafkaTopicPartition]) {
        for tp in gone {
            pendingCount -= pending.removeValue(forKey: tp)?.count ?? 0
            pendingOffsets[tp] = nil
        }
    }

    /// What to do at `now`.
    mutating func next(now: ContinuousClock.Instant) -> Step {
        // Large batches cost PostgreSQL less per row; a poll that finds nothing more ends the batch, so a trickle
        // is written at once.
        let ready = pendingCount >= writeBatch || !moreWaiting
        let due = !pendingOffsets.isEmpty && ready && nextAttempt.map { now >= $0 } ?? true
        // While writes fail, reading waits, but only while something waits to be written: a rebalance may take
        // the pending totals away (to another member), and a sink that stayed paused then would never read, never
        // write and never find out that the database is back.
        let shouldPause = (failing && !pendingOffsets.isEmpty) || pendingCount >= maxBatch
        var step = Step(pause: nil, write: due, pollTimeout: idlePoll)
        if shouldPause != paused {
            step.pause = shouldPause
            paused = shouldPause
        }
        if due {
            step.pollTimeout = .zero
        } else if let nextAttempt, !pendingOffsets.isEmpty {
            step.pollTimeout = max(.zero, min(idlePoll, nextAttempt - now))
        } else if !pendingOffsets.isEmpty {
            step.pollTimeout = .zero
        }
        return step
    }

    /// The pending totals were written: returns the offsets to commit, and forgets them.
    mutating func written() -> [KafkaCommittedOffset] {
        let offsets = pendingOffsets.map { KafkaCommittedOffset($0.key, offset: $0.value) }
        pending.removeAll(keepingCapacity: true)
        pendingCount = 0
        pendingOffsets.removeAll()
        failing = false
        backoff = firstBackoff
        nextAttempt = nil
        return offsets
    }

    /// A write failed at `now`: the batch is kept and retried after the backoff (doubling up to `maxBackoff`).
    /// Returns how long until the retry.
    mutating func writeFailed(now: ContinuousClock.Instant) -> Duration {
        failing = true
        let wait = backoff
        nextAttempt = now + wait
        backoff = min(backoff * 2, maxBackoff)
        return wait
    }

    /// What to do about a refused offset commit. Refused commits lose nothing (the rows are written, and whoever
    /// reads them again rewrites them harmlessly), so they are said once, not per batch.
    enum CommitRefusal: Equatable {
        /// Say it now (once until the next assignment).
        case say
        /// Said already.
        case silent
        /// Reading outside group management, and the group has members (another ferris-usage, or one that was killed
        /// and whose session the broker has not expired): every commit of this run would be refused, so stop
        /// committing and say so once.
        case stopCommitting
    }

    /// Whether offsets are still committed (see `commitRefused`).
    private(set) var commitsEnabled = true
    private var refusalSaid = false

    /// A commit was refused; `notMember` when the coordinator said the committer is not a member of the group's
    /// current generation, `outsideGroup` when this sink reads without group management.
    mutating func commitRefused(notMember: Bool, outsideGroup: Bool) -> CommitRefusal {
        if notMember && outsideGroup {
            commitsEnabled = false
            return .stopCommitting
        }
        guard !refusalSaid else { return .silent }
        refusalSaid = true
        return .say
    }

    /// Partitions were assigned: a refused commit is said again if it happens.
    mutating func assigned() { refusalSaid = false }

    /// Every total in hand, for a write.
    var batch: [UsageTotal] { pending.values.flatMap { $0 } }
}
